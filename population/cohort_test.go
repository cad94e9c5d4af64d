package population

import (
	"encoding/json"
	"testing"
)

// TestCohort: the cohort is one PUT of Group/bench-cohort, an actual Group of persons listing every
// patient of the population in order.
func TestCohort(t *testing.T) {
	var b struct {
		Type  string
		Entry []struct {
			Request  struct{ Method, URL string }
			Resource struct {
				ResourceType, ID, Type string
				Actual                 bool
				Quantity               int
				Member                 []struct{ Entity struct{ Reference string } }
			}
		}
	}
	if err := json.Unmarshal(Cohort(Config{Patients: 3, Seed: 1}), &b); err != nil {
		t.Fatal(err)
	}
	if b.Type != "transaction" || len(b.Entry) != 1 {
		t.Fatalf("bundle %+v", b)
	}
	e := b.Entry[0]
	if e.Request.Method != "PUT" || e.Request.URL != "Group/"+CohortID || e.Resource.ResourceType != "Group" ||
		e.Resource.Type != "person" || !e.Resource.Actual || e.Resource.Quantity != 3 || len(e.Resource.Member) != 3 {
		t.Fatalf("entry %+v", e)
	}
	for i, m := range e.Resource.Member {
		if m.Entity.Reference != "Patient/"+PatientID(i) {
			t.Errorf("member %d is %s", i, m.Entity.Reference)
		}
	}
}
