package population

import (
	"time"
)

// Observation panels, in the order they are written.
var (
	panelCBC   = []*obsDef{obsLeukocytes, obsErythro, obsHemoglobin, obsHematocrit, obsMCV, obsMCH, obsMCHC, obsPlatelets}
	panelBMP   = []*obsDef{obsGlucose, obsUrea, obsCreatinine, obsSodium, obsPotassium, obsChloride, obsCO2, obsCalcium, obsEGFR}
	panelLiver = []*obsDef{obsAlbumin, obsProtein, obsBilirubin, obsALP, obsALT, obsAST}
	panelLipid = []*obsDef{obsCholesterol, obsTriglyc, obsHDL, obsLDL}
)

// health is the state of the patient at an instant: the conditions active then.
type health struct {
	active map[string]bool
	age    int
	fever  bool
	infect bool
}

func (g *patientGen) health(e *encState, at time.Time) *health {
	h := &health{active: map[string]bool{}, age: yearsBetween(g.birth, at), fever: e.fever}
	for _, list := range [][]*condState{g.chronic, g.acutes} {
		for _, c := range list {
			if !c.onset.After(at) && (c.abatement.IsZero() || at.Before(c.abatement)) {
				h.active[c.def.key] = true
			}
		}
	}
	h.infect = e.fever || h.active["pneumonia"] || h.active["bronchitis"]
	return h
}

func yearsBetween(from, to time.Time) int {
	y := to.Year() - from.Year()
	if to.YearDay() < from.YearDay() {
		y--
	}
	return max(y, 0)
}

// room reports whether n more observations fit in the patient's budget, keeping a full round of vital
// signs for each encounter still to come.
func (g *patientGen) room(n, remaining int) bool {
	return g.nonObs+g.nObs+n+8*remaining <= maxResources
}

// observe writes the observations of encounter e; remaining encounters follow it.
//
//   - check-up: vital signs with weight, height and BMI, pain score, smoking status (first visit),
//     blood count, metabolic panel and liver panel (most of the time), lipid panel (adults), HbA1c
//     (diabetes, or from 45), the sensitive surveys of the conditions known then;
//   - follow-up: vital signs, pain score, the panels that monitor the condition, blood count;
//   - problem visit: vital signs, pain score, sometimes a blood count or a metabolic panel;
//   - emergency: two rounds of vital signs, pain score, blood count and metabolic panel;
//   - admission: vital signs on arrival and twice a day, blood count, metabolic and liver panels on
//     arrival, then a metabolic panel and a blood count every other day.
func (g *patientGen) observe(e *encState, first bool, remaining int) {
	r := g.r
	lab := func(at time.Time, panel []*obsDef) {
		if g.room(len(panel), remaining) {
			g.panel(e, at, panel)
		}
	}
	pain := func(at time.Time, h *health) {
		if g.room(1, remaining) {
			score := r.between(0, 3)
			if e.kind == encEmergency || e.kind == encAdmission || h.active["osteoarthritis"] || h.active["migraine"] {
				score = r.between(2, 8)
			}
			g.quantity(e, obsPain, at, score, nil)
		}
	}
	at := e.start.Add(5 * time.Minute)
	labAt := e.start.Add(15 * time.Minute)
	h := g.health(e, labAt)
	switch e.kind {
	case encCheckUp:
		g.vitals(e, at, true)
		pain(at, h)
		if first && h.age >= 15 && g.room(1, remaining) {
			g.smokingStatus(e, at)
		}
		if first || r.chance(800) {
			lab(labAt, panelCBC)
			lab(labAt, panelBMP)
			lab(labAt, panelLiver)
		}
		if h.age >= 18 && (first || h.active["hyperlipidemia"] || r.chance(700)) {
			lab(labAt, panelLipid)
		}
		if h.active["diabetes"] || h.age >= 45 {
			lab(labAt, []*obsDef{obsHbA1c})
		}
		g.sensitiveSurveys(e, labAt, h, remaining)
	case encFollowUp:
		g.vitals(e, at, true)
		pain(at, h)
		switch e.reason.def.key {
		case "hypertension", "afib", "ckd":
			lab(labAt, panelBMP)
		case "diabetes":
			lab(labAt, []*obsDef{obsHbA1c})
			lab(labAt, panelBMP)
			lab(labAt, panelLipid)
		case "hyperlipidemia":
			lab(labAt, panelLipid)
			lab(labAt, panelLiver)
		case "alcohol":
			lab(labAt, panelLiver)
		case "hiv", "depression", "anxiety":
			g.sensitiveSurveys(e, labAt, h, remaining)
		}
		lab(labAt, panelCBC)
	case encProblem:
		g.vitals(e, at, true)
		pain(at, h)
		if r.chance(700) {
			lab(labAt, panelCBC)
		}
		if r.chance(400) {
			lab(labAt, panelBMP)
		}
	case encEmergency:
		at = e.start.Add(10 * time.Minute)
		g.vitals(e, at, false)
		pain(at, h)
		labAt = e.start.Add(30 * time.Minute)
		lab(labAt, panelCBC)
		lab(labAt, panelBMP)
		if g.room(5, remaining) {
			e.fever = false
			g.vitals(e, e.end.Add(-20*time.Minute), false)
		}
	case encAdmission:
		at = e.start.Add(30 * time.Minute)
		g.vitals(e, at, false)
		pain(at, h)
		labAt = e.start.Add(time.Hour)
		lab(labAt, panelCBC)
		lab(labAt, panelBMP)
		lab(labAt, panelLiver)
		midnight := e.start.Truncate(day)
		for d := 1; ; d++ {
			morning := midnight.Add(time.Duration(d)*day + 7*time.Hour)
			if !morning.Before(e.end) {
				break
			}
			if d >= 2 {
				e.fever = false
			}
			if d%2 == 0 {
				lab(morning, panelBMP)
				lab(morning, panelCBC)
			}
			for _, hour := range []time.Duration{8, 18} {
				if at := midnight.Add(time.Duration(d)*day + hour*time.Hour); at.Before(e.end) && g.room(5, remaining) {
					g.vitals(e, at, false)
				}
			}
		}
	}
}

