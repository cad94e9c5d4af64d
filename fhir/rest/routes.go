package rest

import (
	"net/url"
	"strings"

	"fhirgate/fhir"
)

// Route is one entry of the route table: an HTTP method, a path pattern relative to the base URL
// ({type}, {id}, {vid} are parameters; other segments are literal), and the interaction it performs.
type Route struct {
	Method      string
	Path        string
	Interaction Interaction
	// Compartment is set on compartment searches: the compartment type, whose id is the {id} segment.
	Compartment string
	// Operation names the operation of an Operation route (e.g. "everything").
	Operation string
}

// NewRequest returns the request a match of the route describes.
func (r Route) NewRequest(typ, id, vid string) *Request {
	req := &Request{Interaction: r.Interaction, Type: typ, ID: id, VersionID: vid, Operation: r.Operation}
	if r.Compartment != "" {
		req.Compartment, req.ID = r.Compartment+"/"+id, ""
		if req.Type == "" {
			req.Type = r.Compartment
		}
	}
	if r.Operation != "" && r.Compartment == "" && strings.HasPrefix(r.Path, "Patient/") {
		req.Type = "Patient"
	}
	if r.Operation != "" && strings.HasPrefix(r.Path, "Group/") {
		req.Type = "Group"
	}
	return req
}

// Level returns where the route sits: "system", "type" or "instance".
func (r Route) Level() string {
	switch {
	case strings.Contains(r.Path, "{id}"):
		return "instance"
	case strings.Contains(r.Path, "{type}"):
		return "type"
	}
	return "system"
}

// Routes is the route table of the FHIR API. The gateway serves exactly these routes (and HEAD wherever
// GET is served), batch entries are matched against them, and the CapabilityStatement lists them.
var Routes = []Route{
	{Method: "GET", Path: "metadata", Interaction: Capabilities},
	{Method: "POST", Path: "", Interaction: Batch}, // batch or transaction, as Bundle.type says
	{Method: "GET", Path: "", Interaction: SearchSystem},
	{Method: "POST", Path: "_search", Interaction: SearchSystem},
	{Method: "GET", Path: "_history", Interaction: HistorySystem},
	{Method: "GET", Path: "{type}", Interaction: SearchType},
	{Method: "POST", Path: "{type}", Interaction: Create},
	{Method: "PUT", Path: "{type}", Interaction: Update},    // conditional update
	{Method: "PATCH", Path: "{type}", Interaction: Patch},   // conditional patch
	{Method: "DELETE", Path: "{type}", Interaction: Delete}, // conditional delete
	{Method: "POST", Path: "{type}/_search", Interaction: SearchType},
	{Method: "GET", Path: "{type}/_history", Interaction: HistoryType},
	{Method: "GET", Path: "{type}/{id}", Interaction: Read},
	{Method: "PUT", Path: "{type}/{id}", Interaction: Update},
	{Method: "PATCH", Path: "{type}/{id}", Interaction: Patch},
	{Method: "DELETE", Path: "{type}/{id}", Interaction: Delete},
	{Method: "GET", Path: "{type}/{id}/_history", Interaction: HistoryInstance},
	{Method: "GET", Path: "{type}/{id}/_history/{vid}", Interaction: VRead},
	{Method: "GET", Path: "Patient/{id}/$everything", Interaction: Operation, Operation: "everything"},
	{Method: "POST", Path: "Patient/{id}/$everything", Interaction: Operation, Operation: "everything"},
	{Method: "POST", Path: "{type}/$validate", Interaction: Operation, Operation: "validate"},
	{Method: "GET", Path: "{type}/{id}/$validate", Interaction: Operation, Operation: "validate"},
	{Method: "POST", Path: "{type}/{id}/$validate", Interaction: Operation, Operation: "validate"},
	{Method: "GET", Path: "$export", Interaction: Operation, Operation: "export"},
	{Method: "POST", Path: "$export", Interaction: Operation, Operation: "export"},
	{Method: "GET", Path: "Patient/$export", Interaction: Operation, Operation: "export"},
	{Method: "POST", Path: "Patient/$export", Interaction: Operation, Operation: "export"},
	{Method: "GET", Path: "Group/{id}/$export", Interaction: Operation, Operation: "export"},
	{Method: "POST", Path: "Group/{id}/$export", Interaction: Operation, Operation: "export"},
	{Method: "GET", Path: "$export-poll/{id}", Interaction: Operation, Operation: "export-poll"},
	{Method: "DELETE", Path: "$export-poll/{id}", Interaction: Operation, Operation: "export-cancel"},
	{Method: "GET", Path: "$export-file/{id}/{vid}", Interaction: Operation, Operation: "export-file"},
	{Method: "GET", Path: "Patient/{id}/{type}", Interaction: SearchType, Compartment: "Patient"},
	{Method: "GET", Path: "Patient/{id}/*", Interaction: SearchSystem, Compartment: "Patient"},
}

