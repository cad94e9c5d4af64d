package rest_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"fhirgate/fhir"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/rest/resttest"
)

// history at instance, type and system level (https://hl7.org/fhir/R4/http.html#history).

// historyData is what historyEnv wrote, in order.
type historyData struct {
	env    *resttest.Env
	p      string      // the Patient with 5 versions
	order  []string    // "Type/id/_history/vid" of each write
	stamps []time.Time // the time of each write
}

// historyEnv writes, a second apart: Patient p (created, then 4 updates), Patient q, Observation o.
func historyEnv(t *testing.T) *historyData {
	t.Helper()
	h := &historyData{env: resttest.New(t)}
	record := func(resp *rest.Response) {
		h.order = append(h.order, fmt.Sprintf("%s/%s/_history/%s", resttest.Str(t, resp.Body, "resourceType"), idOf(t, resp), resp.VersionID))
		h.stamps = append(h.stamps, resp.LastModified)
		h.env.Clock.Advance(time.Second)
	}
	created := h.env.Create(t, patient("", "V1", "female"))
	h.p = idOf(t, created)
	record(created)
	for v := 2; v <= 5; v++ {
		record(h.env.Put(t, patient(h.p, fmt.Sprintf("V%d", v), "female")))
	}
	record(h.env.Create(t, patient("", "Q", "male")))
	record(h.env.Create(t, observation("", "Patient/"+h.p)))
	return h
}

// newestFirst returns the writes whose ref starts with prefix, newest first.
func newestFirst(order []string, prefix string) []string {
	var out []string
	for _, x := range order {
		if strings.HasPrefix(x, prefix) {
			out = append(out, x)
		}
	}
	slices.Reverse(out)
	return out
}

