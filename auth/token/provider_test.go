package token_test

// TestAgainstOIDCProvider proves the verifier against a real third-party OpenID provider: panva's
// oidc-provider (npm), run by Node.js from testdata/oidcprovider (see provider.mjs there). The test
// installs it with `npm ci` when node_modules is missing. Without node it skips, and so it does when the
// npm registry cannot be reached, except under CI=true, where both are failures.
//
// All traffic goes to 127.0.0.1: the providers listen there, and every HTTP client of this test dials
// loopback addresses only.

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"fhirgate/auth/token"
)

const (
	opAudience      = "http://127.0.0.1:9/fhir"       // the verifier's audience; aud of the main resource
	opOtherAudience = "http://127.0.0.1:9/other"      // a resource whose tokens carry another aud
	opShortResource = "http://127.0.0.1:9/fhir-short" // aud = opAudience, short-lived tokens
	opShortTTL      = 2                               // seconds
	opClientID      = "fhirgate-test"
	opClientSecret  = "fhirgate-test-secret"
	opPatient       = "example-patient-1"                   // provider.mjs's PATIENT
	opFHIRUser      = "Practitioner/example-practitioner-1" // provider.mjs's FHIR_USER
	opDir           = "testdata/oidcprovider"
)

func TestAgainstOIDCProvider(t *testing.T) {
	node, dir := providerInstall(t)
	tmp := t.TempDir()
	a := startProvider(t, node, dir, filepath.Join(tmp, "a-keys.json"))
	b := startProvider(t, node, dir, "")
	if a.issuer == b.issuer {
		t.Fatalf("both providers have the issuer %s", a.issuer)
	}

	v, vCount := newVerifier(t, token.Config{Issuer: a.issuer, Audience: opAudience})
	if got := vCount.jwks(); got != 0 {
		t.Fatalf("token.New fetched the JWKS %d times; it is fetched on demand", got)
	}
	if got := vCount.discovery(); got != 1 {
		t.Fatalf("token.New fetched the discovery document %d times, want 1", got)
	}

	t.Run("accepted", func(t *testing.T) {
		raw, resp := a.token(t, opAudience, "system/*.rs")
		hdr, claims := decodeJWT(t, raw)
		if hdr["alg"] != "RS256" || hdr["typ"] != "at+jwt" || hdr["kid"] == nil {
			t.Fatalf("the provider's token header is %v, want an RS256 at+jwt with a kid", hdr)
		}
		c, err := v.Verify(t.Context(), raw)
		if err != nil {
			t.Fatalf("Verify refused the provider's token: %v", err)
		}
		jti, _ := claims["jti"].(string)
		if jti == "" {
			t.Fatalf("the provider's token has no jti: %v", claims)
		}
		exp := time.Unix(claimInt(t, claims, "exp"), 0)
		want := token.Claims{Issuer: a.issuer, Subject: opClientID, ClientID: opClientID, TokenID: jti,
			Scope: "system/*.rs", Expiry: exp}
		checkClaims(t, c, want)
		if resp.Scope != "system/*.rs" || resp.TokenType != "Bearer" || resp.ExpiresIn != 600 {
			t.Errorf("token response: scope %q, token_type %q, expires_in %d", resp.Scope, resp.TokenType, resp.ExpiresIn)
		}
		if got := vCount.jwks(); got != 1 {
			t.Errorf("the first verification fetched the JWKS %d times, want 1", got)
		}
		again, err := v.Verify(t.Context(), raw)
		if err != nil {
			t.Fatalf("a second Verify of the same token failed: %v", err)
		}
		checkClaims(t, again, want)
		if got := vCount.jwks(); got != 1 {
			t.Errorf("after two verifications the JWKS was fetched %d times, want 1", got)
		}
	})

	t.Run("extra_claims", func(t *testing.T) {
		raw, _ := a.token(t, opAudience, "system/*.rs launch/patient fhirUser")
		_, claims := decodeJWT(t, raw)
		c, err := v.Verify(t.Context(), raw)
		if err != nil {
			t.Fatalf("Verify refused the provider's token: %v", err)
		}
		want := token.Claims{Issuer: a.issuer, Subject: opClientID, ClientID: opClientID, TokenID: claims["jti"].(string),
			Scope: "system/*.rs launch/patient fhirUser", Patient: opPatient, FHIRUser: opFHIRUser,
			Expiry: time.Unix(claimInt(t, claims, "exp"), 0)}
		checkClaims(t, c, want)
	})

	t.Run("tampered_signature", func(t *testing.T) {
		raw, _ := a.token(t, opAudience, "system/*.rs")
		p := strings.Split(raw, ".")
		sig := b64decode(t, p[2])
		for _, i := range []int{0, len(sig) / 2, len(sig) - 1} {
			bad := bytes.Clone(sig)
			bad[i] ^= 0x01
			refuse(t, v, p[0]+"."+p[1]+"."+b64(bad), false, badSignature)
		}
		// The untouched token still passes (so the refusals above are the flipped byte's doing).
		if _, err := v.Verify(t.Context(), raw); err != nil {
			t.Fatalf("the untampered token was refused: %v", err)
		}
	})

	t.Run("tampered_payload", func(t *testing.T) {
		raw, _ := a.token(t, opAudience, "system/*.rs")
		hdr, claims := decodeJWT(t, raw)
		claims["scope"] = "system/*.cruds"
		p := strings.Split(raw, ".")
		refuse(t, v, encodeJSON(t, hdr)+"."+encodeJSON(t, claims)+"."+p[2], false, badSignature)
	})

	t.Run("other_audience", func(t *testing.T) {
		raw, _ := a.token(t, opOtherAudience, "system/*.rs")
		if _, claims := decodeJWT(t, raw); claims["aud"] != opOtherAudience {
			t.Fatalf("the provider issued aud %v for %s", claims["aud"], opOtherAudience)
		}
		refuse(t, v, raw, false, badAudience)
		// The same token is good for a server whose audience it names.
		other, _ := newVerifier(t, token.Config{Issuer: a.issuer, Audience: opOtherAudience})
		if _, err := other.Verify(t.Context(), raw); err != nil {
			t.Fatalf("a verifier for %s refused the token: %v", opOtherAudience, err)
		}
	})

	t.Run("other_provider", func(t *testing.T) {
		raw, _ := b.token(t, opAudience, "system/*.rs")
		_, claims := decodeJWT(t, raw)
		if claims["iss"] != b.issuer || claims["aud"] != opAudience {
			t.Fatalf("the second provider's token has iss %v aud %v", claims["iss"], claims["aud"])
		}
		refuse(t, v, raw, false, badSignature)
		// It is a good token of its own issuer.
		vb, _ := newVerifier(t, token.Config{Issuer: b.issuer, Audience: opAudience})
		if _, err := vb.Verify(t.Context(), raw); err != nil {
			t.Fatalf("a verifier for the second provider refused its token: %v", err)
		}
	})

	t.Run("other_issuer_same_key", func(t *testing.T) {
		// Signed with the trusted provider's own key, but naming another issuer: only iss is wrong.
		raw, _ := a.token(t, opAudience, "system/*.rs")
		hdr, claims := decodeJWT(t, raw)
		key := a.privateKey(t, hdr["kid"].(string))
		claims["jti"] = claims["jti"].(string) + "-resigned" // not the cached token
		if _, err := v.Verify(t.Context(), signRS256(t, key, hdr, claims)); err != nil {
			t.Fatalf("the token re-signed with the provider's key, unchanged, was refused: %v", err)
		}
		claims["iss"] = b.issuer
		refuse(t, v, signRS256(t, key, hdr, claims), false, badIssuer)
	})

	t.Run("expired", func(t *testing.T) {
		t.Run("short_ttl", func(t *testing.T) {
			fast, _ := newVerifier(t, token.Config{Issuer: a.issuer, Audience: opAudience, ClockSkew: time.Millisecond})
			fresh, _ := newVerifier(t, token.Config{Issuer: a.issuer, Audience: opAudience, ClockSkew: time.Millisecond})
			lenient, _ := newVerifier(t, token.Config{Issuer: a.issuer, Audience: opAudience}) // default 30 s skew
			raw, resp := a.token(t, opShortResource, "system/*.rs")
			_, claims := decodeJWT(t, raw)
			if resp.ExpiresIn != opShortTTL || claims["aud"] != opAudience {
				t.Fatalf("short-lived token: expires_in %d, aud %v", resp.ExpiresIn, claims["aud"])
			}
			exp := time.Unix(claimInt(t, claims, "exp"), 0)
			if _, err := fast.Verify(t.Context(), raw); err != nil {
				if time.Now().Before(exp) {
					t.Fatalf("the short-lived token was refused before it expired: %v", err)
				}
				t.Fatalf("the machine was too slow: the %d s token had expired before it could be verified", opShortTTL)
			}
			time.Sleep(time.Until(exp.Add(200 * time.Millisecond)))
			refuse(t, fast, raw, true, isExpired)  // from the cache of verified tokens
			refuse(t, fresh, raw, true, isExpired) // never seen: through the full check
			if _, err := lenient.Verify(t.Context(), raw); err != nil {
				t.Errorf("with the default 30 s clock skew a token expired 0.2 s ago was refused: %v", err)
			}
		})
		t.Run("clock_ahead", func(t *testing.T) {
			raw, _ := a.token(t, opAudience, "system/*.rs")
			ahead, _ := newVerifier(t, token.Config{Issuer: a.issuer, Audience: opAudience,
				Now: func() time.Time { return time.Now().Add(time.Hour) }})
			refuse(t, ahead, raw, true, isExpired)
			if _, err := v.Verify(t.Context(), raw); err != nil {
				t.Fatalf("with the right clock the token was refused: %v", err)
			}
		})
	})

	t.Run("alg_none", func(t *testing.T) {
		raw, _ := a.token(t, opAudience, "system/*.rs")
		hdr, claims := decodeJWT(t, raw)
		p := strings.Split(raw, ".")
		for _, tc := range []struct {
			name string
			hdr  map[string]any
			sig  string
		}{
			{"none", map[string]any{"alg": "none", "typ": "at+jwt"}, ""},
			{"None", map[string]any{"alg": "None", "typ": "at+jwt"}, ""},
			{"NONE", map[string]any{"alg": "NONE", "typ": "at+jwt"}, ""},
			{"none_with_kid", map[string]any{"alg": "none", "typ": "at+jwt", "kid": hdr["kid"]}, ""},
			{"none_with_signature", map[string]any{"alg": "none", "typ": "at+jwt", "kid": hdr["kid"]}, p[2]},
		} {
			t.Run(tc.name, func(t *testing.T) {
				refuse(t, v, encodeJSON(t, tc.hdr)+"."+encodeJSON(t, claims)+"."+tc.sig, false, badAlgorithm)
			})
		}
	})

	t.Run("hmac_with_public_key", func(t *testing.T) {
		raw, _ := a.token(t, opAudience, "system/*.rs")
		hdr, claims := decodeJWT(t, raw)
		kid := hdr["kid"].(string)
		pub, pubJWK := a.publicKey(t, kid)
		spki, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		jwkJSON, err := json.Marshal(pubJWK)
		if err != nil {
			t.Fatal(err)
		}
		secrets := map[string][]byte{
			"spki_pem":         pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}),
			"pkcs1_pem":        pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}),
			"spki_der":         spki,
			"jwk_n":            []byte(b64(pub.N.Bytes())),
			"jwk_n_raw":        pub.N.Bytes(),
			"jwk_json":         jwkJSON,
			"spki_pem_trimmed": bytes.TrimSpace(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})),
		}
		for name, secret := range secrets {
			for _, alg := range []string{"HS256", "HS384", "HS512"} {
				t.Run(name+"_"+alg, func(t *testing.T) {
					h := map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid}
					refuse(t, v, signHMAC(t, alg, secret, h, claims), false, badAlgorithm)
				})
			}
		}
	})

	t.Run("key_rotation", func(t *testing.T) {
		rot, rotCount := newVerifier(t, token.Config{Issuer: a.issuer, Audience: opAudience, RefreshInterval: 10 * time.Millisecond})
		before1, _ := a.token(t, opAudience, "system/*.rs")
		before2, _ := a.token(t, opAudience, "system/*.rs")
		oldHdr, _ := decodeJWT(t, before1)
		if _, err := rot.Verify(t.Context(), before1); err != nil {
			t.Fatalf("before rotation: %v", err)
		}
		if got := rotCount.jwks(); got != 1 {
			t.Fatalf("before rotation the JWKS was fetched %d times, want 1", got)
		}

		newKid, kids := a.rotate(t)
		if newKid == oldHdr["kid"] || len(kids) != 2 || kids[1] != oldHdr["kid"] {
			t.Fatalf("rotation gave kid %s and key set %v; the old kid was %v", newKid, kids, oldHdr["kid"])
		}
		published := a.publishedKids(t)
		if len(published) != 2 || published[0] != newKid || published[1] != oldHdr["kid"] {
			t.Fatalf("after rotation the provider publishes %v, want [%s %v]", published, newKid, oldHdr["kid"])
		}
		after, _ := a.token(t, opAudience, "system/*.rs")
		if hdr, _ := decodeJWT(t, after); hdr["kid"] != newKid {
			t.Fatalf("after rotation the provider signs with %v, want %s", hdr["kid"], newKid)
		}
		time.Sleep(20 * time.Millisecond) // past the RefreshInterval
		c, err := rot.Verify(t.Context(), after)
		if err != nil {
			t.Fatalf("the same verifier refused a token signed by the new key: %v", err)
		}
		if c.Issuer != a.issuer || c.ClientID != opClientID || c.Scope != "system/*.rs" {
			t.Errorf("claims of the new key's token: %+v", c)
		}
		if got := rotCount.jwks(); got != 2 {
			t.Errorf("the new key was found after %d JWKS fetches in all, want 2", got)
		}
		// The old key stays published: tokens it signed before the rotation remain good.
		if _, err := rot.Verify(t.Context(), before2); err != nil {
			t.Errorf("a token of the old key was refused after the rotation: %v", err)
		}
		later, _ := newVerifier(t, token.Config{Issuer: a.issuer, Audience: opAudience})
		if _, err := later.Verify(t.Context(), before1); err != nil {
			t.Errorf("a verifier made after the rotation refused a token of the old key: %v", err)
		}
		if _, err := later.Verify(t.Context(), after); err != nil {
			t.Errorf("a verifier made after the rotation refused a token of the new key: %v", err)
		}
	})

	t.Run("unknown_kids_rate_limited", func(t *testing.T) {
		const interval = 2 * time.Second
		jv, count := newVerifier(t, token.Config{Issuer: a.issuer, Audience: opAudience, RefreshInterval: interval})
		good, _ := a.token(t, opAudience, "system/*.rs")
		hdr, claims := decodeJWT(t, good)
		// Junk: the provider's claims signed by a foreign key, each under a random kid; made beforehand so
		// that the timed bursts below only verify.
		foreign, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]string, 90)
		for i := range junk {
			h := map[string]any{"alg": hdr["alg"], "typ": "at+jwt", "kid": "junk-" + b64(randomBytes(t, 9))}
			junk[i] = signRS256(t, foreign, h, claims)
		}
		burst := func(tokens []string, concurrent bool) {
			var wg sync.WaitGroup
			for _, raw := range tokens {
				if !concurrent {
					refuse(t, jv, raw, false, badSignature)
					continue
				}
				wg.Go(func() { refuse(t, jv, raw, false, badSignature) })
			}
			wg.Wait()
		}

		before := time.Now()
		if _, err := jv.Verify(t.Context(), good); err != nil {
			t.Fatalf("the provider's token was refused: %v", err)
		}
		fetched := time.Now() // the keys were fetched between before and fetched
		if got := count.jwks(); got != 1 {
			t.Fatalf("the first verification fetched the JWKS %d times, want 1", got)
		}
		within := func(what string, since time.Time) {
			if d := time.Since(since); d >= interval {
				t.Fatalf("%s took %v, longer than the %v RefreshInterval: the counts below would prove nothing", what, d, interval)
			}
		}

		burst(junk[:30], false)
		within("the first burst", before)
		if got := count.jwks(); got != 1 {
			t.Fatalf("30 junk kids within the RefreshInterval of a fetch made %d JWKS fetches in all, want 1", got)
		}

		time.Sleep(time.Until(fetched.Add(interval + 100*time.Millisecond)))
		start := time.Now()
		burst(junk[30:60], true)
		burst(junk[60:], false)
		within("the second bursts", start)
		if got := count.jwks(); got != 2 {
			t.Fatalf("60 junk kids (30 at once) once the RefreshInterval had passed made %d JWKS fetches in all, want 2", got)
		}
		if _, err := jv.Verify(t.Context(), good); err != nil {
			t.Fatalf("after the junk the provider's token was refused: %v", err)
		}
	})
}

