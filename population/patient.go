package population

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// maxResources bounds the resources of one patient: optional lab panels and extra vital-sign rounds
// are left out once a patient would pass it.
const maxResources = 300

const day = 24 * time.Hour

// Patient returns the transaction Bundle (JSON) of patient i, 0 <= i < cfg.Patients: the Patient
// (pat-000042), then their encounters (enc-000042-001), conditions (cond-000042-01), observations
// (obs-000042-0001), medication requests (medreq-000042-01) and consents (consent-000042-1). It
// references the organisations and practitioners of Shared(cfg) and nothing else outside the bundle.
// It panics if i is out of range.
func Patient(cfg Config, i int) []byte {
	if i < 0 || i >= cfg.Patients {
		panic(fmt.Sprintf("population: patient %d out of range [0, %d)", i, cfg.Patients))
	}
	cfg = cfg.normalized()
	g := &patientGen{cfg: cfg, idx: i, r: newRNG(cfg.Seed, streamPatient, i), staff: staff(cfg)}
	g.plan()
	return g.emit()
}

type encKind int

const (
	encCheckUp encKind = iota
	encFollowUp
	encProblem
	encEmergency
	encAdmission
)

// condState is a condition of the patient.
type condState struct {
	def       *conditionDef
	id        string
	onset     time.Time
	abatement time.Time // zero: still active
	diag      *encState // the encounter where it was recorded
}

func (c *condState) ref() reference {
	return reference{Reference: "Condition/" + c.id, Display: c.def.display}
}

// encState is an encounter of the patient.
type encState struct {
	idx        int
	id         string
	kind       encKind
	start, end time.Time
	org        int // care organisation (1-based)
	prac       *staffMember
	reason     *condState // follow-up or admission: the condition treated
	acute      *condState // problem or pneumonia: the condition diagnosed
	reasonCode *concept   // emergency: the presenting complaint
	fever      bool
}

func (e *encState) ref() *reference { return &reference{Reference: "Encounter/" + e.id} }

// label is the sensitivity of the encounter: that of the condition it is about.
func (e *encState) label() *coding {
	if e.reason != nil {
		return e.reason.def.label
	}
	return nil
}

type medState struct {
	def   *medicationDef
	cond  *condState
	enc   *encState
	at    time.Time
	acute bool
}

type patientGen struct {
	cfg   Config
	idx   int
	r     *rng
	staff []staffMember

	num     string // 000042
	id      string // pat-000042
	french  bool
	gender  string
	birth   time.Time
	age     int // at Now
	home    int // managing organisation
	gp      *staffMember
	from    time.Time // first possible encounter
	height  int       // adult height, tenths of cm
	bmi     int       // baseline BMI, tenths
	weight  int       // last measured weight, tenths of kg (0: not yet measured)
	smoking int       // index into smokingStatus

	chronic  []*condState
	acutes   []*condState
	encs     []*encState
	meds     []*medState
	consents []*consent
	pat      *patient

	orgs   []orgInfo // cache of careOrg, by number
	obs    builder
	nObs   int
	nonObs int
	sawHIV bool // a viral load was measured: later ones are under treatment
}

func (g *patientGen) subject() reference { return reference{Reference: "Patient/" + g.id} }

// plan draws everything but the observations: the person, their conditions, encounters, medication
// requests and consents.
func (g *patientGen) plan() {
	r := g.r
	now := g.cfg.Now
	g.num = pad(g.idx, 6)
	g.id = "pat-" + g.num
	g.french = r.chance(667)
	g.gender = pick(r, []string{"female", "male"})
	switch r.weighted(15, 28, 35, 22) {
	case 0:
		g.age = r.between(0, 17)
	case 1:
		g.age = r.between(18, 39)
	case 2:
		g.age = r.between(40, 64)
	default:
		g.age = r.between(65, 95)
	}
	g.birth = now.AddDate(-g.age, 0, -r.between(45, 360)).Truncate(day)
	g.from = now.AddDate(-10, 0, 0).Truncate(day).Add(day)
	if b := g.birth.Add(30 * day); b.After(g.from) {
		g.from = b
	}
	if g.gender == "male" {
		g.height = r.around(1760, 90)
	} else {
		g.height = r.around(1630, 80)
	}
	if g.age < 18 {
		g.bmi = r.around(170, 25)
	} else if r.chance(170) {
		g.bmi = r.between(300, 390)
	} else {
		g.bmi = r.around(245, 45)
	}
	g.smoking = 0
	if g.age >= 15 {
		g.smoking = r.weighted(60, 22, 18)
	}
	g.home = 1 + r.intn(g.cfg.Organizations)
	g.gp = g.chooseGP()
	g.pat = g.buildPatient()

	g.drawChronic()
	g.drawEncounters()
	g.placeChronic()
	g.drawMedications()
	g.drawConsents()
	g.nonObs = 1 + len(g.encs) + len(g.chronic) + len(g.acutes) + len(g.meds) + len(g.consents)
}

