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
	{"GET", "metadata", Capabilities},
	{"POST", "", Batch}, // batch or transaction, as Bundle.type says
	{"GET", "_history", HistorySystem},
	{"POST", "{type}", Create},
	{"GET", "{type}/_history", HistoryType},
	{"GET", "{type}/{id}", Read},
	{"PUT", "{type}/{id}", Update},
	{"PATCH", "{type}/{id}", Patch},
	{"DELETE", "{type}/{id}", Delete},
	{"GET", "{type}/{id}/_history", HistoryInstance},
	{"GET", "{type}/{id}/_history/{vid}", VRead},
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
	r := Routes[best]
	return &Request{Interaction: r.Interaction, Type: bestVals["type"], ID: bestVals["id"], VersionID: bestVals["vid"], Params: params}, nil
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
