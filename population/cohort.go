package population

// CohortID is the id of the Group whose members are every patient of a population.
const CohortID = "bench-cohort"

// group is an R4 Group of patients.
type group struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Type         string        `json:"type"`
	Actual       bool          `json:"actual"`
	Name         string        `json:"name"`
	Quantity     int           `json:"quantity"`
	Member       []groupMember `json:"member,omitempty"`
}

type groupMember struct {
	Entity reference `json:"entity"`
}

// Cohort returns the transaction Bundle (JSON) of Group/bench-cohort: an actual Group of persons whose
// members are the population's patients, in order (a cohort for Group-level bulk export). It references
// the patients, so it is loaded after them.
func Cohort(cfg Config) []byte {
	cfg = cfg.normalized()
	g := group{ResourceType: "Group", ID: CohortID, Type: "person", Actual: true,
		Name: "every patient of the synthetic population", Quantity: cfg.Patients}
	for i := range cfg.Patients {
		g.Member = append(g.Member, groupMember{Entity: reference{Reference: "Patient/" + PatientID(i)}})
	}
	var b builder
	b.add("Group", CohortID, g)
	return b.bytes()
}