func (g *patientGen) chooseGP() *staffMember {
	var atHome, gps, care []*staffMember
	for j := range g.staff {
		m := &g.staff[j]
		if m.adviser {
			continue
		}
		care = append(care, m)
		if m.special == 0 {
			gps = append(gps, m)
			if slices.Contains(m.orgs, g.home) {
				atHome = append(atHome, m)
			}
		}
	}
	switch {
	case len(atHome) > 0:
		return pick(g.r, atHome)
	case len(gps) > 0:
		return pick(g.r, gps)
	default:
		return pick(g.r, care)
	}
}

// staffAt returns a care practitioner of organisation k (the GP when no one works there).
func (g *patientGen) staffAt(k int) *staffMember {
	var at []*staffMember
	for j := range g.staff {
		if slices.Contains(g.staff[j].orgs, k) {
			at = append(at, &g.staff[j])
		}
	}
	if len(at) == 0 {
		return g.gp
	}
	return pick(g.r, at)
}

func (g *patientGen) buildPatient() *patient {
	r := g.r
	var first, family string
	var names []string
	if g.french {
		family = pick(r, frenchFamily)
		first = pick(r, given(g.gender, true))
		names = []string{first}
		if r.chance(300) {
			if second := pick(r, given(g.gender, true)); second != first {
				names = append(names, second)
			}
		}
	} else {
		family = pick(r, englishFamily)
		first = pick(r, given(g.gender, false))
		names = []string{first}
		if r.chance(400) {
			if second := pick(r, given(g.gender, false)); second != first {
				names = append(names, second)
			}
		}
	}
	home := pick(r, cities)
	p := &patient{
		ResourceType: "Patient", ID: g.id, Active: true,
		Name:      []humanName{{Use: "official", Family: family, Given: names}},
		Gender:    g.gender,
		BirthDate: date(g.birth),
		Address:   []address{streetAddress(r, home, "home")},
	}
	// The MRN is a permutation of the patient number, so MRNs are unique in a population.
	mrn := (uint64(g.idx)*7919 + uint64(g.cfg.Seed)&0xffffff) % 100000000
	if g.french {
		p.Identifier = append(p.Identifier, identifier{Use: "official", Type: idTypeINS, System: sysINS, Value: g.nir(home)})
	}
	p.Identifier = append(p.Identifier, identifier{Use: "usual", Type: idTypeMRN, System: sysMRN, Value: pad(int(mrn), 8)})
	p.Telecom = []contactPoint{{System: "phone", Value: phone(r, true), Use: "mobile"}}
	if g.age >= 16 && r.chance(600) {
		p.Telecom = append(p.Telecom, contactPoint{System: "email", Value: asciiFold(first) + "." + asciiFold(family) + strconv.Itoa(r.between(1, 99)) + "@mail.example.org", Use: "home"})
	}
	if g.age >= 18 {
		var ms concept
		switch r.weighted(50, 30, 12, 8+g.age/5) {
		case 0:
			ms = codeOnly(sysMarital, "M", "Married")
		case 1:
			ms = codeOnly(sysMarital, "S", "Never Married")
		case 2:
			ms = codeOnly(sysMarital, "D", "Divorced")
		default:
			ms = codeOnly(sysMarital, "W", "Widowed")
		}
		p.MaritalStatus = &ms
	}
	p.GeneralPractitioner = []reference{practitionerRef(g.gp)}
	o := organizationRef(g.org(g.home))
	p.ManagingOrganization = &o
	return p
}

// nir returns an INS-NIR: sex, year and month of birth, département and commune of birth, order
// number, and the control key 97 - (number mod 97). Commune and order come from a permutation of the
// patient number, so NIRs are unique in a population of fewer than 988,011 patients.
func (g *patientGen) nir(birthplace city) string {
	sex := "1"
	if g.gender == "female" {
		sex = "2"
	}
	const m = 989 * 999
	k := (uint64(g.idx)*7919 + uint64(g.cfg.Seed)&0xfffff) % m
	body := sex + pad(g.birth.Year()%100, 2) + pad(int(g.birth.Month()), 2) + birthplace.postalCode[:2] +
		pad(int(k/999)+1, 3) + pad(int(k%999)+1, 3)
	n, _ := strconv.ParseUint(body, 10, 64)
	return body + pad(int(97-n%97), 2)
}

