package invariant

// handwritten are resources written for the invariants that neither the corpus nor a mutation of it
// exercise; each breaks the invariants its name gives.
var handwritten = []struct{ name, json string }{
	{"obs-3", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"referenceRange":[{"type":{"text":"normal"}}]}`},
	{"dom-2", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"#p"},
		"contained":[{"resourceType":"Patient","id":"p","contained":[{"resourceType":"Patient","id":"q"}]}]}`},
	{"dom-3", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p"}]}`},
	{"dom-4", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"#p"},
		"contained":[{"resourceType":"Patient","id":"p","meta":{"versionId":"1","lastUpdated":"2020-01-01T00:00:00Z"}}]}`},
	{"dom-5", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"#p"},
		"contained":[{"resourceType":"Patient","id":"p","meta":{"security":[{"code":"R"}]}}]}`},
	{"fhs-1", `{"resourceType":"FamilyMemberHistory","status":"completed","patient":{"reference":"Patient/1"},"relationship":{"text":"x"},
		"ageString":"40","bornString":"1970"}`},
	{"prr-1", `{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"orderDetail":[{"text":"x"}]}`},
	{"tim-4 tim-6 tim-10", `{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},
		"medicationCodeableConcept":{"text":"x"},"dosageInstruction":[{"timing":{"repeat":{"duration":-1,"durationUnit":"h",
		"periodMax":2,"timeOfDay":["10:00:00"],"when":["MORN"]}}}]}`},
	{"org-2 org-3", `{"resourceType":"Organization","name":"x","address":[{"use":"home","text":"x"}],"telecom":[{"use":"home","system":"phone","value":"1"}]}`},
	{"ait-2", `{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},
		"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification","code":"entered-in-error"}]}}`},
	{"con-5", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
		"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"entered-in-error"}]}}`},
	{"que-3 que-6", `{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"display","text":"x","code":[{"code":"x"}],"required":true}]}`},
	{"ras-2", `{"resourceType":"RiskAssessment","status":"final","subject":{"reference":"Patient/1"},"prediction":[{"probabilityDecimal":101}]}`},
	{"vsd-2", `{"resourceType":"ValueSet","status":"draft","compose":{"include":[{"concept":[{"code":"x"}]}]}}`},
	{"drq-2", `{"resourceType":"Library","status":"draft","type":{"text":"x"},"dataRequirement":[{"type":"Observation","dateFilter":[{"valueDateTime":"2020"}]}]}`},
	{"dis-1 cnt-3", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"extension":[
		{"url":"http://example.org/d","valueDistance":{"value":1,"system":"http://x","code":"m"}},
		{"url":"http://example.org/c","valueCount":{"value":1.5,"system":"http://unitsofmeasure.org","code":"2"}}]}`},
	{"mrp-2", `{"resourceType":"MeasureReport","status":"complete","type":"individual","measure":"http://x","period":{"start":"2020"},
		"group":[{"stratifier":[{"stratum":[{"measureScore":{"value":1}}]}]}]}`},
	{"ppc-2", `{"resourceType":"Consent","status":"active","scope":{"coding":[{"system":"something","code":"patient-privacy"}]},"category":[{"text":"x"}]}`},
}
