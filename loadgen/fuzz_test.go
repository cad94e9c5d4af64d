package loadgen

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzServerAnswers: whatever a server answers, summarising it and checking it as a Bundle never
// panics, the summary stays one short line, and only transaction or batch Bundles are counted.
func FuzzServerAnswers(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","expression":["Patient.gender"],"diagnostics":"unknown code"}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{},{}]}`,
		`{"resourceType":"Bundle","type":"searchset"}`,
		`<html>502 Bad Gateway</html>`,
		`{"issue":[{}]}`, `null`, ``, `{"entry":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		text := outcomeText(body)
		if len(text) > 400+len("…") || strings.ContainsAny(text, "\n\r\t") {
			t.Fatalf("summary of %d bytes, not one short line: %q", len(text), text)
		}
		if utf8.Valid(body) && !utf8.ValidString(text) {
			t.Fatalf("summary cut inside a character: %q", text)
		}
		n, err := transactionEntries(body)
		if err == nil && !strings.Contains(string(body), "Bundle") {
			t.Fatalf("counted %d entries in a non-Bundle %q", n, body)
		}
		if n < 0 {
			t.Fatal("negative count")
		}
	})
}