// Reasons of a refused token, as Verify words them; refuse takes any of several.
var (
	// A signature that does not verify, or a key the issuer does not publish. The first is the reason
	// verifier.go means to give; the second, its catch-all, is what it gives today: go-oidc wraps
	// the key set's error with %v, so reason()'s errors.Is(err, errUnknownKey) never matches.
	badSignature = []string{"not signed by a key of the trusted issuer", "signature or claims are invalid"}
	badAlgorithm = []string{"signature algorithm is not accepted"}
	badAudience  = []string{"(aud)"}
	badIssuer    = []string{"issued by another issuer"}
	isExpired    = []string{"has expired"}
)

// refuse asserts that v refuses raw with a *token.Error whose Expired is wantExpired and whose Reason
// holds one of reasons.
func refuse(t *testing.T, v *token.Verifier, raw string, wantExpired bool, reasons []string) {
	t.Helper()
	c, err := v.Verify(t.Context(), raw)
	if err == nil {
		t.Errorf("Verify accepted a token it must refuse (claims %+v)", c)
		return
	}
	if c != nil {
		t.Errorf("Verify returned claims with its error %v", err)
	}
	var te *token.Error
	if !errors.As(err, &te) {
		t.Errorf("Verify's error is %T (%v), want *token.Error", err, err)
		return
	}
	if te.Expired != wantExpired {
		t.Errorf("Verify refused with Expired=%v (%q), want Expired=%v", te.Expired, te.Reason, wantExpired)
	}
	for _, r := range reasons {
		if strings.Contains(te.Reason, r) {
			return
		}
	}
	t.Errorf("Verify refused with %q, want a reason naming one of %q", te.Reason, reasons)
}

