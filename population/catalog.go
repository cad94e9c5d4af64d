package population

// Code systems and the clinical catalogue of the generator: the conditions, medications and
// observations it writes, with the codes of the public code systems (SNOMED CT, LOINC, RxNorm, UCUM,
// HL7 v3 and FHIR terminology). Displays are the code systems' names, sometimes shortened.

const (
	sysSNOMED          = "http://snomed.info/sct"
	sysLOINC           = "http://loinc.org"
	sysRxNorm          = "http://www.nlm.nih.gov/research/umls/rxnorm"
	sysUCUM            = "http://unitsofmeasure.org"
	sysActCode         = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	sysActReason       = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	sysConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	sysParticipation   = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	sysMarital         = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
	sysInterpretation  = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	sysObsCategory     = "http://terminology.hl7.org/CodeSystem/observation-category"
	sysCondCategory    = "http://terminology.hl7.org/CodeSystem/condition-category"
	sysCondClinical    = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	sysCondVerStatus   = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	sysConsentScope    = "http://terminology.hl7.org/CodeSystem/consentscope"
	sysOrgType         = "http://terminology.hl7.org/CodeSystem/organization-type"
	sysPractRole       = "http://terminology.hl7.org/CodeSystem/practitioner-role"
	sysDischarge       = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
	sysCourse          = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
	sysV2IDType        = "http://terminology.hl7.org/CodeSystem/v2-0203"
	sysV2Degree        = "http://terminology.hl7.org/CodeSystem/v2-0360/2.7"

	// Identifier systems. INS (French national health identifier, NIR-based) and RPPS (the French
	// national identifier of health professionals, IDNPS form) are the real French OIDs; the others are
	// example systems.
	sysINS   = "urn:oid:1.2.250.1.213.1.4.8"
	sysRPPS  = "urn:oid:1.2.250.1.71.4.2.1"
	sysMRN   = "http://hospital.example.org/mrn"
	sysOrgID = "http://hospital.example.org/organization"

	// consentPolicyURI is the policy the consents are recorded under (IHE PCF puts it in
	// Consent.policy.uri beside the policyRule code).
	consentPolicyURI = "http://hospital.example.org/policies/privacy-consent"
)

// Security labels (meta.security, and Consent.provision.securityLabel).
var (
	labelPSY        = coding{System: sysActCode, Code: "PSY", Display: "psychiatry information sensitivity"}
	labelHIV        = coding{System: sysActCode, Code: "HIV", Display: "HIV/AIDS information sensitivity"}
	labelETH        = coding{System: sysActCode, Code: "ETH", Display: "substance abuse information sensitivity"}
	labelRestricted = coding{System: sysConfidentiality, Code: "R", Display: "restricted"}
)

// sensitivityMeta returns the meta of a resource carrying a sensitive label: the label itself and the
// confidentiality code R (restricted) that goes with it. Nil for no label.
func sensitivityMeta(label *coding) *meta {
	if label == nil {
		return nil
	}
	return &meta{Security: []coding{*label, labelRestricted}}
}

func snomed(code, display string) concept {
	return concept{Coding: []coding{{System: sysSNOMED, Code: code, Display: display}}, Text: display}
}

func codeOnly(system, code, display string) concept {
	return concept{Coding: []coding{{System: system, Code: code, Display: display}}}
}

// Conditions.

type conditionDef struct {
	key     string
	code    string // SNOMED CT
	display string
	label   *coding // sensitivity label, or nil
	chronic bool    // chronic: on the problem list, active; otherwise an encounter diagnosis that resolves
	minAge  int     // youngest age at which the generator records it
	// meds are the medication slots, keys into medications: the first slot is always prescribed, each
	// further one with probability 2/5; alternatives of a slot are joined by "|".
	meds []string
}

