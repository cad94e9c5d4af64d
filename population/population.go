package population

import (
	"strconv"
	"time"
)

// Config describes a population. The zero value of each field but Patients selects its default.
type Config struct {
	// Patients is the number of patients: Patient accepts 0 <= i < Patients.
	Patients int
	// Seed selects the population: the same Config gives byte-identical output, another seed another
	// population (with the same ids).
	Seed int64
	// Now is the reference instant: every date lies in the ten years before it (birth dates excepted).
	// Zero means 2026-01-01T00:00:00Z, so that the output does not depend on the clock.
	Now time.Time
	// Organizations is the number of care organisations, org-001 to org-NNN (default 8). The insurer,
	// org-insurer, comes in addition.
	Organizations int
	// Practitioners is the number of practitioners, prac-001 to prac-NNN (default 40). The last
	// Practitioners/20 of them (at least one when there are two or more) are the insurer's medical
	// advisers; the others give care.
	Practitioners int
}

// Defaults of Config.
const (
	DefaultOrganizations = 8
	DefaultPractitioners = 40
)

// defaultNow is Config.Now when zero.
var defaultNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// InsurerID is the id of the insurer organisation of every population (Organization/org-insurer).
const InsurerID = "org-insurer"

// PatientID returns the id of patient i: pat-000042.
func PatientID(i int) string { return "pat-" + pad(i, 6) }

// OrganizationID returns the id of care organisation k, counted from 1: org-003.
func OrganizationID(k int) string { return "org-" + pad(k, 3) }

// PractitionerID returns the id of practitioner j, counted from 1: prac-017.
func PractitionerID(j int) string { return "prac-" + pad(j, 3) }

// Advisers returns the ids of the practitioners who work for the insurer as medical advisers.
func Advisers(cfg Config) []string {
	cfg = cfg.normalized()
	var ids []string
	for j := cfg.Practitioners - adviserCount(cfg) + 1; j <= cfg.Practitioners; j++ {
		ids = append(ids, PractitionerID(j))
	}
	return ids
}

func (c Config) normalized() Config {
	if c.Now.IsZero() {
		c.Now = defaultNow
	}
	c.Now = c.Now.UTC()
	if c.Organizations <= 0 {
		c.Organizations = DefaultOrganizations
	}
	if c.Practitioners <= 0 {
		c.Practitioners = DefaultPractitioners
	}
	return c
}

func adviserCount(cfg Config) int {
	if cfg.Practitioners < 2 {
		return 0
	}
	return max(1, cfg.Practitioners/20)
}

// staffMember is what a patient needs to know of a practitioner: who they are and where they work.
type staffMember struct {
	id       string // prac-017
	given    string
	family   string
	gender   string
	special  int   // index into specialties
	orgs     []int // care organisations (1-based), one or two; empty for an adviser
	adviser  bool
	startDay int // days before Now that the first role started (the second starts 200 days later)
}

func (s *staffMember) display() string { return "Dr " + s.given + " " + s.family }

// staff returns every practitioner of the population; staff[j-1] is prac-j. It depends only on the
// seed and the counts, so Shared and Patient agree on it.
func staff(cfg Config) []staffMember {
	advisers := adviserCount(cfg)
	care := cfg.Practitioners - advisers
	out := make([]staffMember, cfg.Practitioners)
	for j := 1; j <= cfg.Practitioners; j++ {
		r := newRNG(cfg.Seed, streamPractitioner, j)
		m := staffMember{id: PractitionerID(j)}
		m.gender = pick(r, []string{"male", "female"})
		if r.chance(800) {
			m.family = pick(r, frenchFamily)
			m.given = pick(r, given(m.gender, true))
		} else {
			m.family = pick(r, englishFamily)
			m.given = pick(r, given(m.gender, false))
		}
		m.startDay = r.between(365, 10*365-200)
		if j > care {
			m.adviser = true
			m.special = 2 // internal medicine
		} else {
			// General practice for two in five; the first organisation covers every organisation in
			// turn, so each has staff when there are enough practitioners.
			if r.chance(400) {
				m.special = 0
			} else {
				m.special = 1 + r.intn(len(specialties)-1)
			}
			first := (j-1)%cfg.Organizations + 1
			m.orgs = []int{first}
			if cfg.Organizations > 1 && r.chance(400) {
				second := 1 + r.intn(cfg.Organizations-1)
				if second >= first {
					second++
				}
				m.orgs = append(m.orgs, second)
			}
		}
		out[j-1] = m
	}
	return out
}

func given(gender string, french bool) []string {
	switch {
	case french && gender == "male":
		return frenchMale
	case french:
		return frenchFemale
	case gender == "male":
		return englishMale
	default:
		return englishFemale
	}
}

// orgInfo is a care organisation or the insurer.
type orgInfo struct {
	id   string
	name string
	city city
}

