package fhirpath

// resourceTypes is the set of the 146 concrete FHIR R4 resource types.
var resourceTypes = makeSet(
	"Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment",
	"AppointmentResponse", "AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct",
	"BodyStructure", "Bundle", "CapabilityStatement", "CarePlan", "CareTeam", "CatalogEntry",
	"ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse", "ClinicalImpression", "CodeSystem",
	"Communication", "CommunicationRequest", "CompartmentDefinition", "Composition", "ConceptMap",
	"Condition", "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
	"CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric",
	"DeviceRequest", "DeviceUseStatement", "DiagnosticReport", "DocumentManifest", "DocumentReference",
	"EffectEvidenceSynthesis", "Encounter", "Endpoint", "EnrollmentRequest", "EnrollmentResponse",
	"EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceVariable", "ExampleScenario",
	"ExplanationOfBenefit", "FamilyMemberHistory", "Flag", "Goal", "GraphDefinition", "Group",
	"GuidanceResponse", "HealthcareService", "ImagingStudy", "Immunization", "ImmunizationEvaluation",
	"ImmunizationRecommendation", "ImplementationGuide", "InsurancePlan", "Invoice", "Library",
	"Linkage", "List", "Location", "Measure", "MeasureReport", "Media", "Medication",
	"MedicationAdministration", "MedicationDispense", "MedicationKnowledge", "MedicationRequest",
	"MedicationStatement", "MedicinalProduct", "MedicinalProductAuthorization",
	"MedicinalProductContraindication", "MedicinalProductIndication", "MedicinalProductIngredient",
	"MedicinalProductInteraction", "MedicinalProductManufactured", "MedicinalProductPackaged",
	"MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect", "MessageDefinition",
	"MessageHeader", "MolecularSequence", "NamingSystem", "NutritionOrder", "Observation",
	"ObservationDefinition", "OperationDefinition", "OperationOutcome", "Organization",
	"OrganizationAffiliation", "Parameters", "Patient", "PaymentNotice", "PaymentReconciliation",
	"Person", "PlanDefinition", "Practitioner", "PractitionerRole", "Procedure", "Provenance",
	"Questionnaire", "QuestionnaireResponse", "RelatedPerson", "RequestGroup", "ResearchDefinition",
	"ResearchElementDefinition", "ResearchStudy", "ResearchSubject", "RiskAssessment",
	"RiskEvidenceSynthesis", "Schedule", "SearchParameter", "ServiceRequest", "Slot", "Specimen",
	"SpecimenDefinition", "StructureDefinition", "StructureMap", "Subscription", "Substance",
	"SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein", "SubstanceReferenceInformation",
	"SubstanceSourceMaterial", "SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task",
	"TerminologyCapabilities", "TestReport", "TestScript", "ValueSet", "VerificationResult",
	"VisionPrescription",
)

// choiceSuffixes maps the upper-case suffix of a choice element's JSON key (valueQuantity,
// deceasedBoolean, ...) to the FHIR type name it denotes. Primitive types have lower-case names.
var choiceSuffixes = map[string]string{
	"Address": "Address", "Age": "Age", "Annotation": "Annotation", "Attachment": "Attachment",
	"Base64Binary": "base64Binary", "Boolean": "boolean", "Canonical": "canonical", "Code": "code",
	"CodeableConcept": "CodeableConcept", "Coding": "Coding", "ContactDetail": "ContactDetail",
	"ContactPoint": "ContactPoint", "Contributor": "Contributor", "Count": "Count",
	"DataRequirement": "DataRequirement", "Date": "date", "DateTime": "dateTime", "Decimal": "decimal",
	"Distance": "Distance", "Dosage": "Dosage", "Duration": "Duration", "Expression": "Expression",
	"HumanName": "HumanName", "Id": "id", "Identifier": "Identifier", "Instant": "instant",
	"Integer": "integer", "Markdown": "markdown", "Meta": "Meta", "Money": "Money", "Oid": "oid",
	"ParameterDefinition": "ParameterDefinition", "Period": "Period", "PositiveInt": "positiveInt",
	"Quantity": "Quantity", "Range": "Range", "Ratio": "Ratio", "Reference": "Reference",
	"RelatedArtifact": "RelatedArtifact", "SampledData": "SampledData", "Signature": "Signature",
	"String": "string", "Time": "time", "Timing": "Timing", "TriggerDefinition": "TriggerDefinition",
	"UnsignedInt": "unsignedInt", "Uri": "uri", "Url": "url", "UsageContext": "UsageContext",
	"Uuid": "uuid", "Xhtml": "xhtml",
}

// typeSuffixes is the inverse of choiceSuffixes: FHIR type name to JSON key suffix.
var typeSuffixes = func() map[string]string {
	m := make(map[string]string, len(choiceSuffixes))
	for suffix, typ := range choiceSuffixes {
		m[typ] = suffix
	}
	return m
}()

// ChoiceSuffix returns the suffix that a choice element of the given FHIR type carries in JSON
// ("Quantity" for Quantity, "DateTime" for dateTime), and whether typ is a known choice type.
func ChoiceSuffix(typ string) (string, bool) {
	s, ok := typeSuffixes[typ]
	return s, ok
}

// ChoiceType splits a JSON key such as "valueQuantity" into the element name ("value") and the FHIR
// type ("Quantity"), when the key ends in an upper-case data type suffix after a non-empty name.
func ChoiceType(key string) (name, typ string, ok bool) {
	for i := 1; i < len(key); i++ {
		if c := key[i]; c >= 'A' && c <= 'Z' {
			if t, found := choiceSuffixes[key[i:]]; found {
				return key[:i], t, true
			}
		}
	}
	return "", "", false
}

// IsResourceType reports whether name is one of the concrete R4 resource types.
func IsResourceType(name string) bool {
	_, ok := resourceTypes[name]
	return ok
}

// parentTypes lists, for the FHIR types that specialise another one, the types they are also
// instances of (for is/as/ofType).
var parentTypes = map[string][]string{
	"Age": {"Quantity"}, "Count": {"Quantity"}, "Distance": {"Quantity"}, "Duration": {"Quantity"},
	"MoneyQuantity": {"Quantity"}, "SimpleQuantity": {"Quantity"},
	"code": {"string"}, "id": {"string"}, "markdown": {"string"},
	"url": {"uri"}, "canonical": {"uri"}, "oid": {"uri"}, "uuid": {"uri"},
	"positiveInt": {"integer"}, "unsignedInt": {"integer"},
}

// systemTypes maps the FHIRPath System types to the FHIR types that convert to them.
var systemTypes = map[string]map[string]struct{}{
	"String": makeSet("string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid",
		"base64Binary", "xhtml"),
	"Boolean":  makeSet("boolean"),
	"Integer":  makeSet("integer", "positiveInt", "unsignedInt"),
	"Decimal":  makeSet("decimal"),
	"Date":     makeSet("date"),
	"DateTime": makeSet("dateTime", "instant"),
	"Time":     makeSet("time"),
	"Quantity": makeSet("Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"),
}

// typeSpec is a parsed type specifier: an optional namespace (FHIR or System) and a name.
type typeSpec struct {
	ns   string
	name string
}

func (t typeSpec) String() string {
	if t.ns != "" {
		return t.ns + "." + t.name
	}
	return t.name
}

func makeSet(names ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		m[n] = struct{}{}
	}
	return m
}
