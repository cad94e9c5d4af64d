package loadgen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"fhirgate/population"
)

// Workloads names the workloads Run knows, in the order the usage lists them.
var Workloads = []string{"read", "search", "create", "transaction", "mixed"}

// Mixed is the share, in percent, of each interaction in the mixed workload: mostly reads, as a
// record system sees.
var Mixed = struct{ Read, Search, Create int }{Read: 75, Search: 20, Create: 5}

// workload makes the requests of one run; next is called from many workers at once, each with its own
// random source.
type workload struct {
	name     string
	patients int
	seed     int64
	bundles  [][]byte     // transaction bodies given by the caller, posted round robin
	counts   []int        // resources in each of bundles
	nextTx   atomic.Int64 // next bundle or generated patient
}

// newWorkload prepares a workload whose name RunConfig.Check accepted.
func newWorkload(name string, patients int, seed int64, bundles [][]byte) (*workload, error) {
	if patients < 1 && name != "transaction" {
		return nil, fmt.Errorf("patients %d: the %s workload needs the size of the population loaded by populate", patients, name)
	}
	w := &workload{name: name, patients: patients, seed: seed, bundles: bundles}
	for i, b := range bundles {
		n, err := transactionEntries(b)
		if err != nil {
			return nil, fmt.Errorf("bundle %d: %w", i+1, err)
		}
		w.counts = append(w.counts, n)
	}
	return w, nil
}

// transactionEntries checks that b is a transaction or batch Bundle and counts its entries.
func transactionEntries(b []byte) (int, error) {
	var bundle struct {
		ResourceType string            `json:"resourceType"`
		Type         string            `json:"type"`
		Entry        []json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		return 0, fmt.Errorf("not JSON: %v", err)
	}
	if bundle.ResourceType != "Bundle" || (bundle.Type != "transaction" && bundle.Type != "batch") {
		return 0, fmt.Errorf("a %s %s, want a transaction or batch Bundle", bundle.Type, bundle.ResourceType)
	}
	return len(bundle.Entry), nil
}

func (w *workload) next(r *rand.Rand) request {
	switch w.name {
	case "read":
		return w.read(r)
	case "search":
		return w.search(r)
	case "create":
		return w.create(r)
	case "transaction":
		return w.transaction()
	}
	switch p := r.IntN(100); {
	case p < Mixed.Read:
		return w.read(r)
	case p < Mixed.Read+Mixed.Search:
		return w.search(r)
	default:
		return w.create(r)
	}
}

// read reads a patient, their first encounter or their first observation: resources every generated
// patient has.
func (w *workload) read(r *rand.Rand) request {
	i := r.IntN(w.patients)
	num := population.PatientID(i)[len("pat-"):]
	var path string
	switch r.IntN(3) {
	case 0:
		path = "Patient/pat-" + num
	case 1:
		path = "Encounter/enc-" + num + "-001"
	default:
		path = "Observation/obs-" + num + "-0001"
	}
	return request{method: http.MethodGet, path: path, resources: 1}
}

// searches are patient-scoped searches a clinical app makes; %s is the patient's id.
var searches = []string{
	"Observation?patient=Patient/%s&category=vital-signs&_count=20",
	"Observation?patient=Patient/%s&code=http://loinc.org|8867-4&_sort=-date&_count=10",
	"Condition?patient=Patient/%s&clinical-status=active",
	"Encounter?patient=Patient/%s&_sort=-date&_count=5",
	"MedicationRequest?patient=Patient/%s&status=active,completed",
}

func (w *workload) search(r *rand.Rand) request {
	q := searches[r.IntN(len(searches))]
	return request{method: http.MethodGet, path: fmt.Sprintf(q, population.PatientID(r.IntN(w.patients)))}
}

// create posts a new heart-rate Observation for a patient of the population.
func (w *workload) create(r *rand.Rand) request {
	body := `{"resourceType":"Observation","status":"final",` +
		`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},` +
		`"subject":{"reference":"Patient/` + population.PatientID(r.IntN(max(w.patients, 1))) + `"},` +
		`"effectiveDateTime":"` + time.Now().UTC().Format(time.RFC3339) + `",` +
		`"valueQuantity":{"value":` + strconv.Itoa(50+r.IntN(60)) + `,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`
	return request{method: http.MethodPost, path: "Observation", body: []byte(body), resources: 1}
}

// transaction posts the caller's bundles round robin or, without them, the transaction Bundle of a new
// generated patient (pat-N, pat-N+1, ... after the N loaded by populate; a second run updates them).
func (w *workload) transaction() request {
	k := int(w.nextTx.Add(1) - 1)
	if len(w.bundles) > 0 {
		k %= len(w.bundles)
		return request{method: http.MethodPost, body: w.bundles[k], resources: w.counts[k]}
	}
	i := w.patients + k
	b := population.Patient(population.Config{Patients: i + 1, Seed: w.seed}, i)
	n, _ := transactionEntries(b)
	return request{method: http.MethodPost, body: b, resources: n}
}