// sensitiveSurveys writes the labelled follow-up measures of sensitive conditions: PHQ-9 for
// depression and GAD-7 for anxiety (PSY), the HIV viral load (HIV).
func (g *patientGen) sensitiveSurveys(e *encState, at time.Time, h *health, remaining int) {
	r := g.r
	if h.active["depression"] && g.room(1, remaining) {
		score := r.between(3, 14)
		if e.idx == g.diagIdx("depression") {
			score = r.between(12, 24)
		}
		g.quantity(e, obsPHQ9, at, score, &labelPSY)
	}
	if h.active["anxiety"] && g.room(1, remaining) {
		score := r.between(3, 12)
		if e.idx == g.diagIdx("anxiety") {
			score = r.between(10, 19)
		}
		g.quantity(e, obsGAD7, at, score, &labelPSY)
	}
	if h.active["hiv"] && g.room(1, remaining) {
		load := r.between(20, 199)
		if !g.sawHIV {
			load = r.between(5000, 150000)
			g.sawHIV = true
		}
		g.quantity(e, obsViralLoad, at, load, &labelHIV)
	}
}

func (g *patientGen) diagIdx(key string) int {
	for _, c := range g.chronic {
		if c.def.key == key {
			return c.diag.idx
		}
	}
	return -1
}

// heightAt returns the height at t, in tenths of cm: growth until 18, then the adult height.
func (g *patientGen) heightAt(t time.Time) int {
	months := int(t.Sub(g.birth) / (30 * day))
	h := 860 + (months-24)*5
	if months < 24 {
		h = 500 + months*15
	}
	return min(h, g.height)
}

// vitals writes a round of vital signs at at: heart rate, respiratory rate, SpO2, temperature and
// blood pressure; with full, also weight, height and BMI.
func (g *patientGen) vitals(e *encState, at time.Time, full bool) {
	r := g.r
	h := g.health(e, at)
	hr := r.around(72, 14)
	switch {
	case h.active["afib"]:
		hr = r.between(85, 125)
	case h.age < 12:
		hr = r.between(80, 120)
	}
	rr := r.between(12, 18)
	if h.age < 12 || h.active["copd"] || h.active["pneumonia"] {
		rr = r.between(18, 26)
	}
	spo2 := r.between(95, 100)
	switch {
	case h.active["pneumonia"]:
		spo2 = r.between(88, 94)
	case h.active["copd"]:
		spo2 = r.between(89, 95)
	}
	temp := r.between(362, 373)
	if h.fever {
		temp = r.between(378, 396)
		hr += 10
	}
	sys, dia := r.around(120, 12), r.around(76, 8)
	switch {
	case h.age < 12:
		sys, dia = r.between(92, 115), r.between(55, 74)
	case h.active["hypertension"]:
		sys, dia = r.between(135, 168), r.between(84, 102)
	}
	g.quantity(e, obsHeartRate, at, hr, nil)
	g.quantity(e, obsRespRate, at, rr, nil)
	g.quantity(e, obsSpO2, at, spo2, nil)
	g.quantity(e, obsTemperature, at, temp, nil)
	g.bloodPressure(e, at, sys, dia)
	if !full {
		return
	}
	height := g.heightAt(at)
	if g.weight == 0 || h.age < 18 {
		g.weight = int(int64(g.bmi) * int64(height) * int64(height) / 1000000)
	} else {
		g.weight += r.between(-15, 15)
	}
	g.weight = max(g.weight, 25)
	bmi := int((int64(g.weight)*1000000 + int64(height)*int64(height)/2) / (int64(height) * int64(height)))
	g.quantity(e, obsWeight, at, g.weight, nil)
	g.quantity(e, obsHeight, at, height, nil)
	g.quantity(e, obsBMI, at, bmi, nil)
}

