package population

import "time"

// Constructors of the clinical resources, shared by the generated population and the demo.

// conditionRef names a condition that an encounter is about.
type conditionRef struct {
	def *conditionDef
	id  string
}

func (c *conditionRef) ref() reference {
	return reference{Reference: "Condition/" + c.id, Display: c.def.display}
}

func practitionerRef(m *staffMember) reference {
	return reference{Reference: "Practitioner/" + m.id, Display: m.display()}
}

func organizationRef(o orgInfo) reference {
	return reference{Reference: "Organization/" + o.id, Display: o.name}
}

// newEncounter returns a finished encounter of subject at org, with prac as primary performer
// (attender for an admission). why is the condition it is about (nil: none), reasonCode the presenting
// complaint of an emergency; label is its sensitivity.
func newEncounter(id string, subject reference, kind encKind, start, end time.Time, org orgInfo,
	prac *staffMember, why *conditionRef, reasonCode *concept, label *coding) *encounter {
	enc := &encounter{
		ResourceType: "Encounter", ID: id,
		Meta:            sensitivityMeta(label),
		Status:          "finished",
		Subject:         subject,
		Period:          period{Start: dateTime(start), End: dateTime(end)},
		ServiceProvider: organizationRef(org),
	}
	part := encounterParticipant{Type: []concept{participantPrimary}, Individual: practitionerRef(prac)}
	switch kind {
	case encCheckUp:
		enc.Class, enc.Type = classAMB, []concept{typeCheckUp}
	case encFollowUp:
		enc.Class, enc.Type = classAMB, []concept{typeFollowUp}
	case encProblem:
		enc.Class, enc.Type = classAMB, []concept{typeProblem}
	case encEmergency:
		enc.Class, enc.Type = classEMER, []concept{typeEmergency}
	case encAdmission:
		enc.Class, enc.Type = classIMP, []concept{typeAdmission}
		part.Type = []concept{participantAttender}
		enc.Hospitalization = &hospitalization{DischargeDisposition: &dischargeHome}
	}
	enc.Participant = []encounterParticipant{part}
	if reasonCode != nil {
		enc.ReasonCode = []concept{*reasonCode}
	}
	if why != nil {
		enc.ReasonCode = []concept{snomed(why.def.code, why.def.display)}
		enc.ReasonReference = []reference{why.ref()}
	}
	return enc
}

// newCondition returns a confirmed condition recorded at enc by recorder: on the problem list when
// chronic, an encounter diagnosis otherwise; resolved when abatement is set.
func newCondition(id string, def *conditionDef, subject reference, enc *reference, onset, recorded,
	abatement time.Time, recorder *staffMember) *condition {
	rec := practitionerRef(recorder)
	cond := &condition{
		ResourceType: "Condition", ID: id,
		Meta:               sensitivityMeta(def.label),
		ClinicalStatus:     codeOnly(sysCondClinical, "active", "Active"),
		VerificationStatus: codeOnly(sysCondVerStatus, "confirmed", "Confirmed"),
		Category:           []concept{codeOnly(sysCondCategory, "problem-list-item", "Problem List Item")},
		Code:               snomed(def.code, def.display),
		Subject:            subject,
		Encounter:          enc,
		OnsetDateTime:      dateTime(onset),
		RecordedDate:       dateTime(recorded),
		Recorder:           &rec,
	}
	if !def.chronic {
		cond.Category = []concept{codeOnly(sysCondCategory, "encounter-diagnosis", "Encounter Diagnosis")}
	}
	if !abatement.IsZero() {
		cond.ClinicalStatus = codeOnly(sysCondClinical, "resolved", "Resolved")
		cond.AbatementDateTime = dateTime(abatement)
	}
	return cond
}

// newObservation returns the common part of an observation. Vital signs and surveys are performed by a
// practitioner, laboratory results by the organisation's laboratory: the caller passes the right one.
func newObservation(id string, d *obsDef, subject reference, enc *reference, at time.Time,
	performer reference, label *coding) *observation {
	return &observation{
		ResourceType: "Observation", ID: id,
		Meta:              sensitivityMeta(label),
		Status:            "final",
		Category:          []concept{category(d.category)},
		Code:              loinc(d),
		Subject:           subject,
		Encounter:         enc,
		EffectiveDateTime: dateTime(at),
		Performer:         []reference{performer},
	}
}

