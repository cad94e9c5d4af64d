package portal

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func testHandler(t *testing.T) http.Handler {
	t.Helper()
	h, err := Handler(Config{FHIRBase: "http://127.0.0.1:8080/fhir", ClientID: "fhirgate-portal",
		AuthorizationEndpoint: "http://127.0.0.1:8080/dev-issuer/authorize", TokenEndpoint: "http://127.0.0.1:9000/token"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestServesThePagesWithAStrictPolicy(t *testing.T) {
	h := testHandler(t)
	for _, p := range []string{"/portal", "/portal/", "/portal/index.html"} {
		resp := get(t, h, "GET", p)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `<script src="/portal/app.js" defer></script>`) {
			t.Fatalf("%s: %d %.200s", p, resp.StatusCode, body)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'",
			"connect-src 'self' http://127.0.0.1:8080 http://127.0.0.1:9000;"} {
			if !strings.Contains(csp, want) {
				t.Fatalf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("headers %v", resp.Header)
		}
	}
	resp := get(t, h, "GET", "/portal/config.json")
	var conf map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&conf); err != nil {
		t.Fatalf("config: %v", err)
	}
	if conf["fhirBase"] != "http://127.0.0.1:8080/fhir" || conf["clientId"] != "fhirgate-portal" || conf["scope"] != Scope ||
		conf["tokenEndpoint"] != "http://127.0.0.1:9000/token" {
		t.Fatalf("config %v", conf)
	}
	for _, p := range []string{"/portal/app.js", "/portal/style.css", "/portal/i18n.json"} {
		if resp := get(t, h, "GET", p); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/portal/missing.js", "/portal/../go.mod", "/portal/static/app.js"} {
		if resp := get(t, h, "GET", p); resp.StatusCode != 404 {
			t.Fatalf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp := get(t, h, "POST", "/portal/"); resp.StatusCode != 405 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	if _, err := Handler(Config{FHIRBase: "relative", ClientID: "x", AuthorizationEndpoint: "http://a/b", TokenEndpoint: "http://a/c"}); err == nil {
		t.Fatal("a relative FHIR base was accepted")
	}
}

// TestTextsComplete fails on a missing text: both languages hold the same keys, none empty, and every
// key the page and the script use exists, including those the script builds from codes.
func TestTextsComplete(t *testing.T) {
	raw, err := static.ReadFile("static/i18n.json")
	if err != nil {
		t.Fatal(err)
	}
	var msgs map[string]map[string]string
	if err := json.Unmarshal(raw, &msgs); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs["en"] == nil || msgs["fr"] == nil {
		t.Fatalf("languages: %v", len(msgs))
	}
	for a, b := range map[string]string{"en": "fr", "fr": "en"} {
		for k, v := range msgs[a] {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %s is empty", a, k)
			}
			if _, ok := msgs[b][k]; !ok {
				t.Errorf("%s has %s, %s does not", a, k, b)
			}
		}
	}
	html, _ := static.ReadFile("static/index.html")
	js, _ := static.ReadFile("static/app.js")
	var used []string
	for _, m := range regexp.MustCompile(`data-i18n(?:-aria-label)?="([^"]+)"`).FindAllStringSubmatch(string(html), -1) {
		used = append(used, m[1])
	}
	for _, m := range regexp.MustCompile(`\bt\('([a-zA-Z0-9.\-]+)'\s*[,)]`).FindAllStringSubmatch(string(js), -1) {
		used = append(used, m[1])
	}
	// Keys built from codes: every code the script knows of must have its text.
	for _, code := range []string{"PSY", "HIV", "SEX", "ETH"} {
		used = append(used, "consents.label."+code, "label."+code)
	}
	for _, code := range []string{"TREAT", "ETREAT", "BTG", "HPAYMT"} {
		used = append(used, "purpose."+code)
	}
	for _, a := range []string{"read", "vread", "search-type", "create", "update", "patch", "delete", "history-instance", "export", "other"} {
		used = append(used, "action."+a)
	}
	for _, typ := range []string{"Patient", "Observation", "Condition", "Encounter", "MedicationRequest", "other"} {
		used = append(used, "type."+typ+".one", "type."+typ+".other")
	}
	if len(used) < 60 {
		t.Fatalf("only %d keys found in the page and the script: the extraction is broken", len(used))
	}
	for _, k := range used {
		for _, lang := range []string{"en", "fr"} {
			if _, ok := msgs[lang][k]; !ok {
				t.Errorf("%s: missing text %q", lang, k)
			}
		}
	}
}