// Match finds the route of a method and a URL relative to the base ("Patient/1/_history/2?x=y") and
// returns the Request it describes. Unknown paths are 404, known paths with another method 405.
func Match(method, rawURL string) (*Request, error) {
	path, query, _ := strings.Cut(rawURL, "?")
	path = strings.Trim(path, "/")
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Details: "the query string is malformed", Diagnostics: err.Error()}
	}
	var segs []string
	if path != "" {
		segs = strings.Split(path, "/")
	}
	best, bestScore, pathKnown := -1, -1, false
	var bestVals map[string]string
	for i, r := range Routes {
		vals, score, ok := matchPattern(r.Path, segs)
		if !ok {
			continue
		}
		pathKnown = true
		if r.Method != method && !(method == "HEAD" && r.Method == "GET") {
			continue
		}
		if score > bestScore {
			best, bestScore, bestVals = i, score, vals
		}
	}
	if best < 0 {
		if pathKnown {
			return nil, &fhir.Error{Kind: fhir.KindNotAllowed, MessageID: "MSG_OP_NOT_ALLOWED",
				Details: "this method is not allowed on this path", Diagnostics: method + " " + path}
		}
		return nil, &fhir.Error{Kind: fhir.KindNotFound, Code: "not-supported", Details: "no such FHIR endpoint",
			Diagnostics: method + " " + path}
	}
	req := Routes[best].NewRequest(bestVals["type"], bestVals["id"], bestVals["vid"])
	req.Params = params
	return req, nil
}

// Allowed returns the methods the route table serves on a path (for the Allow header of a 405).
func Allowed(rawPath string) []string {
	path := strings.Trim(rawPath, "/")
	var segs []string
	if path != "" {
		segs = strings.Split(path, "/")
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range Routes {
		if _, _, ok := matchPattern(r.Path, segs); ok && !seen[r.Method] {
			seen[r.Method] = true
			out = append(out, r.Method)
			if r.Method == "GET" {
				out = append(out, "HEAD")
			}
		}
	}
	return out
}

// matchPattern matches path segments against a pattern; score counts the literal segments matched.
func matchPattern(pattern string, segs []string) (map[string]string, int, bool) {
	var pat []string
	if pattern != "" {
		pat = strings.Split(pattern, "/")
	}
	if len(pat) != len(segs) {
		return nil, 0, false
	}
	vals := map[string]string{}
	score := 0
	for i, p := range pat {
		s, err := url.PathUnescape(segs[i])
		if err != nil || s == "" {
			return nil, 0, false
		}
		if strings.HasPrefix(p, "{") {
			// Parameters never take the reserved forms of literal segments.
			if strings.HasPrefix(s, "_") || strings.HasPrefix(s, "$") || (p == "{type}" && s == "metadata") {
				return nil, 0, false
			}
			vals[strings.Trim(p, "{}")] = s
			continue
		}
		if p != s {
			return nil, 0, false
		}
		score++
	}
	return vals, score, true
}
