package search_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/store/redis"
	"fhirgate/fhir/store/redis/redistest"
	"fhirgate/internal/sharedtest"
)

// Stores opened for datasets shared by the whole test binary are removed by TestMain.
var (
	cleanupMu sync.Mutex
	cleanups  []func() error
)

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupMu.Lock()
	for _, f := range cleanups {
		if err := f(); err != nil {
			fmt.Fprintln(os.Stderr, "removing a test store:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	cleanupMu.Unlock()
	os.Exit(code)
}

// openEngine opens an empty store of the engine for a dataset that outlives one test: a temporary
// directory, or a fresh key prefix of the test Redis.
func openEngine(t *testing.T, engine, name string) (store.Store, error) {
	switch engine {
	case "redis":
		url := sharedtest.RedisURL(t)
		var b [6]byte
		rand.Read(b[:])
		prefix := "fhirgate-test:" + name + ":" + hex.EncodeToString(b[:]) + ":"
		st, err := redis.Open(context.Background(), redis.Config{URL: url, Prefix: prefix, AcceptDataLoss: true,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, err
		}
		cleanupMu.Lock()
		cleanups = append(cleanups, func() error {
			return errors.Join(st.Close(), redistest.Drop(context.Background(), url, prefix))
		})
		cleanupMu.Unlock()
		return st, nil
	default:
		dir, err := os.MkdirTemp("", "fhirgate-"+name)
		if err != nil {
			return nil, err
		}
		st, err := embedded.Open(embedded.Config{Dir: dir})
		if err != nil {
			return nil, err
		}
		cleanupMu.Lock()
		cleanups = append(cleanups, func() error { return errors.Join(st.Close(), os.RemoveAll(dir)) })
		cleanupMu.Unlock()
		return st, nil
	}
}