var conditions = map[string]*conditionDef{
	"hypertension":   {key: "hypertension", code: "38341003", display: "Hypertensive disorder, systemic arterial", chronic: true, minAge: 30, meds: []string{"lisinopril|amlodipine", "hctz"}},
	"diabetes":       {key: "diabetes", code: "44054006", display: "Diabetes mellitus type 2", chronic: true, minAge: 30, meds: []string{"metformin"}},
	"hyperlipidemia": {key: "hyperlipidemia", code: "55822004", display: "Hyperlipidemia", chronic: true, minAge: 35, meds: []string{"simvastatin|atorvastatin"}},
	"asthma":         {key: "asthma", code: "195967001", display: "Asthma", chronic: true, meds: []string{"albuterol", "fluticasone"}},
	"copd":           {key: "copd", code: "13645005", display: "Chronic obstructive lung disease", chronic: true, minAge: 45, meds: []string{"albuterol", "fluticasone"}},
	"afib":           {key: "afib", code: "49436004", display: "Atrial fibrillation", chronic: true, minAge: 60, meds: []string{"warfarin", "digoxin"}},
	"ckd":            {key: "ckd", code: "709044004", display: "Chronic kidney disease", chronic: true, minAge: 55},
	"osteoarthritis": {key: "osteoarthritis", code: "396275006", display: "Osteoarthritis", chronic: true, minAge: 45, meds: []string{"acetaminophen|naproxen"}},
	"obesity":        {key: "obesity", code: "414916001", display: "Obesity", chronic: true, minAge: 18},
	"migraine":       {key: "migraine", code: "37796009", display: "Migraine", chronic: true, minAge: 12, meds: []string{"ibuprofen"}},
	"depression":     {key: "depression", code: "35489007", display: "Depressive disorder", label: &labelPSY, chronic: true, minAge: 12, meds: []string{"sertraline"}},
	"anxiety":        {key: "anxiety", code: "197480006", display: "Anxiety disorder", label: &labelPSY, chronic: true, minAge: 12, meds: []string{"sertraline"}},
	"hiv":            {key: "hiv", code: "86406008", display: "Human immunodeficiency virus infection", label: &labelHIV, chronic: true, minAge: 16, meds: []string{"bictegravir"}},
	"alcohol":        {key: "alcohol", code: "66590003", display: "Alcohol dependence", label: &labelETH, chronic: true, minAge: 18},

	"bronchitis":  {key: "bronchitis", code: "10509002", display: "Acute bronchitis", meds: []string{"acetaminophen"}},
	"sinusitis":   {key: "sinusitis", code: "444814009", display: "Viral sinusitis", meds: []string{"acetaminophen"}},
	"pharyngitis": {key: "pharyngitis", code: "195662009", display: "Acute viral pharyngitis", meds: []string{"ibuprofen"}},
	"pneumonia":   {key: "pneumonia", code: "233604007", display: "Pneumonia", meds: []string{"amoxiclav"}},
}

// chronicOrder is the order in which chronic conditions are considered (map order is random).
var chronicOrder = []string{
	"hypertension", "diabetes", "hyperlipidemia", "asthma", "copd", "afib", "ckd", "osteoarthritis",
	"obesity", "migraine", "depression", "anxiety", "hiv", "alcohol",
}

// Medications.

type medicationDef struct {
	code     string // RxNorm
	display  string
	text     string // dosage instruction, as a prescriber writes it
	perDay   int    // frequency per period
	period   int
	unit     string // period unit (UCUM time unit of Timing: h, d)
	dose     int
	form     string // UCUM annotation of the dose unit: {tbl} or {puff}
	inhaled  bool
	asNeeded bool
}

