package rest_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// If-Match makes update, patch and delete version-aware (https://hl7.org/fhir/R4/http.html#concurrency).

// ifMatchRequest returns the request of a method on Patient/p1 with an If-Match header.
func ifMatchRequest(method, ifMatch string) *rest.Request {
	req := &rest.Request{Type: "Patient", ID: "p1", IfMatch: ifMatch}
	switch method {
	case "PUT":
		req.Interaction, req.Body = rest.Update, []byte(patient("p1", "Changed", "female"))
	case "PATCH":
		req.Interaction, req.ContentType = rest.Patch, "application/json-patch+json"
		req.Body = []byte(`[{"op":"replace","path":"/gender","value":"male"}]`)
	case "DELETE":
		req.Interaction = rest.Delete
	}
	return req
}

func TestIfMatch(t *testing.T) {
	t.Parallel()
	// The state Patient/p1 is in before the request.
	const (
		atVersion2 = "at version 2"
		absent     = "absent"
		deleted    = "deleted (version 3)"
	)
	for _, tc := range []struct {
		name, state, ifMatch string
		// status of each method: a success, or the error's; 412 names If-Match.
		status map[string]int
		code   string
	}{
		{"current version", atVersion2, `W/"2"`, map[string]int{"PUT": 200, "PATCH": 200, "DELETE": 204}, ""},
		{"current version, strong tag", atVersion2, `"2"`, map[string]int{"PUT": 200, "PATCH": 200, "DELETE": 204}, ""},
		{"stale version", atVersion2, `W/"1"`, map[string]int{"PUT": 412, "PATCH": 412, "DELETE": 412}, "conflict"},
		{"future version", atVersion2, `W/"5"`, map[string]int{"PUT": 412, "PATCH": 412, "DELETE": 412}, "conflict"},
		{"malformed", atVersion2, `W/"two"`, map[string]int{"PUT": 400, "PATCH": 400, "DELETE": 400}, "value"},
		{"version zero", atVersion2, `W/"0"`, map[string]int{"PUT": 400, "PATCH": 400, "DELETE": 400}, "value"},
		{"unknown resource", absent, `W/"1"`, map[string]int{"PUT": 412, "PATCH": 404, "DELETE": 412}, ""},
		{"deleted resource", deleted, `W/"2"`, map[string]int{"PUT": 412, "PATCH": 410, "DELETE": 412}, ""},
	} {
		for _, method := range []string{"PUT", "PATCH", "DELETE"} {
			t.Run(tc.name+" "+method, func(t *testing.T) {
				t.Parallel()
				env := resttest.New(t)
				switch tc.state {
				case atVersion2:
					env.Put(t, patient("p1", "One", "female"))
					env.Put(t, patient("p1", "Two", "female"))
				case deleted:
					env.Put(t, patient("p1", "One", "female"))
					env.Put(t, patient("p1", "Two", "female"))
					env.Delete(t, "Patient", "p1")
				}
				before := resttest.Refs(env.Versions(t, "", ""))
				status := tc.status[method]
				resp, err := env.Do(ifMatchRequest(method, tc.ifMatch))
				after := resttest.Refs(env.Versions(t, "", ""))
				if status < 400 {
					if err != nil {
						t.Fatal(err)
					}
					resttest.WantStatus(t, resp, status)
					if resp.VersionID != "3" || len(after) != len(before)+1 {
						t.Errorf("version %q; store %v -> %v: want version 3 written", resp.VersionID, before, after)
					}
					return
				}
				expression := ""
				switch status {
				case 412:
					// The header, never the store's internal operation index ("Tx.op[0]").
					expression = "If-Match"
				case 400:
					expression = "If-Match"
				}
				resttest.WantError(t, err, status, tc.code, expression)
				if !slices.Equal(after, before) {
					t.Errorf("a refused %s wrote: %v -> %v", method, before, after)
				}
			})
		}
	}
}

// TestConcurrentIfMatch: of writers that all hold version 1, exactly one wins; the others are 412 and
// their content is nowhere.
func TestConcurrentIfMatch(t *testing.T) {
	t.Parallel()
	env := resttest.New(t)
	env.Put(t, patient("p1", "Race", "female"))
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	statuses := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		req := rest.Request{Interaction: rest.Update, Type: "Patient", ID: "p1", IfMatch: `W/"1"`,
			Body: []byte(patient("p1", fmt.Sprintf("Writer%d", i), "female"))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := env.Do(&req)
			if err != nil {
				statuses[i], errs[i] = fhir.KindOf(err).Status(), err
				return
			}
			statuses[i] = resp.Status
		}()
	}
	close(start)
	wg.Wait()
	counts := map[int]int{}
	winner := ""
	for i, s := range statuses {
		counts[s]++
		if s == 200 {
			winner = fmt.Sprintf("Writer%d", i)
		} else if s != 412 {
			t.Errorf("writer %d: %d %v", i, s, errs[i])
		}
	}
	if counts[200] != 1 || counts[412] != n-1 {
		t.Fatalf("statuses %v, want exactly one 200 and %d 412", counts, n-1)
	}
	cur := env.Stored(t, "Patient", "p1")
	if cur.VersionID != 2 || resttest.Str(t, cur.Body, "name.0.family") != winner {
		t.Errorf("current version %d by %s, want 2 by %s", cur.VersionID, resttest.Str(t, cur.Body, "name.0.family"), winner)
	}
	if vs := env.Versions(t, "Patient", "p1"); len(vs) != 2 {
		t.Errorf("versions %v, want 2", resttest.Refs(vs))
	}
}
