package population

import "encoding/json"

// The JSON shapes of the FHIR R4 elements and resources the generator writes. Field order follows the
// order of the R4 element definitions, so the output reads like the specification's examples; every
// resource struct starts with its resourceType. Decimals are json.Number so that their precision is the
// one written (37.0 stays 37.0).

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type concept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type reference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

type identifier struct {
	Use    string   `json:"use,omitempty"`
	Type   *concept `json:"type,omitempty"`
	System string   `json:"system,omitempty"`
	Value  string   `json:"value,omitempty"`
}

type period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type quantity struct {
	Value  json.Number `json:"value"`
	Unit   string      `json:"unit,omitempty"`
	System string      `json:"system,omitempty"`
	Code   string      `json:"code,omitempty"`
}

type meta struct {
	Security []coding `json:"security,omitempty"`
}

type humanName struct {
	Use    string   `json:"use,omitempty"`
	Text   string   `json:"text,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
	Prefix []string `json:"prefix,omitempty"`
}

type address struct {
	Use        string   `json:"use,omitempty"`
	Type       string   `json:"type,omitempty"`
	Line       []string `json:"line,omitempty"`
	City       string   `json:"city,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
	Country    string   `json:"country,omitempty"`
}

type contactPoint struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
	Use    string `json:"use,omitempty"`
}

// Bundle.

type bundle struct {
	ResourceType string  `json:"resourceType"`
	Type         string  `json:"type"`
	Entry        []entry `json:"entry"`
}

type entry struct {
	FullURL  string       `json:"fullUrl"`
	Resource any          `json:"resource"`
	Request  entryRequest `json:"request"`
}

type entryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// Organization.

type organization struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Identifier   []identifier   `json:"identifier,omitempty"`
	Active       bool           `json:"active"`
	Type         []concept      `json:"type,omitempty"`
	Name         string         `json:"name"`
	Telecom      []contactPoint `json:"telecom,omitempty"`
	Address      []address      `json:"address,omitempty"`
}

// Practitioner and PractitionerRole.

type practitioner struct {
	ResourceType  string          `json:"resourceType"`
	ID            string          `json:"id"`
	Identifier    []identifier    `json:"identifier,omitempty"`
	Active        bool            `json:"active"`
	Name          []humanName     `json:"name,omitempty"`
	Telecom       []contactPoint  `json:"telecom,omitempty"`
	Gender        string          `json:"gender,omitempty"`
	Qualification []qualification `json:"qualification,omitempty"`
}

type qualification struct {
	Code concept `json:"code"`
}

type practitionerRole struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Active       bool           `json:"active"`
	Period       *period        `json:"period,omitempty"`
	Practitioner reference      `json:"practitioner"`
	Organization reference      `json:"organization"`
	Code         []concept      `json:"code,omitempty"`
	Specialty    []concept      `json:"specialty,omitempty"`
	Telecom      []contactPoint `json:"telecom,omitempty"`
}

// Patient.

type patient struct {
	ResourceType         string         `json:"resourceType"`
	ID                   string         `json:"id"`
	Identifier           []identifier   `json:"identifier,omitempty"`
	Active               bool           `json:"active"`
	Name                 []humanName    `json:"name,omitempty"`
	Telecom              []contactPoint `json:"telecom,omitempty"`
	Gender               string         `json:"gender,omitempty"`
	BirthDate            string         `json:"birthDate,omitempty"`
	Address              []address      `json:"address,omitempty"`
	MaritalStatus        *concept       `json:"maritalStatus,omitempty"`
	GeneralPractitioner  []reference    `json:"generalPractitioner,omitempty"`
	ManagingOrganization *reference     `json:"managingOrganization,omitempty"`
}

// Encounter.

type encounter struct {
	ResourceType    string                 `json:"resourceType"`
	ID              string                 `json:"id"`
	Meta            *meta                  `json:"meta,omitempty"`
	Status          string                 `json:"status"`
	Class           coding                 `json:"class"`
	Type            []concept              `json:"type,omitempty"`
	Subject         reference              `json:"subject"`
	Participant     []encounterParticipant `json:"participant,omitempty"`
	Period          period                 `json:"period"`
	ReasonCode      []concept              `json:"reasonCode,omitempty"`
	ReasonReference []reference            `json:"reasonReference,omitempty"`
	Hospitalization *hospitalization       `json:"hospitalization,omitempty"`
	ServiceProvider reference              `json:"serviceProvider"`
}

type encounterParticipant struct {
	Type       []concept `json:"type,omitempty"`
	Individual reference `json:"individual"`
}

type hospitalization struct {
	DischargeDisposition *concept `json:"dischargeDisposition,omitempty"`
}

