package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fhirgate/fhir/store"
	"fhirgate/internal/sharedtest"
)

// TestDurabilityKill9: a Redis with an append-only file synced on every write, concurrent writers
// (resources and audit events), kill -9 while they write; after a restart on the same directory every
// acknowledged write is there and the audit chain verifies.
func TestDurabilityKill9(t *testing.T) {
	dir := t.TempDir()
	srv := sharedtest.StartRedis(t, dir, 0, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	st, err := Open(ctx, Config{URL: srv.URL(), Logger: quiet})
	if err != nil {
		t.Fatalf("open on appendfsync always: %v", err)
	}
	if !st.Durability().Safe {
		t.Fatalf("durability %s", st.Durability())
	}

	const minAcked = 300
	var acked sync.Map // "Type/id" -> version
	var count atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				op := store.Op{Type: "Patient", ID: fmt.Sprintf("w%d-%d", w, i), Method: "PUT",
					Body: []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"w%d-%d"}`, w, i))}
				if i%2 == 1 {
					op = store.Op{Type: "AuditEvent", ID: fmt.Sprintf("ev%d-%d", w, i), Method: "POST", Chain: true, IfNoneExist: true,
						Body: []byte(fmt.Sprintf(`{"resourceType":"AuditEvent","id":"ev%d-%d","recorded":"2026-11-29T10:00:00Z"}`, w, i))}
				}
				vs, err := st.Commit(ctx, &store.Tx{Ops: []store.Op{op}})
				if err != nil {
					return // the server is gone
				}
				acked.Store(op.Type+"/"+op.ID, vs[0].VersionID)
				count.Add(1)
			}
		})
	}
	for count.Load() < minAcked {
		time.Sleep(5 * time.Millisecond)
	}
	srv.Kill() // kill -9 in the middle of the writes
	close(stop)
	wg.Wait()
	st.Close()
	n := count.Load()

	srv = sharedtest.StartRedis(t, dir, srv.Port, "--appendonly", "yes", "--appendfsync", "always")
	st, err = Open(ctx, Config{URL: srv.URL(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	missing := 0
	acked.Range(func(k, v any) bool {
		typ, id, _ := bytes.Cut([]byte(k.(string)), []byte("/"))
		got, err := st.Read(ctx, string(typ), string(id))
		if err != nil || got.VersionID != v.(uint64) {
			missing++
			t.Errorf("acknowledged %s is lost after the crash: %v", k, err)
		}
		return missing < 10
	})
	rep, err := store.VerifyChain(ctx, st, []string{"AuditEvent"}, nil)
	if err != nil || rep.Broken != nil {
		t.Fatalf("audit chain after the crash: %v %v", err, rep.Broken)
	}
	t.Logf("%d acknowledged writes before kill -9, all present after restart; chain of %d events intact", n, rep.Records)
}

// TestOpenRefusesEverysec: the same server with appendfsync everysec is refused without the operator's
// acceptance, and accepted (and marked) with it.
func TestOpenRefusesEverysec(t *testing.T) {
	srv := sharedtest.StartRedis(t, t.TempDir(), 0, "--appendonly", "yes", "--appendfsync", "everysec")
	_, err := Open(context.Background(), Config{URL: srv.URL(), Logger: quiet})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("appendfsync=everysec")) {
		t.Fatalf("opened on everysec: %v", err)
	}
	st, err := Open(context.Background(), Config{URL: srv.URL(), Logger: quiet, AcceptDataLoss: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if d := st.Durability(); d.Safe || !d.Accepted {
		t.Fatalf("durability %+v", d)
	}
}

// TestOpenRefusesCluster: a Redis Cluster node is refused with the reason, not run into CROSSSLOT errors.
func TestOpenRefusesCluster(t *testing.T) {
	dir := t.TempDir()
	srv := sharedtest.StartRedis(t, dir, 0, "--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf",
		"--appendonly", "yes", "--appendfsync", "always")
	_, err := Open(context.Background(), Config{URL: srv.URL(), Logger: quiet, AcceptDataLoss: true})
	if !errors.Is(err, ErrCluster) {
		t.Fatalf("opened a cluster node: %v", err)
	}
}
