package devissuer

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/go-jose/go-jose/v4"
)

// KeyFile is the name of the file, in Config.KeyDir, that holds the signing keys: PEM "PRIVATE KEY"
// blocks (PKCS #8), oldest first; the last one signs.
const KeyFile = "dev-issuer-keys.pem"

const keyBits = 2048

// signingKey is one RSA key and its key id (the RFC 7638 SHA-256 thumbprint, base64url).
type signingKey struct {
	priv *rsa.PrivateKey
	kid  string
}

func newSigningKey(priv *rsa.PrivateKey) (*signingKey, error) {
	if err := priv.Validate(); err != nil {
		return nil, err
	}
	if priv.N.BitLen() < keyBits {
		return nil, fmt.Errorf("an RSA key of %d bits is too short (at least %d)", priv.N.BitLen(), keyBits)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &signingKey{priv: priv, kid: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

func generateKey() (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("generating an RSA key: %w", err)
	}
	return newSigningKey(priv)
}

// publicJWK is the key as published in the JWKS.
func (k *signingKey) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// loadOrCreateKeys reads the key file in dir, or creates the directory and a file with one new key.
func loadOrCreateKeys(dir string) ([]*signingKey, error) {
	path := filepath.Join(dir, KeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("dev issuer key directory: %w", err)
		}
		k, err := generateKey()
		if err != nil {
			return nil, err
		}
		keys := []*signingKey{k}
		if err := writeKeys(dir, keys); err != nil {
			return nil, err
		}
		return keys, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dev issuer key: %w", err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("dev issuer key: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("dev issuer key %s is accessible to other users (mode %#o): run chmod 600 on it, or delete it to get a new key", path, fi.Mode().Perm())
		}
	}
	keys, err := parseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("dev issuer key %s: %w (delete the file to get a new key)", path, err)
	}
	return keys, nil
}

func parseKeys(data []byte) ([]*signingKey, error) {
	var keys []*signingKey
	seen := map[string]bool{}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("unexpected PEM block %q (want PRIVATE KEY)", block.Type)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		priv, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("a %T is not an RSA key", parsed)
		}
		k, err := newSigningKey(priv)
		if err != nil {
			return nil, err
		}
		if !seen[k.kid] {
			seen[k.kid] = true
			keys = append(keys, k)
		}
	}
	if len(bytes.TrimSpace(data)) != 0 {
		return nil, errors.New("the file holds something other than PEM blocks")
	}
	if len(keys) == 0 {
		return nil, errors.New("no key in the file")
	}
	return keys, nil
}

// writeKeys replaces the key file atomically (a temporary file, created 0600, then renamed).
func writeKeys(dir string, keys []*signingKey) error {
	var buf bytes.Buffer
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			return err
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(dir, "."+KeyFile+".*")
	if err != nil {
		return fmt.Errorf("writing the dev issuer key: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // fails harmlessly once renamed
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("writing the dev issuer key: %w", errors.Join(err, tmp.Close()))
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing the dev issuer key: %w", errors.Join(err, tmp.Close()))
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing the dev issuer key: %w", errors.Join(err, tmp.Close()))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the dev issuer key: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, KeyFile)); err != nil {
		return fmt.Errorf("writing the dev issuer key: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("writing the dev issuer key: %w", err)
	}
	return nil
}

// syncDir makes the entries of dir (a rename into it) durable. Windows cannot sync a directory, so
// there it does nothing.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