// Observation.

type observation struct {
	ResourceType         string           `json:"resourceType"`
	ID                   string           `json:"id"`
	Meta                 *meta            `json:"meta,omitempty"`
	Status               string           `json:"status"`
	Category             []concept        `json:"category"`
	Code                 concept          `json:"code"`
	Subject              reference        `json:"subject"`
	Encounter            *reference       `json:"encounter,omitempty"`
	EffectiveDateTime    string           `json:"effectiveDateTime"`
	Issued               string           `json:"issued,omitempty"`
	Performer            []reference      `json:"performer,omitempty"`
	ValueQuantity        *quantity        `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *concept         `json:"valueCodeableConcept,omitempty"`
	Interpretation       []concept        `json:"interpretation,omitempty"`
	ReferenceRange       []referenceRange `json:"referenceRange,omitempty"`
	Component            []component      `json:"component,omitempty"`
}

type referenceRange struct {
	Low  *quantity `json:"low,omitempty"`
	High *quantity `json:"high,omitempty"`
}

type component struct {
	Code          concept   `json:"code"`
	ValueQuantity *quantity `json:"valueQuantity,omitempty"`
}

// Condition.

type condition struct {
	ResourceType       string     `json:"resourceType"`
	ID                 string     `json:"id"`
	Meta               *meta      `json:"meta,omitempty"`
	ClinicalStatus     concept    `json:"clinicalStatus"`
	VerificationStatus concept    `json:"verificationStatus"`
	Category           []concept  `json:"category"`
	Code               concept    `json:"code"`
	Subject            reference  `json:"subject"`
	Encounter          *reference `json:"encounter,omitempty"`
	OnsetDateTime      string     `json:"onsetDateTime,omitempty"`
	AbatementDateTime  string     `json:"abatementDateTime,omitempty"`
	RecordedDate       string     `json:"recordedDate,omitempty"`
	Recorder           *reference `json:"recorder,omitempty"`
}

// MedicationRequest.

type medicationRequest struct {
	ResourceType              string      `json:"resourceType"`
	ID                        string      `json:"id"`
	Meta                      *meta       `json:"meta,omitempty"`
	Status                    string      `json:"status"`
	Intent                    string      `json:"intent"`
	MedicationCodeableConcept concept     `json:"medicationCodeableConcept"`
	Subject                   reference   `json:"subject"`
	Encounter                 *reference  `json:"encounter,omitempty"`
	AuthoredOn                string      `json:"authoredOn"`
	Requester                 reference   `json:"requester"`
	ReasonReference           []reference `json:"reasonReference,omitempty"`
	CourseOfTherapyType       *concept    `json:"courseOfTherapyType,omitempty"`
	DosageInstruction         []dosage    `json:"dosageInstruction,omitempty"`
}

type dosage struct {
	Sequence        int           `json:"sequence,omitempty"`
	Text            string        `json:"text,omitempty"`
	Timing          *timing       `json:"timing,omitempty"`
	AsNeededBoolean bool          `json:"asNeededBoolean,omitempty"`
	Route           *concept      `json:"route,omitempty"`
	DoseAndRate     []doseAndRate `json:"doseAndRate,omitempty"`
}

type timing struct {
	Repeat timingRepeat `json:"repeat"`
}

type timingRepeat struct {
	Frequency  int    `json:"frequency,omitempty"`
	Period     int    `json:"period,omitempty"`
	PeriodUnit string `json:"periodUnit,omitempty"`
}

type doseAndRate struct {
	DoseQuantity *quantity `json:"doseQuantity,omitempty"`
}

// Consent.

type consent struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id"`
	Status       string      `json:"status"`
	Scope        concept     `json:"scope"`
	Category     []concept   `json:"category"`
	Patient      reference   `json:"patient"`
	DateTime     string      `json:"dateTime"`
	Performer    []reference `json:"performer,omitempty"`
	Organization []reference `json:"organization,omitempty"`
	Policy       []policy    `json:"policy,omitempty"`
	PolicyRule   *concept    `json:"policyRule,omitempty"`
	Provision    *provision  `json:"provision"`
}

type policy struct {
	URI string `json:"uri"`
}

type provision struct {
	Type          string      `json:"type"`
	Period        *period     `json:"period,omitempty"`
	Actor         []actor     `json:"actor,omitempty"`
	SecurityLabel []coding    `json:"securityLabel,omitempty"`
	Purpose       []coding    `json:"purpose,omitempty"`
	Provision     []provision `json:"provision,omitempty"`
}

type actor struct {
	Role      concept   `json:"role"`
	Reference reference `json:"reference"`
}
