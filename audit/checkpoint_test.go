package audit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSignerAndCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit-key")
	s, err := LoadSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v %v", info, err)
	}
	again, err := LoadSigner(path)
	if err != nil || again.PublicKey() != s.PublicKey() {
		t.Fatalf("the key does not survive a restart: %v", err)
	}
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	cp := s.Sign(42, [32]byte{1, 2, 3}, "AuditEvent/e42", at.Add(-time.Second), at)
	if err := cp.Verify(""); err != nil {
		t.Fatal(err)
	}
	if err := cp.Verify(s.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if err := cp.Verify(EphemeralSigner().PublicKey()); err == nil {
		t.Fatal("a checkpoint verifies with another key than the one pinned")
	}
	for name, alter := range map[string]func(*Checkpoint){
		"seq":    func(c *Checkpoint) { c.Seq++ },
		"head":   func(c *Checkpoint) { c.Head = strings.Replace(c.Head, "01", "02", 1) },
		"sealed": func(c *Checkpoint) { c.Sealed = c.Sealed.Add(time.Millisecond) },
		"event":  func(c *Checkpoint) { c.Event = "AuditEvent/other" },
		"key":    func(c *Checkpoint) { c.Key = EphemeralSigner().PublicKey() },
	} {
		c := cp
		alter(&c)
		if err := c.Verify(""); err == nil {
			t.Errorf("a checkpoint with its %s altered verifies", name)
		}
	}
}

func TestReadCheckpoints(t *testing.T) {
	s := EphemeralSigner()
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	a, b := s.Sign(1, [32]byte{1}, "AuditEvent/e1", at, at), s.Sign(2, [32]byte{2}, "AuditEvent/e2", at, at)
	line := func(c Checkpoint) string { b, _ := json.Marshal(c); return string(b) }
	got, err := ReadCheckpoints(strings.NewReader(line(a) + "\n" + line(b) + "\n" + `{"seq":3,"head":"ab`))
	if err != nil || len(got) != 2 || got[1].Verify("") != nil {
		t.Fatalf("a file whose last line was cut short: %v %v", got, err)
	}
	if _, err := ReadCheckpoints(strings.NewReader(line(a) + "\nnot a checkpoint\n" + line(b) + "\n")); err == nil {
		t.Fatal("a bad line in the middle of the file is not an error")
	}
}

// TestCheckpointer: checkpoints of a real chain, appended to the file, seal the head's time, verify.
func TestCheckpointer(t *testing.T) {
	d := newDemo(t)
	tr := newTrail(t, d, NewStoreSink(d.st, d.svc), nil)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "checkpoints")
	c, err := NewCheckpointer(CheckpointConfig{Store: d.st, Signer: EphemeralSigner(), File: file, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Latest(); ok {
		t.Fatal("a checkpoint before any was taken")
	}
	for i := 0; i < 3; i++ {
		if _, err := tr.Record(ctx, d.run(practitioner("Practitioner/prac-house"), "GET", "Patient/pat-alice")); err != nil {
			t.Fatal(err)
		}
		cp, err := c.Take(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if seq, head, _ := d.st.ChainHead(ctx); cp.Seq != seq || cp.Head != hex.EncodeToString(head[:]) {
			t.Fatalf("checkpoint %d %s, head %d", cp.Seq, cp.Head, seq)
		}
	}
	again, _ := c.Take(ctx) // the head has not moved: no new checkpoint
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cps, err := ReadCheckpoints(f)
	if err != nil || len(cps) != 3 || cps[2] != again {
		t.Fatalf("%d checkpoints in the file (%v), the last %+v", len(cps), err, again)
	}
	link, _ := d.st.ChainLink(ctx, again.Seq)
	head, _ := d.st.ReadVersion(ctx, link.Type, link.ID, link.VersionID)
	if !again.Sealed.Equal(head.LastUpdated) {
		t.Fatalf("sealed %s, the head event stored at %s", again.Sealed, head.LastUpdated)
	}
	rep, err := Verify(ctx, d.st, cps, "", nil)
	if err != nil || rep.Broken != nil || rep.Checkpoints != 3 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// BenchmarkCheckpoint: one checkpoint of a moved head: reading the head and its event, signing, appending
// the line to the file and syncing it.
//
//	go test -run '^$' -bench Checkpoint -benchtime 200x ./audit/
func BenchmarkCheckpoint(b *testing.B) {
	d := newDemo(b)
	sink := NewStoreSink(d.st, d.svc)
	tr := newTrail(b, d, sink, nil)
	ctx := context.Background()
	c, err := NewCheckpointer(CheckpointConfig{Store: d.st, Signer: EphemeralSigner(), File: filepath.Join(b.TempDir(), "checkpoints"),
		Interval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	in := d.run(practitioner("Practitioner/prac-house"), "GET", "Patient/pat-alice")
	for b.Loop() {
		b.StopTimer()
		if _, err := tr.Record(ctx, in); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := c.Take(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
