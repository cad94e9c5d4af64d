package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fhirgate/fhir/store"
)

// A hash chain shows that a record in it was altered, removed, inserted or moved; it cannot show that its
// newest records were cut off (a store restored from an older copy, a log file deleted, a tail truncated):
// what remains is a shorter chain, as consistent as before. Checkpoints anchor it outside the store: at
// least every 10 s and every 10,000 events, the server signs the chain's head (its position and hash,
// when its event was stored) with a key of its own, logs it, and appends it to a file that should live
// where the server cannot rewrite it. Verify then fails when the store no longer reaches a signed head,
// or disagrees with one.

// Checkpoint is a signed statement of the audit chain's head.
type Checkpoint struct {
	// Seq is the head's position in the chain, Head its hash (hex).
	Seq  uint64 `json:"seq"`
	Head string `json:"head"`
	// Event is the head's event ("AuditEvent/<id>"), and Sealed when it was stored (its meta.lastUpdated):
	// that event, and every event stored before it, is in the chain this checkpoint seals.
	Event  string    `json:"event"`
	Sealed time.Time `json:"sealed"`
	// At is when the checkpoint was taken.
	At time.Time `json:"at"`
	// Key is the public key that signs ("ed25519:" and base64), Sig the signature (base64).
	Key string `json:"key"`
	Sig string `json:"sig"`
}

// message is what a checkpoint's signature covers.
func (c *Checkpoint) message() []byte {
	return fmt.Appendf(nil, "fhirgate audit checkpoint\nseq %d\nhead %s\nevent %s\nsealed %s\nat %s\nkey %s\n",
		c.Seq, c.Head, c.Event, c.Sealed.UTC().Format(time.RFC3339Nano), c.At.UTC().Format(time.RFC3339Nano), c.Key)
}

// Fingerprint returns a short fingerprint of the checkpoint's key, to compare with the one the server
// logs at start.
func (c *Checkpoint) Fingerprint() string { return fingerprint(c.Key) }

func fingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// Verify checks the checkpoint's signature, with its own key, and with pinned (a key as Key gives it)
// when pinned is not "": then the key must be that one.
func (c *Checkpoint) Verify(pinned string) error {
	if pinned != "" && c.Key != pinned {
		return fmt.Errorf("signed by key %s, not by the key given (%s)", c.Fingerprint(), fingerprint(pinned))
	}
	raw, ok := strings.CutPrefix(c.Key, "ed25519:")
	pub, err := base64.StdEncoding.DecodeString(raw)
	if !ok || err != nil || len(pub) != ed25519.PublicKeySize {
		return errors.New("the key is not an Ed25519 public key")
	}
	sig, err := base64.StdEncoding.DecodeString(c.Sig)
	if err != nil || !ed25519.Verify(ed25519.PublicKey(pub), c.message(), sig) {
		return errors.New("the signature does not verify")
	}
	return nil
}

// Signer signs checkpoints with an Ed25519 key.
type Signer struct {
	key ed25519.PrivateKey
	pub string
}

func newSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, pub: "ed25519:" + base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))}
}

// LoadSigner reads the signing key kept in path, or creates it there (readable by the owner only).
func LoadSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		seed := base64.StdEncoding.EncodeToString(key.Seed()) + "\n"
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("audit key: %w", err)
		}
		if _, err := f.WriteString(seed); err != nil {
			return nil, fmt.Errorf("audit key: %w", errors.Join(err, f.Close()))
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("audit key: %w", errors.Join(err, f.Close()))
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("audit key: %w", err)
		}
		return newSigner(key), nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit key: %s does not hold an Ed25519 seed", path)
	}
	return newSigner(ed25519.NewKeyFromSeed(seed)), nil
}

// EphemeralSigner returns a signer whose key lives as long as the process (for a server without a key
// file: its checkpoints verify with the key they carry, whose fingerprint the start log shows).
func EphemeralSigner() *Signer {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("audit: no randomness: " + err.Error())
	}
	return newSigner(key)
}

// PublicKey returns the public key, as checkpoints carry it.
func (s *Signer) PublicKey() string { return s.pub }

// Fingerprint returns the public key's fingerprint.
func (s *Signer) Fingerprint() string { return fingerprint(s.pub) }

// Sign signs a checkpoint of a head: its position and hash, its event and when that was stored.
func (s *Signer) Sign(seq uint64, head [32]byte, event string, sealed, at time.Time) Checkpoint {
	c := Checkpoint{Seq: seq, Head: hex.EncodeToString(head[:]), Event: event, Sealed: sealed.UTC(), At: at.UTC(), Key: s.pub}
	c.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, c.message()))
	return c
}