var medications = map[string]*medicationDef{
	"lisinopril":    {code: "314076", display: "lisinopril 10 MG Oral Tablet", text: "Take 1 tablet by mouth once daily", perDay: 1, period: 1, unit: "d", dose: 1, form: "{tbl}"},
	"amlodipine":    {code: "197361", display: "amlodipine 5 MG Oral Tablet", text: "Take 1 tablet by mouth once daily", perDay: 1, period: 1, unit: "d", dose: 1, form: "{tbl}"},
	"hctz":          {code: "310798", display: "hydrochlorothiazide 25 MG Oral Tablet", text: "Take 1 tablet by mouth every morning", perDay: 1, period: 1, unit: "d", dose: 1, form: "{tbl}"},
	"metformin":     {code: "860975", display: "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", text: "Take 1 tablet by mouth once daily with the evening meal", perDay: 1, period: 1, unit: "d", dose: 1, form: "{tbl}"},
	"simvastatin":   {code: "312961", display: "simvastatin 20 MG Oral Tablet", text: "Take 1 tablet by mouth once daily in the evening", perDay: 1, period: 1, unit: "d", dose: 1, form: "{tbl}"},
	"atorvastatin":  {code: "259255", display: "atorvastatin 80 MG Oral Tablet", text: "Take 1 tablet by mouth once daily", perDay: 1, period: 1, unit: "d", dose: 1, form: "{tbl}"},
	"albuterol":     {code: "745679", display: "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", text: "Inhale 2 puffs every 4 to 6 hours as needed for wheezing", perDay: 1, period: 4, unit: "h", dose: 2, form: "{puff}", inhaled: true, asNeeded: true},
	"fluticasone":   {code: "895994", display: "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler", text: "Inhale 2 puffs twice daily", perDay: 2, period: 1, unit: "d", dose: 2, form: "{puff}", inhaled: true},
	"warfarin":      {code: "855332", display: "warfarin sodium 5 MG Oral Tablet", text: "Take 1 tablet by mouth once daily in the evening, as adjusted to INR", perDay: 1, period: 1, unit: "d", dose: 1, form: "{tbl}"},
	"digoxin":       {code: "197604", display: "digoxin 0.125 MG Oral Tablet", text: "Take 1 tablet by mouth once daily", perDay: 1, period: 1, unit: "d", dose: 1, form: "{tbl}"},
	"acetaminophen": {code: "313782", display: "acetaminophen 325 MG Oral Tablet", text: "Take 2 tablets by mouth every 6 hours as needed for pain or fever", perDay: 1, period: 6, unit: "h", dose: 2, form: "{tbl}", asNeeded: true},
	"naproxen":      {code: "849574", display: "naproxen sodium 220 MG Oral Tablet", text: "Take 1 tablet by mouth every 12 hours as needed for pain", perDay: 1, period: 12, unit: "h", dose: 1, form: "{tbl}", asNeeded: true},
	"ibuprofen":     {code: "310965", display: "ibuprofen 200 MG Oral Tablet", text: "Take 2 tablets by mouth every 6 hours as needed for pain", perDay: 1, period: 6, unit: "h", dose: 2, form: "{tbl}", asNeeded: true},
	"amoxiclav":     {code: "562251", display: "amoxicillin 250 MG / clavulanate 125 MG Oral Tablet", text: "Take 1 tablet by mouth every 8 hours for 7 days", perDay: 1, period: 8, unit: "h", dose: 1, form: "{tbl}"},
	"sertraline":    {code: "312941", display: "sertraline 50 MG Oral Tablet", text: "Take 1 tablet by mouth once daily in the morning", perDay: 1, period: 1, unit: "d", dose: 1, form: "{tbl}"},
	"bictegravir":   {code: "1999667", display: "bictegravir 50 MG / emtricitabine 200 MG / tenofovir alafenamide 25 MG Oral Tablet", text: "Take 1 tablet by mouth once daily", perDay: 1, period: 1, unit: "d", dose: 1, form: "{tbl}"},
}

var (
	routeOral        = snomed("26643006", "Oral route")
	routeRespiratory = snomed("447694001", "Respiratory tract route")
)

// Observations. Values are integers in units of 10^-decimals of the UCUM unit (37.2 Cel is 372 with
// one decimal); the reference range uses the same scale, 0 meaning "no bound".

type obsDef struct {
	code     string // LOINC
	display  string
	alt      *coding // a second coding (SpO2: by pulse oximetry)
	category string  // observation-category code
	unit     string  // human-readable unit
	ucum     string
	decimals int
	low      int
	high     int
}

var (
	catVital  = concept{Coding: []coding{{System: sysObsCategory, Code: "vital-signs", Display: "Vital Signs"}}}
	catLab    = concept{Coding: []coding{{System: sysObsCategory, Code: "laboratory", Display: "Laboratory"}}}
	catSurvey = concept{Coding: []coding{{System: sysObsCategory, Code: "survey", Display: "Survey"}}}
	catSocial = concept{Coding: []coding{{System: sysObsCategory, Code: "social-history", Display: "Social History"}}}
)