func checkClaims(t *testing.T, got *token.Claims, want token.Claims) {
	t.Helper()
	if got == nil {
		t.Fatal("no claims")
	}
	if got.Issuer != want.Issuer || got.Subject != want.Subject || got.ClientID != want.ClientID ||
		got.TokenID != want.TokenID || got.Scope != want.Scope || got.Patient != want.Patient ||
		got.FHIRUser != want.FHIRUser || !got.Expiry.Equal(want.Expiry) ||
		len(got.PurposeOfUse) != 0 || len(got.Organizations) != 0 {
		t.Errorf("claims\n got %+v\nwant %+v", *got, want)
	}
}

// providerInstall finds node and makes sure testdata/oidcprovider has its node_modules (npm ci).
func providerInstall(t *testing.T) (node, dir string) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	unavailable := func(format string, args ...any) {
		t.Helper()
		if ci {
			t.Fatalf(format+" (CI=true: this test must run)", args...)
		}
		t.Skipf(format, args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node is not installed, so the OpenID provider (oidc-provider) cannot run: %v", err)
	}
	dir, err = filepath.Abs(opDir)
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSONFile(t, filepath.Join(dir, "package.json"), &pkg)
	want := pkg.Dependencies["oidc-provider"]
	var installed struct {
		Version string `json:"version"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err == nil &&
		json.Unmarshal(b, &installed) == nil && installed.Version == want {
		return node, dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		unavailable("npm is not installed, so %s/node_modules cannot be installed: %v", opDir, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefer-offline")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(out)
		unreachable := ctx.Err() != nil // a hang is the registry not answering
		for _, sign := range []string{"ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT",
			"ENETUNREACH", "EHOSTUNREACH", "network request", "socket hang up"} {
			unreachable = unreachable || strings.Contains(msg, sign)
		}
		if unreachable {
			unavailable("npm ci in %s could not reach the npm registry: %v\n%s", opDir, err, lastLines(msg, 15))
		}
		t.Fatalf("npm ci in %s: %v\n%s", opDir, err, lastLines(msg, 30))
	}
	t.Logf("npm ci in %s: %s", opDir, lastLines(strings.TrimSpace(string(out)), 3))
	return node, dir
}

type provider struct {
	issuer, tokenEndpoint, jwksURI, keysFile string
	client                                   *http.Client
}

// startProvider runs provider.mjs and waits for its LISTENING line; the process is killed at cleanup.
// extraEnv are more NAME=value settings (OP_FEATURES).
func startProvider(t *testing.T, node, dir, keysFile string, extraEnv ...string) *provider {
	t.Helper()
	cmd := exec.Command(node, "provider.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"OP_PORT=0",
		"OP_CLIENT_ID="+opClientID, "OP_CLIENT_SECRET="+opClientSecret,
		"OP_AUDIENCE="+opAudience, "OP_OTHER_AUDIENCE="+opOtherAudience,
		"OP_SHORT_RESOURCE="+opShortResource, fmt.Sprintf("OP_SHORT_TTL=%d", opShortTTL),
		"OP_KEYS_OUT="+keysFile,
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	stdin, err := cmd.StdinPipe() // closed at cleanup: the script exits when its stdin closes
	if err != nil {
		t.Fatal(err)
	}
	out := &firstLine{ready: make(chan string, 1)}
	stderr := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s provider.mjs: %v", node, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("stopping the provider: %v", err)
		}
		waitErr := <-exited // killed, or exited on its own when its stdin closed
		if t.Failed() {
			t.Logf("provider %d (%v) stdout:\n%s\nstderr:\n%s", cmd.Process.Pid, waitErr, out.String(), stderr.String())
		}
	})

	var line string
	select {
	case line = <-out.ready:
	case err := <-exited:
		exited <- err
		t.Fatalf("provider.mjs exited before listening: %v\nstderr:\n%s", err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("provider.mjs did not print LISTENING within 20 s\nstderr:\n%s", stderr.String())
	}
	issuer, ok := strings.CutPrefix(line, "LISTENING ")
	if !ok || !strings.HasPrefix(issuer, "http://127.0.0.1:") {
		t.Fatalf("provider.mjs's first line is %q, want LISTENING http://127.0.0.1:PORT", line)
	}
	p := &provider{issuer: issuer, keysFile: keysFile, client: loopbackClient(t)}
	var disc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
		JWKSURI       string `json:"jwks_uri"`
	}
	p.getJSON(t, issuer+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != issuer || disc.TokenEndpoint == "" || disc.JWKSURI == "" {
		t.Fatalf("the provider's discovery document: %+v", disc)
	}
	p.tokenEndpoint, p.jwksURI = disc.TokenEndpoint, disc.JWKSURI
	return p
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// token gets an access token from the provider's token endpoint with client_credentials.
func (p *provider) token(t *testing.T, resource, scope string) (string, tokenResponse) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}, "scope": {scope}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, p.tokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(opClientID, opClientSecret)
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %s: %s", resp.Status, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || strings.Count(tr.AccessToken, ".") != 2 {
		t.Fatalf("token endpoint answered %s (%v); want a JWT access token", body, err)
	}
	return tr.AccessToken, tr
}

// rotate asks the provider for a new signing key; it returns the new kid and all kids, newest first.
func (p *provider) rotate(t *testing.T) (string, []string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, p.issuer+"/test/rotate", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Kid  string   `json:"kid"`
		Kids []string `json:"kids"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&r) != nil || r.Kid == "" {
		t.Fatalf("rotate: %s %+v", resp.Status, r)
	}
	return r.Kid, r.Kids
}

