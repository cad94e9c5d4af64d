package population

import (
	"strconv"
	"time"
)

// The demo data set: hand-written, fixed (no seed, no clock), described in the package comment.

var (
	demoNord    = orgInfo{id: "org-hopital-nord", name: "Hôpital Nord", city: city{"Lille", "59000"}}
	demoSud     = orgInfo{id: "org-clinique-sud", name: "Clinique Sud", city: city{"Marseille", "13008"}}
	demoInsurer = orgInfo{id: InsurerID, name: "Assur Plus", city: city{"Paris", "75009"}}

	demoHouse   = &staffMember{id: "prac-house", given: "Gregory", family: "House", gender: "male", special: 2}
	demoMartin  = &staffMember{id: "prac-martin", given: "Claire", family: "Martin", gender: "female", special: 0}
	demoAdviser = &staffMember{id: "prac-adviser", given: "Paul", family: "Durand", gender: "male", special: 2, adviser: true}
)

// Demo returns the demo data set of a development server as transaction Bundles: first the
// organisations, practitioners and roles, then one bundle per patient (Alice, Bob, Chloé, David).
func Demo() [][]byte {
	return [][]byte{demoShared(), demoAlice(), demoBob(), demoChloe(), demoDavid()}
}

func demoShared() []byte {
	var b builder
	for _, o := range []struct {
		info  orgInfo
		typ   concept
		id    string
		phone string
		line  string
	}{
		{demoNord, orgTypeProvider, "590000001", "+33 3 20 00 00 01", "2 avenue du Nord"},
		{demoSud, orgTypeProvider, "130000002", "+33 4 91 00 00 02", "15 boulevard du Sud"},
		{demoInsurer, orgTypeInsurer, "750000003", "+33 1 40 00 00 03", "40 rue de la Mutualité"},
	} {
		b.add("Organization", o.info.id, &organization{
			ResourceType: "Organization", ID: o.info.id,
			Identifier: []identifier{{Use: "official", System: sysOrgID, Value: o.id}},
			Active:     true,
			Type:       []concept{o.typ},
			Name:       o.info.name,
			Telecom:    []contactPoint{{System: "phone", Value: o.phone, Use: "work"}},
			Address: []address{{Use: "work", Type: "physical", Line: []string{o.line}, City: o.info.city.name,
				PostalCode: o.info.city.postalCode, Country: "FR"}},
		})
	}
	for n, p := range []struct {
		m    *staffMember
		org  orgInfo
		rpps string
	}{
		{demoHouse, demoNord, "810000000017"},
		{demoMartin, demoSud, "810000000025"},
		{demoAdviser, demoInsurer, "810000000033"},
	} {
		b.add("Practitioner", p.m.id, &practitioner{
			ResourceType: "Practitioner", ID: p.m.id,
			Identifier: []identifier{{Use: "official", Type: idTypePRN, System: sysRPPS, Value: p.rpps}},
			Active:     true,
			Name:       []humanName{{Use: "official", Family: p.m.family, Given: []string{p.m.given}, Prefix: []string{"Dr"}}},
			Telecom: []contactPoint{{System: "email", Value: asciiFold(p.m.given) + "." + asciiFold(p.m.family) +
				"@sante.example.org", Use: "work"}},
			Gender:        p.m.gender,
			Qualification: []qualification{{Code: degreeMD}},
		})
		roleID := "role-" + p.m.id[len("prac-"):] + "-1"
		code := roleDoctor
		if p.m.adviser {
			code = roleAdvise
		}
		b.add("PractitionerRole", roleID, &practitionerRole{
			ResourceType: "PractitionerRole", ID: roleID, Active: true,
			Period:       &period{Start: "2015-09-01"},
			Practitioner: practitionerRef(p.m),
			Organization: organizationRef(p.org),
			Code:         []concept{code},
			Specialty:    []concept{specialties[p.m.special]},
			Telecom:      []contactPoint{{System: "phone", Value: "+33 1 00 00 10 0" + strconv.Itoa(n+1), Use: "work"}},
		})
	}
	return b.bytes()
}

// demoGen writes one demo patient's bundle.
type demoGen struct {
	b    builder
	key  string // alice
	nObs int
	nEnc int
	nCon int
	nMed int
}

func newDemo(key string, p *patient) *demoGen {
	d := &demoGen{key: key}
	d.b.add("Patient", p.ID, p)
	return d
}

func (d *demoGen) subject() reference { return reference{Reference: "Patient/pat-" + d.key} }