// CheckpointConfig configures a Checkpointer.
type CheckpointConfig struct {
	// Store holds the chain.
	Store store.ChainStore
	// Signer signs the checkpoints (required).
	Signer *Signer
	// File, when set, is where checkpoints are appended, one JSON object a line, each synced.
	File string
	// Interval (default 10 s) and Every (default 10,000 events) say how often to take one.
	Interval time.Duration
	Every    int
	// Now is the clock; Logger receives every checkpoint (and failures).
	Now    func() time.Time
	Logger *slog.Logger
}

// Checkpointer takes checkpoints of the chain's head while the server runs.
type Checkpointer struct {
	cfg     CheckpointConfig
	log     *slog.Logger
	counted atomic.Int64
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once

	mu     sync.Mutex
	latest *Checkpoint
	file   *os.File
}

// NewCheckpointer opens the checkpoint file (when there is one) and starts taking checkpoints.
func NewCheckpointer(cfg CheckpointConfig) (*Checkpointer, error) {
	if cfg.Store == nil || cfg.Signer == nil {
		return nil, errors.New("audit: a checkpointer needs a store and a signer")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Every <= 0 {
		cfg.Every = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Checkpointer{cfg: cfg, log: cfg.Logger.With("component", "audit-checkpoint"), kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.File != "" {
		f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--audit-checkpoints: %w", err)
		}
		c.file = f
	}
	c.log.Info("audit checkpoints signed", "key", cfg.Signer.Fingerprint(), "public_key", cfg.Signer.PublicKey(), "file", cfg.File)
	go c.run()
	return c, nil
}

// Counted is told of events stored: past Every since the last checkpoint, one is taken at once.
func (c *Checkpointer) Counted(n int) {
	if c.counted.Add(int64(n)) >= int64(c.cfg.Every) {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

func (c *Checkpointer) run() {
	defer close(c.done)
	tk := time.NewTicker(c.cfg.Interval)
	defer tk.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tk.C:
		case <-c.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Interval)
		if _, err := c.Take(ctx); err != nil {
			c.log.Error("audit checkpoint failed", "err", err)
		}
		cancel()
	}
}

// Take takes a checkpoint of the chain's head now, unless the head has not moved since the last one
// (then it returns that one), logs it and appends it to the file.
func (c *Checkpointer) Take(ctx context.Context) (Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counted.Store(0)
	seq, head, err := c.cfg.Store.ChainHead(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if seq == 0 || (c.latest != nil && c.latest.Seq == seq) {
		if c.latest != nil {
			return *c.latest, nil
		}
		return Checkpoint{}, nil
	}
	link, err := c.cfg.Store.ChainLink(ctx, seq)
	if err != nil {
		return Checkpoint{}, err
	}
	v, err := c.cfg.Store.ReadVersion(ctx, link.Type, link.ID, link.VersionID)
	if err != nil {
		return Checkpoint{}, err
	}
	cp := c.cfg.Signer.Sign(seq, head, link.Type+"/"+link.ID, v.LastUpdated, c.cfg.Now())
	c.log.Info("audit checkpoint", "seq", cp.Seq, "head", cp.Head, "sealed", cp.Sealed.Format(time.RFC3339Nano), "sig", cp.Sig)
	if c.file != nil {
		line, _ := json.Marshal(cp)
		if _, err := c.file.Write(append(line, '\n')); err != nil {
			return cp, fmt.Errorf("appending the checkpoint: %w", err)
		}
		if err := c.file.Sync(); err != nil {
			return cp, fmt.Errorf("syncing the checkpoint file: %w", err)
		}
	}
	c.latest = &cp
	return cp, nil
}

// Latest returns the last checkpoint taken (false before the first).
func (c *Checkpointer) Latest() (Checkpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.latest == nil {
		return Checkpoint{}, false
	}
	return *c.latest, true
}

// Close takes a last checkpoint and closes the file.
func (c *Checkpointer) Close(ctx context.Context) error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		_, err = c.Take(ctx)
		if c.file != nil {
			if cerr := c.file.Close(); err == nil {
				err = cerr
			}
		}
	})
	return err
}

// ReadCheckpoints reads a checkpoint file. A last line cut short (a crash while appending) is left out;
// any other line that is not a checkpoint is an error.
func ReadCheckpoints(r io.Reader) ([]Checkpoint, error) {
	var out []Checkpoint
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	var bad error
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if bad != nil {
			return nil, bad // a bad line that was not the last
		}
		var c Checkpoint
		if err := json.Unmarshal([]byte(line), &c); err != nil || c.Sig == "" {
			bad = fmt.Errorf("checkpoint file line %d is not a checkpoint", n)
			continue
		}
		out = append(out, c)
	}
	return out, sc.Err()
}