// drawChronic draws the chronic conditions, by age and sex.
func (g *patientGen) drawChronic() {
	r, a := g.r, g.age
	has := map[string]bool{}
	prob := func(key string) int {
		switch key {
		case "hypertension":
			if a >= 30 {
				return min(600, 20+(a-30)*9)
			}
		case "diabetes":
			if a >= 30 {
				return 10 + (a-30)*3
			}
		case "hyperlipidemia":
			if a >= 35 {
				return min(350, 40+(a-35)*5)
			}
		case "asthma":
			return 80
		case "copd":
			if a >= 45 {
				return 30 + 50*boolInt(g.smoking == 2)
			}
		case "afib":
			if a >= 60 {
				return 20 + (a-60)*4
			}
		case "ckd":
			if a >= 55 {
				return 20 + (a-55)*3 + 40*boolInt(has["diabetes"] || has["hypertension"])
			}
		case "osteoarthritis":
			if a >= 45 {
				return 40 + (a-45)*6
			}
		case "obesity":
			if a >= 18 && g.bmi >= 300 {
				return 1000
			}
		case "migraine":
			if a >= 12 && a <= 65 {
				return 40 + 40*boolInt(g.gender == "female")
			}
		case "depression":
			if a >= 12 {
				return 90
			}
		case "anxiety":
			if a >= 12 {
				return 60
			}
		case "hiv":
			if a >= 16 {
				return 25
			}
		case "alcohol":
			if a >= 18 {
				return 20 + 25*boolInt(g.smoking == 2)
			}
		}
		return 0
	}
	for _, key := range chronicOrder {
		if p := prob(key); p > 0 && r.chance(p) {
			has[key] = true
			g.chronic = append(g.chronic, &condState{def: conditions[key]})
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// drawEncounters draws 2 to 8 encounters (more with more chronic conditions, and from 65), their
// dates, kinds, places and practitioners: a check-up first, at most one admission and two emergencies.
func (g *patientGen) drawEncounters() {
	r := g.r
	n := 2 + r.intn(5) + min(len(g.chronic), 2)
	if g.age >= 65 && n < 8 {
		n++
	}
	// Distinct days (there are at least 14 since g.from), so encounters never overlap: an emergency
	// that runs past midnight ends before the next morning's visits.
	to := g.cfg.Now.Add(-day)
	spanDays := int(to.Sub(g.from)/day) + 1
	starts := make([]time.Time, n)
	taken := map[int]bool{}
	for k := range starts {
		d := r.intn(spanDays)
		for taken[d] {
			d = r.intn(spanDays)
		}
		taken[d] = true
		starts[k] = g.from.Add(time.Duration(d) * day)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	admissions, emergencies := 0, 0
	for k, t := range starts {
		e := &encState{idx: k, id: "enc-" + g.num + "-" + pad(k+1, 3), start: t}
		gap := to.Sub(t)
		if k+1 < n {
			gap = starts[k+1].Sub(t)
		}
		if k == 0 {
			e.kind = encCheckUp
		} else {
			e.kind = encKind(r.weighted(20, 28, 16, 14, 22))
			if e.kind == encAdmission && (admissions == 1 || gap < 8*day) {
				e.kind = encProblem
			}
			if e.kind == encEmergency && (emergencies == 2 || gap < day) {
				e.kind = encProblem
			}
		}
		switch e.kind {
		case encCheckUp, encFollowUp, encProblem:
			e.start = t.Add(time.Duration(8*60+15*r.intn(40)) * time.Minute)
			e.end = e.start.Add(time.Duration(15+5*r.intn(7)) * time.Minute)
			e.org = g.gp.orgs[0]
			e.prac = g.gp
			if r.chance(200) {
				e.prac = g.staffAt(e.org)
			}
		case encEmergency:
			emergencies++
			e.start = t.Add(time.Duration(r.intn(24*60)) * time.Minute)
			e.end = e.start.Add(time.Duration(120+15*r.intn(24)) * time.Minute)
			e.org = g.home
			if r.chance(400) {
				e.org = 1 + r.intn(g.cfg.Organizations)
			}
			e.prac = g.staffAt(e.org)
			e.reasonCode = &emergencyReasons[r.intn(len(emergencyReasons))]
			e.fever = e.reasonCode.Coding[0].Code == "386661006"
		case encAdmission:
			admissions++
			days := r.between(2, 5)
			e.start = t.Add(time.Duration(9*60+15*r.intn(24)) * time.Minute)
			e.end = t.Add(time.Duration(days)*day + time.Duration(10*60+15*r.intn(24))*time.Minute)
			e.org = g.home
			if r.chance(300) {
				e.org = 1 + r.intn(g.cfg.Organizations)
			}
			e.prac = g.staffAt(e.org)
		}
		g.encs = append(g.encs, e)
	}
}

// placeChronic records each chronic condition at an encounter (more often an early one), gives
// follow-ups and admissions their reason, and diagnoses the acute problems.
func (g *patientGen) placeChronic() {
	r := g.r
	kept := g.chronic[:0]
	for _, c := range g.chronic {
		// Recorded at an encounter when the patient was old enough, an ambulatory one if possible.
		var amb, old []*encState
		for _, e := range g.encs {
			if yearsBetween(g.birth, e.start) < c.def.minAge {
				continue
			}
			old = append(old, e)
			if e.kind == encCheckUp || e.kind == encFollowUp || e.kind == encProblem {
				amb = append(amb, e)
			}
		}
		if len(old) == 0 {
			continue // too young during the whole record
		}
		cands := amb
		if len(cands) == 0 {
			cands = old
		}
		k := min(r.intn(len(cands)), r.intn(len(cands)))
		if c.def.key == "obesity" {
			k = 0
		}
		c.diag = cands[k]
		c.onset = c.diag.start.Add(-time.Duration(r.between(0, 365)) * day).Truncate(day)
		if c.onset.Before(g.from) {
			c.onset = g.from
		}
		kept = append(kept, c)
	}
	g.chronic = kept
	// Conditions in the order they were recorded, so that ids follow time.
	slices.SortStableFunc(g.chronic, func(a, b *condState) int { return a.diag.idx - b.diag.idx })
	for _, e := range g.encs {
		var known []*condState
		for _, c := range g.chronic {
			if c.diag.idx < e.idx && c.def.key != "obesity" {
				known = append(known, c)
			}
		}
		switch e.kind {
		case encFollowUp:
			if len(known) == 0 {
				e.kind = encCheckUp
				continue
			}
			e.reason = pick(r, known)
		case encProblem:
			key := pick(r, []string{"bronchitis", "sinusitis", "pharyngitis"})
			e.acute = g.acute(key, e)
			e.fever = key != "sinusitis" && r.chance(500)
		case encAdmission:
			var worse []*condState
			for _, c := range known {
				switch c.def.key {
				case "copd", "asthma", "afib", "diabetes", "ckd", "hypertension":
					worse = append(worse, c)
				}
			}
			if len(worse) > 0 && r.chance(500) {
				e.reason = pick(r, worse)
			} else {
				e.acute = g.acute("pneumonia", e)
				e.fever = true
			}
		}
	}
	k := 0
	for _, c := range g.chronic {
		k++
		c.id = "cond-" + g.num + "-" + pad(k, 2)
	}
	for _, c := range g.acutes {
		k++
		c.id = "cond-" + g.num + "-" + pad(k, 2)
	}
}

// acute returns a new acute condition diagnosed at e.
func (g *patientGen) acute(key string, e *encState) *condState {
	r := g.r
	c := &condState{def: conditions[key], diag: e}
	c.onset = e.start.Add(-time.Duration(r.between(1, 6)) * day).Truncate(day)
	if c.onset.Before(g.from) {
		c.onset = g.from
	}
	if end := e.start.Add(time.Duration(r.between(10, 25)) * day).Truncate(day); end.Before(g.cfg.Now) {
		c.abatement = end
	}
	g.acutes = append(g.acutes, c)
	return c
}

// drawMedications prescribes the first medication of each condition when it is recorded, and the
// further ones (each with probability 2/5) at a later encounter about it, or at the same one.
func (g *patientGen) drawMedications() {
	r := g.r
	type ordered struct {
		m   *medState
		key int
	}
	var all []ordered
	add := func(c *condState, slot int, e *encState) {
		def := medications[pick(r, conditionsMedSlots(c.def)[slot])]
		// Prescribed in the first quarter of an hour (the shortest visit lasts 15 minutes).
		at := e.start.Add(time.Duration(r.between(5, 14)) * time.Minute)
		m := &medState{def: def, cond: c, enc: e, at: at, acute: !c.def.chronic}
		all = append(all, ordered{m, e.idx*100 + len(all)})
	}
	for _, c := range append(slices.Clone(g.chronic), g.acutes...) {
		slots := conditionsMedSlots(c.def)
		for s := range slots {
			if s > 0 && !r.chance(400) {
				continue
			}
			e := c.diag
			if s > 0 {
				for _, later := range g.encs {
					if later.idx > e.idx && later.reason == c {
						e = later
						break
					}
				}
			}
			add(c, s, e)
		}
	}
	slices.SortStableFunc(all, func(a, b ordered) int { return a.key - b.key })
	for _, o := range all {
		g.meds = append(g.meds, o.m)
	}
}

// conditionsMedSlots splits conditionDef.meds into slots: alternatives are joined by "|".
func conditionsMedSlots(d *conditionDef) [][]string {
	var out [][]string
	for _, s := range d.meds {
		var alts []string
		start := 0
		for i := 0; i <= len(s); i++ {
			if i == len(s) || s[i] == '|' {
				alts = append(alts, s[start:i])
				start = i + 1
			}
		}
		out = append(out, alts)
	}
	return out
}

// drawConsents gives about 30% of patients one or two privacy consents.
func (g *patientGen) drawConsents() {
	r := g.r
	if !r.chance(300) {
		return
	}
	hasPSY := false
	for _, c := range g.chronic {
		if c.def.label == &labelPSY {
			hasPSY = true
		}
	}
	psyWeight := 30
	if hasPSY {
		psyWeight = 90
	}
	kinds := []int{r.weighted(40, 30, psyWeight)}
	if r.chance(300) {
		second := r.weighted(40, 30, psyWeight)
		if second != kinds[0] {
			kinds = append(kinds, second)
		}
	}
	first := g.encs[0].start
	o := g.org(g.home)
	for n, kind := range kinds {
		at := first.Add(time.Duration(r.intn(int(g.cfg.Now.Sub(first)/time.Minute))) * time.Minute).Truncate(time.Minute)
		id := "consent-" + g.num + "-" + strconv.Itoa(n+1)
		var root provision
		switch kind {
		case 0:
			root = denyActor(organizationRef(insurer(g.cfg)))
			root.Provision[0].Period = &period{Start: date(at)}
		case 1:
			root = denyPurposes(r.chance(250))
		default:
			root = hideLabelExcept(labelPSY, practitionerRef(g.gp), true)
		}
		g.consents = append(g.consents, newConsent(id, g.subject(), at, organizationRef(o), root))
	}
}

// emit draws the observations and writes the bundle.
func (g *patientGen) emit() []byte {
	var b builder
	b.add("Patient", g.id, g.pat)
	for _, e := range g.encs {
		b.add("Encounter", e.id, g.buildEncounter(e))
	}
	for _, c := range append(slices.Clone(g.chronic), g.acutes...) {
		b.add("Condition", c.id, g.buildCondition(c))
	}
	for k, e := range g.encs {
		g.observe(e, k == 0, len(g.encs)-k-1)
	}
	b.entries = append(b.entries, g.obs.entries...)
	for k, m := range g.meds {
		id := "medreq-" + g.num + "-" + pad(k+1, 2)
		b.add("MedicationRequest", id, g.buildMedication(id, m))
	}
	for _, c := range g.consents {
		b.add("Consent", c.ID, c)
	}
	return b.bytes()
}

func (g *patientGen) buildEncounter(e *encState) *encounter {
	cause := e.reason
	if cause == nil {
		cause = e.acute
	}
	var why *conditionRef
	if cause != nil {
		why = &conditionRef{def: cause.def, id: cause.id}
	}
	return newEncounter(e.id, g.subject(), e.kind, e.start, e.end, g.org(e.org), e.prac, why, e.reasonCode, e.label())
}

func (g *patientGen) buildCondition(c *condState) *condition {
	return newCondition(c.id, c.def, g.subject(), c.diag.ref(), c.onset, c.diag.start, c.abatement, c.diag.prac)
}

// org returns care organisation k (1-based), computed once per patient.
func (g *patientGen) org(k int) orgInfo {
	if g.orgs == nil {
		g.orgs = make([]orgInfo, g.cfg.Organizations+1)
	}
	if g.orgs[k].id == "" {
		g.orgs[k] = careOrg(g.cfg, k)
	}
	return g.orgs[k]
}

func (g *patientGen) buildMedication(id string, m *medState) *medicationRequest {
	return medicationFor(id, m.def, g.subject(), m.enc.ref(), m.at, m.enc.prac, m.cond.ref(), m.cond.def.label,
		m.acute, m.acute && m.at.Add(30*day).Before(g.cfg.Now))
}