// Vital signs (the R4 vital signs profile's codes and units).
var (
	obsHeartRate   = &obsDef{code: "8867-4", display: "Heart rate", category: "vital-signs", unit: "/min", ucum: "/min"}
	obsRespRate    = &obsDef{code: "9279-1", display: "Respiratory rate", category: "vital-signs", unit: "/min", ucum: "/min"}
	obsSpO2        = &obsDef{code: "2708-6", display: "Oxygen saturation in Arterial blood", alt: &coding{System: sysLOINC, Code: "59408-5", Display: "Oxygen saturation in Arterial blood by Pulse oximetry"}, category: "vital-signs", unit: "%", ucum: "%"}
	obsTemperature = &obsDef{code: "8310-5", display: "Body temperature", category: "vital-signs", unit: "Cel", ucum: "Cel", decimals: 1}
	obsWeight      = &obsDef{code: "29463-7", display: "Body weight", category: "vital-signs", unit: "kg", ucum: "kg", decimals: 1}
	obsHeight      = &obsDef{code: "8302-2", display: "Body height", category: "vital-signs", unit: "cm", ucum: "cm", decimals: 1}
	obsBMI         = &obsDef{code: "39156-5", display: "Body mass index (BMI) [Ratio]", category: "vital-signs", unit: "kg/m2", ucum: "kg/m2", decimals: 1}
	obsBPPanel     = &obsDef{code: "85354-6", display: "Blood pressure panel with all children optional", category: "vital-signs"}
	obsSystolic    = &obsDef{code: "8480-6", display: "Systolic blood pressure", unit: "mmHg", ucum: "mm[Hg]"}
	obsDiastolic   = &obsDef{code: "8462-4", display: "Diastolic blood pressure", unit: "mmHg", ucum: "mm[Hg]"}
)