// demoEnc is a demo encounter, for the observations and requests made during it.
type demoEnc struct {
	ref   *reference
	start time.Time
	org   orgInfo
	prac  *staffMember
}

func demoTime(s string) time.Time {
	t, err := time.Parse(fmtDateTime, s)
	if err != nil {
		panic("population: demo time " + s)
	}
	return t
}

func (d *demoGen) encounter(kind encKind, start, end string, org orgInfo, prac *staffMember,
	why *conditionRef, reasonCode *concept) *demoEnc {
	d.nEnc++
	id := "enc-" + d.key + "-" + strconv.Itoa(d.nEnc)
	var label *coding
	if why != nil {
		label = why.def.label
	}
	d.b.add("Encounter", id, newEncounter(id, d.subject(), kind, demoTime(start), demoTime(end), org, prac, why, reasonCode, label))
	return &demoEnc{ref: &reference{Reference: "Encounter/" + id}, start: demoTime(start), org: org, prac: prac}
}

// condition records a condition at e; onset and abatement are dates ("" for no abatement).
func (d *demoGen) condition(key string, e *demoEnc, onset, abatement string) *conditionRef {
	d.nCon++
	c := &conditionRef{def: conditions[key], id: "cond-" + d.key + "-" + strconv.Itoa(d.nCon)}
	var end time.Time
	if abatement != "" {
		end = demoTime(abatement)
	}
	d.b.add("Condition", c.id, newCondition(c.id, c.def, d.subject(), e.ref, demoTime(onset), e.start, end, e.prac))
	return c
}

// vitals writes heart rate, SpO2, temperature (tenths of Cel), blood pressure and, when weight is not
// zero, weight (tenths of kg), height (tenths of cm) and BMI, ten minutes into e (plus offset).
func (d *demoGen) vitals(e *demoEnc, offset time.Duration, hr, spo2, temp, sys, dia, weight, height int) {
	at := e.start.Add(10*time.Minute + offset)
	d.value(e, obsHeartRate, at, hr, nil)
	d.value(e, obsSpO2, at, spo2, nil)
	d.value(e, obsTemperature, at, temp, nil)
	o := newObservation(d.obsID(), obsBPPanel, d.subject(), e.ref, at, practitionerRef(e.prac), nil)
	setBloodPressure(o, sys, dia)
	d.b.add("Observation", o.ID, o)
	if weight > 0 {
		d.value(e, obsWeight, at, weight, nil)
		d.value(e, obsHeight, at, height, nil)
		bmi := int((int64(weight)*1000000 + int64(height)*int64(height)/2) / (int64(height) * int64(height)))
		d.value(e, obsBMI, at, bmi, nil)
	}
}

// labs writes laboratory results twenty minutes into e: pairs of definition and value.
func (d *demoGen) labs(e *demoEnc, results ...any) {
	at := e.start.Add(20 * time.Minute)
	for k := 0; k+1 < len(results); k += 2 {
		d.value(e, results[k].(*obsDef), at, results[k+1].(int), nil)
	}
}

func (d *demoGen) value(e *demoEnc, def *obsDef, at time.Time, v int, label *coding) {
	performer := practitionerRef(e.prac)
	if def.category == "laboratory" {
		performer = organizationRef(e.org)
	}
	o := newObservation(d.obsID(), def, d.subject(), e.ref, at, performer, label)
	setQuantity(o, def, v)
	d.b.add("Observation", o.ID, o)
}

func (d *demoGen) obsID() string {
	d.nObs++
	return "obs-" + d.key + "-" + pad(d.nObs, 2)
}

func (d *demoGen) medication(key string, e *demoEnc, c *conditionRef, completed bool) {
	d.nMed++
	id := "medreq-" + d.key + "-" + strconv.Itoa(d.nMed)
	d.b.add("MedicationRequest", id, medicationFor(id, medications[key], d.subject(), e.ref, e.start.Add(25*time.Minute),
		e.prac, c.ref(), c.def.label, !c.def.chronic, completed))
}

func (d *demoGen) consent(at string, custodian orgInfo, root provision) {
	id := "consent-" + d.key + "-1"
	d.b.add("Consent", id, newConsent(id, d.subject(), demoTime(at), organizationRef(custodian), root))
}

