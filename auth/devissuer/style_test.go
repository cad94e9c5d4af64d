package devissuer

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// An EHR launch that names no smart_style_url gets the issuer's own, which links to a JSON document
// (the (g)(10) kit's g10_smart_style_url test).
func TestEHRLaunchDefaultStyle(t *testing.T) {
	e := newEnv(t, nil)
	resp, m := e.tokenJSONAt(t, "/launch", url.Values{"patient": {"pat-bob"}})
	if resp.StatusCode != http.StatusOK || m["launch"] == "" {
		t.Fatalf("POST /launch: %d %v", resp.StatusCode, m)
	}
	verifier, challenge := pkcePair()
	form, _ := e.consentForm(t, authQuery(challenge, "scope", "launch openid fhirUser patient/*.rs", "launch", m["launch"].(string)))
	form.Set("user", "Practitioner/prac-house")
	form.Set("action", "allow")
	resp, body := e.post(t, "/authorize", form, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %s %s", resp.Status, body)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	resp, tok := e.tokenJSON(t, exchange(loc.Query().Get("code"), verifier), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: %v", tok)
	}
	style, _ := tok["smart_style_url"].(string)
	if style != e.url+stylePath {
		t.Fatalf("smart_style_url %q, want %q", style, e.url+stylePath)
	}
	resp, body = e.get(t, strings.TrimPrefix(style, e.url))
	var doc map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil || doc["color_background"] == nil {
		t.Errorf("GET %s: %s %s, want a SMART style document", style, resp.Status, body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Error("the style document is not readable by an app in a browser (no CORS)")
	}
}