// Laboratory results. Ranges are adult ranges; where they differ by sex, the female range is in the
// *F variant.
var (
	obsGlucose     = &obsDef{code: "2339-0", display: "Glucose [Mass/volume] in Blood", category: "laboratory", unit: "mg/dL", ucum: "mg/dL", low: 70, high: 99}
	obsUrea        = &obsDef{code: "6299-2", display: "Urea nitrogen [Mass/volume] in Blood", category: "laboratory", unit: "mg/dL", ucum: "mg/dL", low: 7, high: 20}
	obsCreatinine  = &obsDef{code: "2160-0", display: "Creatinine [Mass/volume] in Serum or Plasma", category: "laboratory", unit: "mg/dL", ucum: "mg/dL", decimals: 2, low: 74, high: 135}
	obsCreatinineF = &obsDef{code: "2160-0", display: "Creatinine [Mass/volume] in Serum or Plasma", category: "laboratory", unit: "mg/dL", ucum: "mg/dL", decimals: 2, low: 59, high: 104}
	obsSodium      = &obsDef{code: "2951-2", display: "Sodium [Moles/volume] in Serum or Plasma", category: "laboratory", unit: "mmol/L", ucum: "mmol/L", low: 136, high: 145}
	obsPotassium   = &obsDef{code: "2823-3", display: "Potassium [Moles/volume] in Serum or Plasma", category: "laboratory", unit: "mmol/L", ucum: "mmol/L", decimals: 1, low: 35, high: 51}
	obsChloride    = &obsDef{code: "2075-0", display: "Chloride [Moles/volume] in Serum or Plasma", category: "laboratory", unit: "mmol/L", ucum: "mmol/L", low: 98, high: 107}
	obsCO2         = &obsDef{code: "2028-9", display: "Carbon dioxide, total [Moles/volume] in Serum or Plasma", category: "laboratory", unit: "mmol/L", ucum: "mmol/L", low: 22, high: 29}
	obsCalcium     = &obsDef{code: "17861-6", display: "Calcium [Mass/volume] in Serum or Plasma", category: "laboratory", unit: "mg/dL", ucum: "mg/dL", decimals: 1, low: 86, high: 103}
	obsEGFR        = &obsDef{code: "33914-3", display: "Glomerular filtration rate/1.73 sq M.predicted", category: "laboratory", unit: "mL/min/1.73m2", ucum: "mL/min/{1.73_m2}", low: 60}
	obsAlbumin     = &obsDef{code: "1751-7", display: "Albumin [Mass/volume] in Serum or Plasma", category: "laboratory", unit: "g/dL", ucum: "g/dL", decimals: 1, low: 35, high: 50}
	obsProtein     = &obsDef{code: "2885-2", display: "Protein [Mass/volume] in Serum or Plasma", category: "laboratory", unit: "g/dL", ucum: "g/dL", decimals: 1, low: 60, high: 83}
	obsBilirubin   = &obsDef{code: "1975-2", display: "Bilirubin.total [Mass/volume] in Serum or Plasma", category: "laboratory", unit: "mg/dL", ucum: "mg/dL", decimals: 1, low: 1, high: 12}
	obsALP         = &obsDef{code: "6768-6", display: "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", category: "laboratory", unit: "U/L", ucum: "U/L", low: 44, high: 147}
	obsALT         = &obsDef{code: "1742-6", display: "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", category: "laboratory", unit: "U/L", ucum: "U/L", low: 7, high: 56}
	obsAST         = &obsDef{code: "1920-8", display: "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", category: "laboratory", unit: "U/L", ucum: "U/L", low: 10, high: 40}
	obsCholesterol = &obsDef{code: "2093-3", display: "Cholesterol [Mass/volume] in Serum or Plasma", category: "laboratory", unit: "mg/dL", ucum: "mg/dL", high: 199}
	obsTriglyc     = &obsDef{code: "2571-8", display: "Triglyceride [Mass/volume] in Serum or Plasma", category: "laboratory", unit: "mg/dL", ucum: "mg/dL", high: 149}
	obsHDL         = &obsDef{code: "2085-9", display: "Cholesterol in HDL [Mass/volume] in Serum or Plasma", category: "laboratory", unit: "mg/dL", ucum: "mg/dL", low: 40}
	obsLDL         = &obsDef{code: "18262-6", display: "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", category: "laboratory", unit: "mg/dL", ucum: "mg/dL", high: 129}
	obsHbA1c       = &obsDef{code: "4548-4", display: "Hemoglobin A1c/Hemoglobin.total in Blood", category: "laboratory", unit: "%", ucum: "%", decimals: 1, low: 40, high: 56}
	obsHemoglobin  = &obsDef{code: "718-7", display: "Hemoglobin [Mass/volume] in Blood", category: "laboratory", unit: "g/dL", ucum: "g/dL", decimals: 1, low: 135, high: 175}
	obsHemoglobinF = &obsDef{code: "718-7", display: "Hemoglobin [Mass/volume] in Blood", category: "laboratory", unit: "g/dL", ucum: "g/dL", decimals: 1, low: 120, high: 155}
	obsHematocrit  = &obsDef{code: "4544-3", display: "Hematocrit [Volume Fraction] of Blood by Automated count", category: "laboratory", unit: "%", ucum: "%", decimals: 1, low: 400, high: 520}
	obsHematocritF = &obsDef{code: "4544-3", display: "Hematocrit [Volume Fraction] of Blood by Automated count", category: "laboratory", unit: "%", ucum: "%", decimals: 1, low: 360, high: 460}
	obsLeukocytes  = &obsDef{code: "6690-2", display: "Leukocytes [#/volume] in Blood by Automated count", category: "laboratory", unit: "10*3/uL", ucum: "10*3/uL", decimals: 1, low: 40, high: 110}
	obsErythro     = &obsDef{code: "789-8", display: "Erythrocytes [#/volume] in Blood by Automated count", category: "laboratory", unit: "10*6/uL", ucum: "10*6/uL", decimals: 2, low: 450, high: 590}
	obsErythroF    = &obsDef{code: "789-8", display: "Erythrocytes [#/volume] in Blood by Automated count", category: "laboratory", unit: "10*6/uL", ucum: "10*6/uL", decimals: 2, low: 400, high: 520}
	obsMCV         = &obsDef{code: "787-2", display: "MCV [Entitic volume] by Automated count", category: "laboratory", unit: "fL", ucum: "fL", decimals: 1, low: 800, high: 1000}
	obsMCH         = &obsDef{code: "785-6", display: "MCH [Entitic mass] by Automated count", category: "laboratory", unit: "pg", ucum: "pg", decimals: 1, low: 270, high: 330}
	obsMCHC        = &obsDef{code: "786-4", display: "MCHC [Mass/volume] by Automated count", category: "laboratory", unit: "g/dL", ucum: "g/dL", decimals: 1, low: 320, high: 360}
	obsPlatelets   = &obsDef{code: "777-3", display: "Platelets [#/volume] in Blood by Automated count", category: "laboratory", unit: "10*3/uL", ucum: "10*3/uL", low: 150, high: 400}
	obsViralLoad   = &obsDef{code: "20447-9", display: "HIV 1 RNA [#/volume] (viral load) in Serum or Plasma by NAA with probe detection", category: "laboratory", unit: "copies/mL", ucum: "{copies}/mL"}
)