func demoPatient(key, family, given, gender, birth, nir, mrn, line string, c city, phone string,
	gp *staffMember, org orgInfo) *patient {
	p := &patient{
		ResourceType: "Patient", ID: "pat-" + key, Active: true,
		Name:      []humanName{{Use: "official", Family: family, Given: []string{given}}},
		Telecom:   []contactPoint{{System: "phone", Value: phone, Use: "mobile"}},
		Gender:    gender,
		BirthDate: birth,
		Address:   []address{{Use: "home", Type: "physical", Line: []string{line}, City: c.name, PostalCode: c.postalCode, Country: "FR"}},
	}
	p.Identifier = []identifier{
		{Use: "official", Type: idTypeINS, System: sysINS, Value: nir + nirKey(nir)},
		{Use: "usual", Type: idTypeMRN, System: sysMRN, Value: mrn},
	}
	p.GeneralPractitioner = []reference{practitionerRef(gp)}
	o := organizationRef(org)
	p.ManagingOrganization = &o
	return p
}

// nirKey returns the control key of a 13-digit NIR.
func nirKey(nir string) string {
	n, _ := strconv.ParseUint(nir, 10, 64)
	return pad(int(97-n%97), 2)
}

// Alice Dupont: asthma; denies the insurer.
func demoAlice() []byte {
	d := newDemo("alice", demoPatient("alice", "Dupont", "Alice", "female", "1985-04-12", "2850459350012",
		"90000001", "8 rue des Lilas", city{"Lille", "59000"}, "+33 6 11 22 33 44", demoHouse, demoNord))
	e1 := d.encounter(encCheckUp, "2024-03-12T09:00:00Z", "2024-03-12T09:30:00Z", demoNord, demoHouse, nil, nil)
	asthma := d.condition("asthma", e1, "2024-02-20T00:00:00Z", "")
	d.vitals(e1, 0, 68, 98, 368, 118, 76, 615, 1650)
	d.labs(e1, obsGlucose, 88, obsCholesterol, 182, obsHbA1c, 52, obsHemoglobinF, 134, obsCreatinineF, 78)
	d.medication("albuterol", e1, asthma, false)
	e2 := d.encounter(encFollowUp, "2025-02-04T10:30:00Z", "2025-02-04T10:50:00Z", demoNord, demoHouse, asthma, nil)
	d.vitals(e2, 0, 72, 97, 367, 116, 74, 620, 1650)
	d.consent("2024-03-12T09:25:00Z", demoNord, denyActor(organizationRef(demoInsurer)))
	return d.b.bytes()
}

// Bob Leroy: hypertension and type 2 diabetes; shares with Dr Martin only.
func demoBob() []byte {
	d := newDemo("bob", demoPatient("bob", "Leroy", "Bob", "male", "1958-09-30", "1580913055123",
		"90000002", "27 avenue de la République", city{"Marseille", "13008"}, "+33 6 22 33 44 55", demoMartin, demoSud))
	e1 := d.encounter(encCheckUp, "2024-05-06T08:30:00Z", "2024-05-06T09:00:00Z", demoSud, demoMartin, nil, nil)
	hta := d.condition("hypertension", e1, "2024-04-15T00:00:00Z", "")
	dm := d.condition("diabetes", e1, "2024-04-15T00:00:00Z", "")
	d.vitals(e1, 0, 78, 97, 369, 152, 94, 924, 1780)
	d.labs(e1, obsGlucose, 162, obsHbA1c, 78, obsCholesterol, 215, obsHemoglobin, 146, obsCreatinine, 105)
	d.medication("lisinopril", e1, hta, false)
	d.medication("metformin", e1, dm, false)
	chest := emergencyReasons[0]
	e2 := d.encounter(encEmergency, "2024-11-18T21:40:00Z", "2024-11-19T01:10:00Z", demoNord, demoHouse, nil, &chest)
	d.vitals(e2, 0, 96, 96, 370, 165, 98, 0, 0)
	d.labs(e2, obsGlucose, 188, obsHemoglobin, 142, obsCreatinine, 110)
	d.vitals(e2, 3*time.Hour, 82, 97, 368, 142, 88, 0, 0)
	e3 := d.encounter(encFollowUp, "2025-03-10T14:00:00Z", "2025-03-10T14:20:00Z", demoSud, demoMartin, dm, nil)
	d.vitals(e3, 0, 74, 98, 366, 138, 86, 901, 1780)
	d.labs(e3, obsGlucose, 141, obsHbA1c, 71)
	d.consent("2024-05-06T08:55:00Z", demoSud, permitOnly(practitionerRef(demoMartin)))
	return d.b.bytes()
}