func (p *provider) publishedKids(t *testing.T) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	p.getJSON(t, p.jwksURI, &set)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// publicKey is the RSA key the provider publishes under kid, as an attacker sees it.
func (p *provider) publicKey(t *testing.T, kid string) (*rsa.PublicKey, jose.JSONWebKey) {
	t.Helper()
	var set jose.JSONWebKeySet
	p.getJSON(t, p.jwksURI, &set)
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("the provider publishes %d keys with kid %s", len(keys), kid)
	}
	pub, ok := keys[0].Key.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("the provider's key %s is a %T", kid, keys[0].Key)
	}
	return pub, keys[0]
}

// privateKey is the provider's signing key kid, from the file provider.mjs writes (OP_KEYS_OUT).
func (p *provider) privateKey(t *testing.T, kid string) *rsa.PrivateKey {
	t.Helper()
	if p.keysFile == "" {
		t.Fatal("this provider was started without OP_KEYS_OUT")
	}
	var set jose.JSONWebKeySet
	readJSONFile(t, p.keysFile, &set)
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("the provider's key file has %d keys with kid %s", len(keys), kid)
	}
	priv, ok := keys[0].Key.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("the provider's key %s is a %T", kid, keys[0].Key)
	}
	return priv
}

func (p *provider) getJSON(t *testing.T, u string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// newVerifier builds a real token.Verifier whose HTTP client dials only loopback addresses and counts
// its requests.
func newVerifier(t *testing.T, cfg token.Config) (*token.Verifier, *requestCounter) {
	t.Helper()
	client := loopbackClient(t)
	counter := &requestCounter{next: client.Transport, seen: map[string]int{}}
	client.Transport = counter
	cfg.HTTPClient = client
	v, err := token.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("token.New(%s): %v", cfg.Issuer, err)
	}
	jwks, _ := v.Discovery()["jwks_uri"].(string)
	if jwks == "" {
		t.Fatal("the verifier's discovery document has no jwks_uri")
	}
	counter.mu.Lock()
	counter.jwksURI = jwks
	counter.mu.Unlock()
	return v, counter
}