// Surveys and social history.
var (
	obsPHQ9    = &obsDef{code: "44261-6", display: "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]", category: "survey", unit: "{score}", ucum: "{score}"}
	obsPain    = &obsDef{code: "72514-3", display: "Pain severity - 0-10 verbal numeric rating [Score] - Reported", category: "survey", unit: "{score}", ucum: "{score}"}
	obsGAD7    = &obsDef{code: "70274-6", display: "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]", category: "survey", unit: "{score}", ucum: "{score}"}
	obsSmoking = &obsDef{code: "72166-2", display: "Tobacco smoking status", category: "social-history"}
)

var smokingStatus = []concept{
	snomed("266919005", "Never smoked tobacco"),
	snomed("8517006", "Ex-smoker"),
	snomed("77176002", "Smoker"),
}

// Encounter classes and types.
var (
	classAMB  = coding{System: sysActCode, Code: "AMB", Display: "ambulatory"}
	classEMER = coding{System: sysActCode, Code: "EMER", Display: "emergency"}
	classIMP  = coding{System: sysActCode, Code: "IMP", Display: "inpatient encounter"}

	typeCheckUp   = snomed("185349003", "Encounter for check up")
	typeFollowUp  = snomed("390906007", "Follow-up encounter")
	typeProblem   = snomed("185347001", "Encounter for problem")
	typeEmergency = snomed("50849002", "Emergency room admission")
	typeAdmission = snomed("32485007", "Hospital admission")

	participantPrimary  = codeOnly(sysParticipation, "PPRF", "primary performer")
	participantAttender = codeOnly(sysParticipation, "ATND", "attender")

	dischargeHome = codeOnly(sysDischarge, "home", "Home")
)

// Reasons for an emergency visit (SNOMED CT findings).
var emergencyReasons = []concept{
	snomed("29857009", "Chest pain"),
	snomed("21522001", "Abdominal pain"),
	snomed("267036007", "Dyspnea"),
	snomed("386661006", "Fever"),
	snomed("25064002", "Headache"),
}

// Practitioner specialties (SNOMED CT, the R4 practice-setting codes); general practice comes first
// and is the most frequent.
var specialties = []concept{
	snomed("394814009", "General practice"),
	snomed("394579002", "Cardiology"),
	snomed("419192003", "Internal medicine"),
	snomed("394583002", "Endocrinology"),
	snomed("394587001", "Psychiatry"),
	snomed("394537008", "Paediatric specialty"),
	snomed("418112009", "Pulmonary medicine"),
	snomed("394589003", "Nephrology"),
	snomed("394591006", "Neurology"),
	snomed("394582007", "Dermatology"),
}

var (
	roleDoctor = concept{Coding: []coding{{System: sysPractRole, Code: "doctor", Display: "Doctor"}}}
	roleAdvise = concept{Coding: []coding{{System: sysPractRole, Code: "doctor", Display: "Doctor"}}, Text: "Medical adviser"}

	orgTypeProvider = concept{Coding: []coding{{System: sysOrgType, Code: "prov", Display: "Healthcare Provider"}}}
	orgTypeInsurer  = concept{Coding: []coding{{System: sysOrgType, Code: "ins", Display: "Insurance Company"}}}

	degreeMD = concept{Coding: []coding{{System: sysV2Degree, Code: "MD", Display: "Doctor of Medicine"}}, Text: "Docteur en médecine"}

	idTypeMRN = &concept{Coding: []coding{{System: sysV2IDType, Code: "MR", Display: "Medical record number"}}}
	idTypeINS = &concept{Coding: []coding{{System: sysV2IDType, Code: "NH", Display: "National Health Plan Identifier"}}, Text: "INS-NIR"}
	idTypePRN = &concept{Coding: []coding{{System: sysV2IDType, Code: "PRN", Display: "Provider number"}}}
)