// Chloé Bernard: depression (PSY) and migraine; hides PSY data from all but Dr House.
func demoChloe() []byte {
	d := newDemo("chloe", demoPatient("chloe", "Bernard", "Chloé", "female", "1992-01-17", "2920159350087",
		"90000003", "3 place de la Gare", city{"Lille", "59000"}, "+33 7 33 44 55 66", demoHouse, demoNord))
	e1 := d.encounter(encCheckUp, "2024-09-09T09:15:00Z", "2024-09-09T09:45:00Z", demoNord, demoHouse, nil, nil)
	dep := d.condition("depression", e1, "2024-07-01T00:00:00Z", "")
	mig := d.condition("migraine", e1, "2023-05-10T00:00:00Z", "")
	d.vitals(e1, 0, 74, 99, 366, 112, 70, 578, 1680)
	d.labs(e1, obsGlucose, 84, obsHemoglobinF, 128, obsCreatinineF, 68, obsCholesterol, 171)
	d.value(e1, obsPHQ9, e1.start.Add(15*time.Minute), 15, &labelPSY)
	d.medication("sertraline", e1, dep, false)
	d.medication("ibuprofen", e1, mig, false)
	e2 := d.encounter(encFollowUp, "2024-10-07T11:00:00Z", "2024-10-07T11:30:00Z", demoNord, demoHouse, dep, nil)
	d.vitals(e2, 0, 70, 99, 367, 110, 70, 0, 0)
	d.value(e2, obsPHQ9, e2.start.Add(15*time.Minute), 11, &labelPSY)
	e3 := d.encounter(encFollowUp, "2025-01-13T11:00:00Z", "2025-01-13T11:30:00Z", demoNord, demoHouse, dep, nil)
	d.vitals(e3, 0, 68, 99, 365, 114, 72, 0, 0)
	d.value(e3, obsPHQ9, e3.start.Add(15*time.Minute), 6, &labelPSY)
	d.consent("2024-09-09T09:40:00Z", demoNord, hideLabelExcept(labelPSY, practitionerRef(demoHouse), false))
	return d.b.bytes()
}

// David Petit: hyperlipidemia, HIV (HIV label), a pneumonia; denies payment and break-the-glass.
func demoDavid() []byte {
	d := newDemo("david", demoPatient("david", "Petit", "David", "male", "1971-06-05", "1710613055204",
		"90000004", "41 rue Pasteur", city{"Marseille", "13005"}, "+33 6 44 55 66 77", demoMartin, demoSud))
	e1 := d.encounter(encCheckUp, "2024-02-19T10:00:00Z", "2024-02-19T10:30:00Z", demoSud, demoMartin, nil, nil)
	lipids := d.condition("hyperlipidemia", e1, "2024-02-01T00:00:00Z", "")
	hiv := d.condition("hiv", e1, "2024-01-15T00:00:00Z", "")
	d.vitals(e1, 0, 70, 98, 367, 126, 80, 812, 1760)
	d.labs(e1, obsGlucose, 94, obsCholesterol, 246, obsLDL, 168, obsHbA1c, 54, obsHemoglobin, 151, obsCreatinine, 95)
	d.value(e1, obsViralLoad, e1.start.Add(20*time.Minute), 48000, &labelHIV)
	d.medication("atorvastatin", e1, lipids, false)
	d.medication("bictegravir", e1, hiv, false)
	pneumoniaCode := snomed(conditions["pneumonia"].code, conditions["pneumonia"].display)
	e2 := d.encounter(encAdmission, "2024-07-22T09:30:00Z", "2024-07-25T11:00:00Z", demoNord, demoHouse, nil, &pneumoniaCode)
	pneumonia := d.condition("pneumonia", e2, "2024-07-19T00:00:00Z", "2024-08-05T00:00:00Z")
	d.vitals(e2, 0, 104, 92, 389, 118, 72, 0, 0)
	d.labs(e2, obsLeukocytes, 162, obsHemoglobin, 139, obsGlucose, 118, obsCreatinine, 112)
	d.vitals(e2, 48*time.Hour, 80, 96, 371, 122, 76, 0, 0)
	d.medication("amoxiclav", e2, pneumonia, true)
	e3 := d.encounter(encFollowUp, "2025-01-27T15:00:00Z", "2025-01-27T15:30:00Z", demoSud, demoMartin, hiv, nil)
	d.vitals(e3, 0, 66, 98, 366, 124, 78, 805, 1760)
	d.value(e3, obsViralLoad, e3.start.Add(20*time.Minute), 40, &labelHIV)
	d.labs(e3, obsCholesterol, 198, obsLDL, 121)
	d.consent("2024-02-19T10:25:00Z", demoSud, denyPurposes(true))
	return d.b.bytes()
}
