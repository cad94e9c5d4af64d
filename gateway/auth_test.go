package gateway

import (
	"net/http"
	"testing"
	"time"
)

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   string
		ok     bool
	}{
		{"none", nil, "", true},
		{"bearer", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", true},
		{"case-insensitive scheme", []string{"bearer abc"}, "abc", true},
		{"extra spaces", []string{"  Bearer   abc  "}, "abc", true},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", false},
		{"no token", []string{"Bearer "}, "", false},
		{"two tokens", []string{"Bearer a b"}, "", false},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", false},
		{"scheme only", []string{"Bearer"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bearerToken(tc.values)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("bearerToken(%q) = %q, %v", tc.values, got, err)
			}
		})
	}
}

// FuzzAuthorizationHeader: no header value makes the extraction panic, and whatever is accepted is a
// single token without spaces.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{"Bearer abc", "Basic x", "", "Bearer", "bearer a.b.c", "Bearer \x00", "Bearer a\tb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := bearerToken([]string{h})
		if err == nil && tok != "" {
			for _, c := range tok {
				if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
					t.Fatalf("accepted a token with whitespace: %q", tok)
				}
			}
		}
	})
}

// BenchmarkRequestCachedToken: a read with a token the verifier has seen (the cache hit path).
func BenchmarkRequestCachedToken(b *testing.B) {
	a := newAuthServer(b)
	tok := a.mint(b, "user/*.rs", "", "Practitioner/prac-house")
	benchRead(b, a, func(int) string { return tok })
}

// BenchmarkRequestColdToken: every read carries a new token (full signature verification).
func BenchmarkRequestColdToken(b *testing.B) {
	a := newAuthServer(b)
	toks := make([]string, b.N)
	for i := range toks {
		toks[i] = a.mint(b, "user/*.rs", "", "Practitioner/prac-house")
	}
	benchRead(b, a, func(i int) string { return toks[i] })
}

// BenchmarkRequestNoAuth: the same read without token verification (OpenPolicy), the baseline.
func BenchmarkRequestNoAuth(b *testing.B) {
	ts := newTestServer(b)
	r := ts.do(b, "PUT", "/Patient/bench", []byte(`{"resourceType":"Patient","id":"bench","gender":"female"}`))
	if r.status != 201 {
		b.Fatal(r.status)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Get(ts.base + "/Patient/bench")
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

func benchRead(b *testing.B, a *authServer, token func(int) string) {
	client := &http.Client{Timeout: 5 * time.Second}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", a.base+"/Patient/pat-alice", nil)
		req.Header.Set("Authorization", "Bearer "+token(i))
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%v %v", err, resp.Status)
		}
		resp.Body.Close()
	}
}