// setQuantity sets the value of o to v (in units of 10^-d.decimals of d's unit); a laboratory result
// also gets its issue time, reference range and interpretation.
func setQuantity(o *observation, d *obsDef, v int) {
	o.ValueQuantity = &quantity{Value: fixed(v, d.decimals), Unit: d.unit, System: sysUCUM, Code: d.ucum}
	if d.category != "laboratory" {
		return
	}
	at, _ := time.Parse(fmtDateTime, o.EffectiveDateTime)
	o.Issued = dateTime(at.Add(3 * time.Hour))
	if d.low == 0 && d.high == 0 {
		return
	}
	switch {
	case d.low > 0 && v < d.low:
		o.Interpretation = []concept{codeOnly(sysInterpretation, "L", "Low")}
	case d.high > 0 && v > d.high:
		o.Interpretation = []concept{codeOnly(sysInterpretation, "H", "High")}
	default:
		o.Interpretation = []concept{codeOnly(sysInterpretation, "N", "Normal")}
	}
	rr := referenceRange{}
	if d.low > 0 {
		rr.Low = &quantity{Value: fixed(d.low, d.decimals), Unit: d.unit, System: sysUCUM, Code: d.ucum}
	}
	if d.high > 0 {
		rr.High = &quantity{Value: fixed(d.high, d.decimals), Unit: d.unit, System: sysUCUM, Code: d.ucum}
	}
	o.ReferenceRange = []referenceRange{rr}
}

// setBloodPressure makes o (of obsBPPanel) carry systolic and diastolic pressures as components.
func setBloodPressure(o *observation, sys, dia int) {
	o.Component = []component{
		{Code: loinc(obsSystolic), ValueQuantity: &quantity{Value: fixed(sys, 0), Unit: "mmHg", System: sysUCUM, Code: "mm[Hg]"}},
		{Code: loinc(obsDiastolic), ValueQuantity: &quantity{Value: fixed(dia, 0), Unit: "mmHg", System: sysUCUM, Code: "mm[Hg]"}},
	}
}

func category(code string) concept {
	switch code {
	case "vital-signs":
		return catVital
	case "laboratory":
		return catLab
	case "survey":
		return catSurvey
	default:
		return catSocial
	}
}

func loinc(d *obsDef) concept {
	c := concept{Coding: []coding{{System: sysLOINC, Code: d.code, Display: d.display}}, Text: d.display}
	if d.alt != nil {
		c.Coding = append(c.Coding, *d.alt)
	}
	return c
}

// medicationFor builds a MedicationRequest (also used by the demo).
func medicationFor(id string, def *medicationDef, subject reference, enc *reference, at time.Time,
	prac *staffMember, reason reference, label *coding, acute, completed bool) *medicationRequest {
	course := codeOnly(sysCourse, "continuous", "Continuous long term therapy")
	if acute {
		course = codeOnly(sysCourse, "acute", "Short course (acute) therapy")
	}
	status := "active"
	if completed {
		status = "completed"
	}
	route := routeOral
	if def.inhaled {
		route = routeRespiratory
	}
	unit := "tablet"
	if def.form == "{puff}" {
		unit = "puff"
	}
	return &medicationRequest{
		ResourceType: "MedicationRequest", ID: id,
		Meta:   sensitivityMeta(label),
		Status: status, Intent: "order",
		MedicationCodeableConcept: concept{Coding: []coding{{System: sysRxNorm, Code: def.code, Display: def.display}}, Text: def.display},
		Subject:                   subject,
		Encounter:                 enc,
		AuthoredOn:                dateTime(at),
		Requester:                 practitionerRef(prac),
		ReasonReference:           []reference{reason},
		CourseOfTherapyType:       &course,
		DosageInstruction: []dosage{{
			Sequence: 1, Text: def.text,
			Timing:          &timing{Repeat: timingRepeat{Frequency: def.perDay, Period: def.period, PeriodUnit: def.unit}},
			AsNeededBoolean: def.asNeeded,
			Route:           &route,
			DoseAndRate:     []doseAndRate{{DoseQuantity: &quantity{Value: fixed(def.dose, 0), Unit: unit, System: sysUCUM, Code: def.form}}},
		}},
	}
}