func TestHistory(t *testing.T) {
	t.Parallel()

	for _, level := range []struct{ name, typ, self string }{
		{"instance", "Patient", "Patient/{p}/_history"},
		{"type", "Patient", "Patient/_history"},
		{"system", "", "_history"},
	} {
		t.Run(level.name, func(t *testing.T) {
			t.Parallel()
			h := historyEnv(t)
			id, prefix := "", "" // of the refs the level lists
			switch level.name {
			case "instance":
				id, prefix = h.p, "Patient/"+h.p+"/"
			case "type":
				prefix = "Patient/"
			}
			b := h.env.History(t, level.typ, id, "")
			if b.Type != "history" {
				t.Errorf("Bundle.type %q", b.Type)
			}
			if got, want := b.Versions(t), newestFirst(h.order, prefix); !slices.Equal(got, want) {
				t.Errorf("versions\n got %v\nwant %v", got, want)
			}
			if got, want := b.LinkURL("self"), h.env.URL(strings.ReplaceAll(level.self, "{p}", h.p)); got != want {
				t.Errorf("self link %q, want %q", got, want)
			}
			if next := b.LinkURL("next"); next != "" {
				t.Errorf("next link %q on a complete page", next)
			}
			// Each entry says how and when its version was written.
			when := map[string]time.Time{}
			for i, ref := range h.order {
				when[ref] = h.stamps[i]
			}
			for i, ref := range b.Versions(t) {
				e := b.Entry[i]
				wantMethod, wantStatus := "PUT", "200 OK"
				if strings.HasSuffix(ref, "/_history/1") {
					wantMethod, wantStatus = "POST", "201 Created"
				}
				if e.Request.Method != wantMethod || e.Response.Status != wantStatus ||
					e.Response.LastModified != fhir.FormatInstant(when[ref]) {
					t.Errorf("entry %s: %s, %+v; want %s, %s at %s", ref, e.Request.Method, e.Response, wantMethod, wantStatus,
						fhir.FormatInstant(when[ref]))
				}
				if wantMethod == "POST" && !strings.HasSuffix(e.Response.Location, "/_history/1") {
					t.Errorf("entry %s: created without a location: %+v", ref, e.Response)
				}
			}
		})
	}

	t.Run("instance history of an unknown id", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		err := env.Fail(t, resttest.HistoryRequest(t, "Patient", "nope", ""))
		resttest.WantError(t, err, 404, "not-found", "")
	})

	t.Run("an empty store has an empty history", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		if b := env.History(t, "", "", ""); len(b.Entry) != 0 {
			t.Errorf("%d entries", len(b.Entry))
		}
	})

	for _, level := range []string{"instance", "system"} {
		t.Run("pages visit every version once, newest first, "+level, func(t *testing.T) {
			t.Parallel()
			h := historyEnv(t)
			typ, id, path, want := "", "", "_history", newestFirst(h.order, "")
			if level == "instance" {
				typ, id, path, want = "Patient", h.p, "Patient/"+h.p+"/_history", newestFirst(h.order, "Patient/"+h.p+"/")
			}
			b := h.env.History(t, typ, id, "_count=2")
			if self := b.LinkURL("self"); self != h.env.URL(path)+"?_count=2" {
				t.Errorf("self link %q does not show _count", self)
			}
			got := b.Versions(t)
			for pages := 1; b.LinkURL("next") != ""; pages++ {
				if pages > len(want) {
					t.Fatal("more pages than versions")
				}
				next := b.LinkURL("next")
				if !strings.HasPrefix(next, h.env.URL(path)+"?") {
					t.Errorf("next link %q is not under %s", next, path)
				}
				resp := h.env.Must(t, resttest.Follow(t, next))
				b = resttest.DecodeBundle(t, resp.Body)
				if len(b.Entry) == 0 || len(b.Entry) > 2 {
					t.Errorf("page of %d entries with _count=2", len(b.Entry))
				}
				got = append(got, b.Versions(t)...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages\n got %v\nwant %v", got, want)
			}
		})
	}

	t.Run("_since keeps the versions written at or after it", func(t *testing.T) {
		t.Parallel()
		h := historyEnv(t)
		since := url.QueryEscape(fhir.FormatInstant(h.stamps[3])) // from the 4th write: p v4, p v5, q v1, o v1
		b := h.env.History(t, "", "", "_since="+since)
		if got, want := b.Versions(t), newestFirst(h.order[3:], ""); !slices.Equal(got, want) {
			t.Errorf("_since\n got %v\nwant %v", got, want)
		}
	})

	t.Run("_since is kept across pages", func(t *testing.T) {
		t.Parallel()
		h := historyEnv(t)
		since := url.QueryEscape(fhir.FormatInstant(h.stamps[3]))
		b := h.env.History(t, "Patient", h.p, "_count=1&_since="+since)
		next := b.LinkURL("next")
		if !strings.Contains(next, "_since=") {
			t.Fatalf("next link %q drops _since", next)
		}
		b2 := resttest.DecodeBundle(t, h.env.Must(t, resttest.Follow(t, next)).Body)
		got := append(b.Versions(t), b2.Versions(t)...)
		if want := newestFirst(h.order[3:5], ""); !slices.Equal(got, want) || b2.LinkURL("next") != "" {
			t.Errorf("_since paged\n got %v (next %q)\nwant %v", got, b2.LinkURL("next"), want)
		}
	})

	t.Run("a _since in the future is empty", func(t *testing.T) {
		t.Parallel()
		h := historyEnv(t)
		future := url.QueryEscape(fhir.FormatInstant(h.env.Clock.Now().Add(time.Hour)))
		if b := h.env.History(t, "", "", "_since="+future); len(b.Entry) != 0 {
			t.Errorf("%d entries after a future _since", len(b.Entry))
		}
	})

	t.Run("_count=0 counts", func(t *testing.T) {
		t.Parallel()
		h := historyEnv(t)
		b := h.env.History(t, "Patient", "", "_count=0")
		if b.Total == nil || *b.Total != 6 || len(b.Entry) != 0 {
			t.Errorf("total %v with %d entries, want 6 and none", b.Total, len(b.Entry))
		}
	})

	t.Run("_count above the maximum is capped", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t, resttest.WithConfig(func(c *rest.Config) { c.MaxCount = 2 }))
		for v := 0; v < 3; v++ {
			env.Put(t, patient("p1", fmt.Sprint("V", v), "female"))
		}
		b := env.History(t, "Patient", "p1", "_count=100")
		if len(b.Entry) != 2 || !strings.Contains(b.LinkURL("next"), "_count=2") {
			t.Errorf("%d entries, next %q; want 2 and a next page of 2", len(b.Entry), b.LinkURL("next"))
		}
	})

	t.Run("unknown parameters are ignored unless strict", func(t *testing.T) {
		t.Parallel()
		env := resttest.New(t)
		env.Put(t, patient("p1", "P", "female"))
		if b := env.History(t, "Patient", "p1", "foo=bar"); len(b.Entry) != 1 {
			t.Errorf("%d entries", len(b.Entry))
		}
		req := resttest.HistoryRequest(t, "Patient", "p1", "foo=bar")
		req.Strict = true
		resttest.WantError(t, env.Fail(t, req), 400, "not-supported", "foo")
	})

	for _, tc := range []struct {
		name, query string
		code, expr  string
	}{
		{"_count not a number", "_count=abc", "value", "_count"},
		{"_count negative", "_count=-1", "value", "_count"},
		{"_count twice", "_count=1&_count=2", "value", "_count"},
		{"_since not an instant", "_since=yesterday", "value", "_since"},
		{"_since without a time zone", "_since=2024-01-01T10:00:00", "value", "_since"},
		{"_at", "_at=2024-01-01", "not-supported", "_at"},
		{"_list", "_list=x", "not-supported", "_list"},
		{"forged cursor", "_cursor=abc", "value", "_cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			env.Put(t, patient("p1", "P", "female"))
			resttest.WantError(t, env.Fail(t, resttest.HistoryRequest(t, "Patient", "p1", tc.query)), 400, tc.code, tc.expr)
		})
	}
}

// TestHistoryCursorStability: a cursor names the last version seen, so that what is written between
// pages neither shows up in later pages nor pushes versions already seen into them twice.
func TestHistoryCursorStability(t *testing.T) {
	t.Parallel()
	for _, level := range []string{"instance", "type", "system"} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			env := resttest.New(t)
			for v := 1; v <= 5; v++ {
				env.Put(t, patient("p1", fmt.Sprint("V", v), "female"))
				env.Clock.Advance(time.Second)
			}
			typ, id := "", ""
			switch level {
			case "instance":
				typ, id = "Patient", "p1"
			case "type":
				typ = "Patient"
			}
			b := env.History(t, typ, id, "_count=2")
			got := b.Versions(t)
			// Written after page 1: a new version of p1 and a new Patient.
			newer := env.Put(t, patient("p1", "Later", "female"))
			other := env.Create(t, patient("", "Other", "male"))
			for next := b.LinkURL("next"); next != ""; next = b.LinkURL("next") {
				b = resttest.DecodeBundle(t, env.Must(t, resttest.Follow(t, next)).Body)
				got = append(got, b.Versions(t)...)
			}
			want := []string{"Patient/p1/_history/5", "Patient/p1/_history/4", "Patient/p1/_history/3", "Patient/p1/_history/2",
				"Patient/p1/_history/1"}
			if !slices.Equal(got, want) {
				t.Errorf("pages\n got %v\nwant %v (written later: version %s, Patient/%s)", got, want, newer.VersionID, idOf(t, other))
			}
		})
	}
}
