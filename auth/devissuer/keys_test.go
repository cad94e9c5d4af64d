package devissuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func kids(t *testing.T, e *env) []string {
	t.Helper()
	var out []string
	for _, k := range e.jwks(t).Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func TestKeyPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested") // created by New
	first := newEnv(t, func(c *Config) { c.KeyDir = dir })
	firstKids := kids(t, first)
	if len(firstKids) != 1 {
		t.Fatalf("kids %v", firstKids)
	}
	raw, err := first.iss.Token(TokenRequest{ClientID: "c", Scope: "system/*.rs"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("key file is private", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no Unix permissions")
		}
		fi, err := os.Stat(filepath.Join(dir, KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %#o, want 0600", fi.Mode().Perm())
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("the key directory holds %d entries, want only %s", len(entries), KeyFile)
		}
	})

	t.Run("same kid after a restart", func(t *testing.T) {
		second := newEnv(t, func(c *Config) { c.KeyDir = dir })
		if got := kids(t, second); len(got) != 1 || got[0] != firstKids[0] {
			t.Errorf("kids %v after a restart, want %v", got, firstKids)
		}
		// A token of the first run verifies with the second run's keys.
		verifyJWT(t, second.jwks(t), raw, "at+jwt")
	})

	t.Run("another directory, another key", func(t *testing.T) {
		other := newEnv(t, func(c *Config) { c.KeyDir = t.TempDir() })
		if got := kids(t, other); got[0] == firstKids[0] {
			t.Error("two key directories share a key")
		}
	})
}

func TestKeyFileProblems(t *testing.T) {
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKCS8PrivateKey(small)
	pkcs1 := x509.MarshalPKCS1PrivateKey(small)
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		says    string
	}{
		{"readable by others", testKeyPEM(), 0o644, "chmod"},
		{"not PEM", []byte("hello"), 0o600, "PEM"},
		{"empty", nil, 0o600, "no key"},
		{"an EC key", pemOf("PRIVATE KEY", ecDER), 0o600, "RSA"},
		{"a short RSA key", pemOf("PRIVATE KEY", smallDER), 0o600, "too short"},
		{"a PKCS #1 block", pemOf("RSA PRIVATE KEY", pkcs1), 0o600, "PRIVATE KEY"},
		{"garbage after the key", append(append([]byte{}, testKeyPEM()...), "junk"...), 0o600, "PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode&0o077 != 0 && runtime.GOOS == "windows" {
				t.Skip("no Unix permissions")
			}
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFile)
			if err := os.WriteFile(path, tt.content, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // whatever the umask
				t.Fatal(err)
			}
			_, err := New(Config{Issuer: "http://localhost/dev-issuer", Audience: audience, KeyDir: dir})
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %v, want one that says %q", err, tt.says)
			}
			if data, _ := os.ReadFile(path); string(data) != string(tt.content) {
				t.Error("New overwrote a key file it could not use")
			}
		})
	}
}

func TestRotate(t *testing.T) {
	dir := seededKeyDir(t)
	e := newEnv(t, func(c *Config) { c.KeyDir = dir })
	oldKid := kids(t, e)[0]
	oldToken, err := e.iss.Token(TokenRequest{ClientID: "c", Scope: "system/*.rs"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	newToken, err := e.iss.Token(TokenRequest{ClientID: "c", Scope: "system/*.rs"})
	if err != nil {
		t.Fatal(err)
	}
	set := e.jwks(t)
	tests := []struct {
		name, token, wantKid string
	}{
		{"old token still verifies", oldToken, oldKid},
		{"new token uses the new key", newToken, ""},
	}
	if len(set.Keys) != 2 || set.Keys[0].KeyID != oldKid || set.Keys[1].KeyID == oldKid {
		t.Fatalf("JWKS after a rotation: %v, want the old key %s then a new one", kids(t, e), oldKid)
	}
	newKid := set.Keys[1].KeyID
	tests[1].wantKid = newKid
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, kid := verifyJWT(t, set, tt.token, "at+jwt"); kid != tt.wantKid {
				t.Errorf("kid %s, want %s", kid, tt.wantKid)
			}
		})
	}
	t.Run("rotation survives a restart", func(t *testing.T) {
		again := newEnv(t, func(c *Config) { c.KeyDir = dir })
		if got := kids(t, again); len(got) != 2 || got[0] != oldKid || got[1] != newKid {
			t.Errorf("kids %v, want [%s %s]", got, oldKid, newKid)
		}
		raw, err := again.iss.Token(TokenRequest{ClientID: "c", Scope: "system/*.rs"})
		if err != nil {
			t.Fatal(err)
		}
		if _, kid := verifyJWT(t, again.jwks(t), raw, "at+jwt"); kid != newKid {
			t.Errorf("signed with %s, want %s", kid, newKid)
		}
	})
	t.Run("a second rotation retires the oldest key", func(t *testing.T) {
		if err := e.iss.Rotate(); err != nil {
			t.Fatal(err)
		}
		got := kids(t, e)
		if len(got) != 2 || got[0] != newKid || got[1] == newKid || got[1] == oldKid {
			t.Fatalf("kids %v", got)
		}
		if _, _, err := tryVerifyJWT(e.jwks(t), oldToken, "at+jwt"); err == nil {
			t.Error("a token of a retired key still verifies")
		}
		verifyJWT(t, e.jwks(t), newToken, "at+jwt")
	})
}