// panel writes the laboratory results of a panel, drawn together so that they agree with each other.
func (g *patientGen) panel(e *encState, at time.Time, defs []*obsDef) {
	r := g.r
	h := g.health(e, at)
	female := g.gender == "female"
	v := map[*obsDef]int{}
	switch defs[0] {
	case obsLeukocytes: // complete blood count
		v[obsLeukocytes] = r.between(45, 100)
		if h.infect {
			v[obsLeukocytes] = r.between(115, 185)
		}
		hgb := r.between(135, 170)
		if female {
			hgb = r.between(120, 152)
		}
		if h.active["ckd"] {
			hgb -= r.between(15, 30)
		}
		mch := r.between(275, 325)
		rbc := hgb * 1000 / mch
		mcv := r.between(820, 970)
		hct := rbc * mcv / 1000
		v[obsErythro], v[obsHemoglobin], v[obsHematocrit] = rbc, hgb, hct
		v[obsMCV], v[obsMCH], v[obsMCHC] = mcv, mch, hgb*1000/hct
		v[obsPlatelets] = r.between(160, 380)
	case obsGlucose: // basic metabolic panel
		switch {
		case h.active["diabetes"]:
			v[obsGlucose] = r.between(125, 230)
		case r.chance(100):
			v[obsGlucose] = r.between(100, 115)
		default:
			v[obsGlucose] = r.between(72, 99)
		}
		creat := r.between(72, 125)
		switch {
		case h.age < 15:
			creat = r.between(30, 65)
		case female:
			creat = r.between(55, 100)
		}
		egfr := max(61, 120-h.age*7/10+r.between(-8, 8))
		v[obsUrea] = r.between(8, 21)
		v[obsPotassium] = r.between(36, 50)
		if h.active["ckd"] {
			creat = r.between(150, 320)
			egfr = r.between(18, 55)
			v[obsUrea] = r.between(25, 60)
			v[obsPotassium] = r.between(45, 58)
		}
		v[obsCreatinine], v[obsEGFR] = creat, egfr
		v[obsSodium] = r.between(136, 144)
		v[obsChloride] = r.between(98, 107)
		v[obsCO2] = r.between(22, 29)
		v[obsCalcium] = r.between(87, 102)
	case obsAlbumin: // liver panel
		v[obsAlbumin] = r.between(36, 49)
		v[obsProtein] = r.between(62, 81)
		v[obsBilirubin] = r.between(2, 11)
		v[obsALP] = r.between(45, 130)
		v[obsALT] = r.between(9, 45)
		v[obsAST] = r.between(12, 36)
		if h.active["alcohol"] {
			v[obsALT] = r.between(40, 110)
			v[obsAST] = r.between(45, 140)
		}
	case obsCholesterol: // lipid panel: total = LDL + HDL + triglycerides/5 (Friedewald)
		hdl := r.between(38, 65) + 8*boolInt(female)
		tg := r.between(60, 180)
		ldl := r.between(70, 125)
		if h.active["hyperlipidemia"] {
			ldl = r.between(140, 210)
			tg = r.between(120, 280)
		}
		if h.active["diabetes"] {
			tg += r.between(20, 60)
		}
		v[obsHDL], v[obsTriglyc], v[obsLDL] = hdl, tg, ldl
		v[obsCholesterol] = ldl + hdl + tg/5
	case obsHbA1c:
		v[obsHbA1c] = r.between(45, 57)
		if h.active["diabetes"] {
			v[obsHbA1c] = r.between(64, 95)
		}
	}
	for _, d := range defs {
		g.quantity(e, sexed(d, female), at, v[d], nil)
	}
}

// sexed returns the female variant of a definition whose reference range differs by sex.
func sexed(d *obsDef, female bool) *obsDef {
	if !female {
		return d
	}
	switch d {
	case obsCreatinine:
		return obsCreatinineF
	case obsHemoglobin:
		return obsHemoglobinF
	case obsHematocrit:
		return obsHematocritF
	case obsErythro:
		return obsErythroF
	}
	return d
}

func (g *patientGen) nextObsID() string {
	g.nObs++
	return "obs-" + g.num + "-" + pad(g.nObs, 4)
}

func (g *patientGen) quantity(e *encState, d *obsDef, at time.Time, v int, label *coding) {
	o := g.observation(e, d, at, label)
	setQuantity(o, d, v)
	g.obs.add("Observation", o.ID, o)
}

func (g *patientGen) bloodPressure(e *encState, at time.Time, sys, dia int) {
	o := g.observation(e, obsBPPanel, at, nil)
	setBloodPressure(o, sys, dia)
	g.obs.add("Observation", o.ID, o)
}

func (g *patientGen) smokingStatus(e *encState, at time.Time) {
	o := g.observation(e, obsSmoking, at, nil)
	v := smokingStatus[g.smoking]
	o.ValueCodeableConcept = &v
	g.obs.add("Observation", o.ID, o)
}

// observation returns the common part of an observation of e.
func (g *patientGen) observation(e *encState, d *obsDef, at time.Time, label *coding) *observation {
	performer := practitionerRef(e.prac)
	if d.category == "laboratory" {
		performer = organizationRef(g.org(e.org))
	}
	return newObservation(g.nextObsID(), d, g.subject(), e.ref(), at, performer, label)
}