// careOrg returns care organisation k (1-based).
func careOrg(cfg Config, k int) orgInfo {
	r := newRNG(cfg.Seed, streamOrganization, k)
	// Distinct qualifiers for the first len(orgQualifiers) organisations, from an offset the seed picks.
	offset := int(newRNG(cfg.Seed, streamShared, 0).next() % uint64(len(orgQualifiers)))
	name := pick(r, orgKinds) + " " + orgQualifiers[(offset+k-1)%len(orgQualifiers)]
	c := pick(r, cities)
	if k > len(orgQualifiers) {
		name += " " + strconv.Itoa((k-1)/len(orgQualifiers)+1)
	}
	return orgInfo{id: OrganizationID(k), name: name, city: c}
}

func insurer(cfg Config) orgInfo {
	r := newRNG(cfg.Seed, streamShared, 1)
	return orgInfo{id: InsurerID, name: pick(r, insurerNames), city: pick(r, cities)}
}

// Shared returns the transaction Bundle (JSON) of the resources that patients share: the care
// organisations and the insurer, the practitioners and their PractitionerRoles (role-017-1,
// role-017-2). A care practitioner has one or two roles in care organisations; an adviser has one
// role, at the insurer.
func Shared(cfg Config) []byte {
	cfg = cfg.normalized()
	var b builder
	for k := 1; k <= cfg.Organizations; k++ {
		o := careOrg(cfg, k)
		b.add("Organization", o.id, buildOrganization(o, orgTypeProvider, newRNG(cfg.Seed, streamOrganization, 100000+k)))
	}
	ins := insurer(cfg)
	b.add("Organization", ins.id, buildOrganization(ins, orgTypeInsurer, newRNG(cfg.Seed, streamShared, 2)))
	members := staff(cfg)
	for j := range members {
		m := &members[j]
		r := newRNG(cfg.Seed, streamPractitioner, 100000+j+1)
		b.add("Practitioner", m.id, buildPractitioner(m, r))
		orgs := m.orgs
		if m.adviser {
			orgs = []int{0}
		}
		for n, k := range orgs {
			roleID := "role-" + m.id[len("prac-"):] + "-" + strconv.Itoa(n+1)
			role := &practitionerRole{
				ResourceType: "PractitionerRole", ID: roleID, Active: true,
				Period:       &period{Start: date(cfg.Now.AddDate(0, 0, -m.startDay+n*200))},
				Practitioner: reference{Reference: "Practitioner/" + m.id, Display: m.display()},
				Code:         []concept{roleDoctor},
				Specialty:    []concept{specialties[m.special]},
				Telecom:      []contactPoint{{System: "phone", Value: phone(r, false), Use: "work"}},
			}
			if k == 0 {
				role.Organization = reference{Reference: "Organization/" + InsurerID, Display: ins.name}
				role.Code = []concept{roleAdvise}
			} else {
				o := careOrg(cfg, k)
				role.Organization = reference{Reference: "Organization/" + o.id, Display: o.name}
			}
			b.add("PractitionerRole", roleID, role)
		}
	}
	return b.bytes()
}

func buildOrganization(o orgInfo, typ concept, r *rng) *organization {
	return &organization{
		ResourceType: "Organization", ID: o.id,
		Identifier: []identifier{{Use: "official", System: sysOrgID, Value: strconv.Itoa(r.between(100000000, 999999999))}},
		Active:     true,
		Type:       []concept{typ},
		Name:       o.name,
		Telecom:    []contactPoint{{System: "phone", Value: phone(r, false), Use: "work"}},
		Address:    []address{streetAddress(r, o.city, "work")},
	}
}

func buildPractitioner(m *staffMember, r *rng) *practitioner {
	rpps := "10" + pad(r.between(0, 999999999), 9)
	return &practitioner{
		ResourceType: "Practitioner", ID: m.id,
		Identifier: []identifier{{Use: "official", Type: idTypePRN, System: sysRPPS, Value: "8" + rpps}},
		Active:     true,
		Name:       []humanName{{Use: "official", Family: m.family, Given: []string{m.given}, Prefix: []string{"Dr"}}},
		Telecom: []contactPoint{{System: "email", Value: asciiFold(m.given) + "." + asciiFold(m.family) + "@" +
			"sante.example.org", Use: "work"}},
		Gender:        m.gender,
		Qualification: []qualification{{Code: degreeMD}},
	}
}

// streetAddress returns an address in c.
func streetAddress(r *rng, c city, use string) address {
	line := strconv.Itoa(r.between(1, 120)) + " " + pick(r, streetKinds) + " " + pick(r, streetNames)
	return address{Use: use, Type: "physical", Line: []string{line}, City: c.name, PostalCode: c.postalCode, Country: "FR"}
}

// phone returns a French phone number, mobile (06/07) or landline.
func phone(r *rng, mobile bool) string {
	first := pick(r, []string{"1", "2", "3", "4", "5"})
	if mobile {
		first = pick(r, []string{"6", "7"})
	}
	s := "+33 " + first
	for range 4 {
		s += " " + pad(r.intn(100), 2)
	}
	return s
}