// requestCounter counts requests by URL (scheme, host and path).
type requestCounter struct {
	next http.RoundTripper

	mu      sync.Mutex
	seen    map[string]int
	jwksURI string
}

func (c *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	u := *req.URL
	u.RawQuery, u.Fragment = "", ""
	c.mu.Lock()
	c.seen[u.String()]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

func (c *requestCounter) jwks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[c.jwksURI]
}

func (c *requestCounter) discovery() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for u, count := range c.seen {
		if strings.HasSuffix(u, "/.well-known/openid-configuration") {
			n += count
		}
	}
	return n
}

// loopbackClient is an HTTP client that uses no proxy and refuses to dial anything but loopback.
func loopbackClient(t *testing.T) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("this test dials loopback addresses only, not %s", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// firstLine collects a process's output and hands over its first line once.
type firstLine struct {
	lockedBuffer
	ready chan string
	sent  bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	n, err := f.lockedBuffer.Write(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.sent {
		if line, _, ok := strings.Cut(f.buf.String(), "\n"); ok {
			f.sent = true
			f.ready <- strings.TrimSpace(line)
		}
	}
	return n, err
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// JWT helpers.

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return b
}

func decodeJWT(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	p := strings.Split(raw, ".")
	if len(p) != 3 {
		t.Fatalf("not a JWS compact serialization: %q", raw)
	}
	decode := func(s string) map[string]any {
		d := json.NewDecoder(bytes.NewReader(b64decode(t, s)))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("JWT part %q: %v", s, err)
		}
		return m
	}
	return decode(p[0]), decode(p[1])
}

func encodeJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

func claimInt(t *testing.T, claims map[string]any, name string) int64 {
	t.Helper()
	n, ok := claims[name].(json.Number)
	if !ok {
		t.Fatalf("claim %s is %v", name, claims[name])
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("claim %s: %v", name, err)
	}
	return i
}

func signRS256(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	input := encodeJSON(t, header) + "." + encodeJSON(t, claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func signHMAC(t *testing.T, alg string, secret []byte, header, claims map[string]any) string {
	t.Helper()
	var h func() hash.Hash
	switch alg {
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		t.Fatalf("no HMAC for %s", alg)
	}
	input := encodeJSON(t, header) + "." + encodeJSON(t, claims)
	mac := hmac.New(h, secret)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func lastLines(s string, n int) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
