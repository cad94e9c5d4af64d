// Package benchdata loads a generated population into an embedded store for benchmarks, once per
// machine: the store is kept in the system's temporary directory, keyed by size and seed, and reused by
// later runs. Only benchmarks import it.
package benchdata

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"fhirgate/fhir/rest"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/validation"
	"fhirgate/population"
)

// BaseURL is the base URL the benchmark data is loaded under.
const BaseURL = "http://localhost:8080/fhir"

// Population returns a store holding the shared resources and n generated patients (seed 1), and the
// service over it. The store is closed when the benchmark ends.
func Population(tb testing.TB, n int) (*embedded.Store, *rest.Service, population.Config) {
	tb.Helper()
	cfg := population.Config{Patients: n, Seed: 1}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("fhirgate-bench-%d-seed1", n))
	complete := filepath.Join(dir, "COMPLETE")
	if _, err := os.Stat(complete); err != nil {
		if err := os.RemoveAll(dir); err != nil {
			tb.Fatal(err)
		}
		if err := load(tb, dir, cfg); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(complete, nil, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	st, err := embedded.Open(embedded.Config{Dir: filepath.Join(dir, "store")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Error(err)
		}
	})
	svc := service(tb, st)
	return st, svc, cfg
}

func service(tb testing.TB, st *embedded.Store) *rest.Service {
	v, err := validation.New(validation.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := rest.New(rest.Config{BaseURL: BaseURL}, st, v)
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

func load(tb testing.TB, dir string, cfg population.Config) (err error) {
	st, err := embedded.Open(embedded.Config{Dir: filepath.Join(dir, "store")})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	svc := service(tb, st)
	ctx := context.Background()
	if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: population.Shared(cfg), Return: rest.ReturnMinimal}); err != nil {
		return err
	}
	jobs := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0)*2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if _, err := svc.Do(ctx, rest.AllowAll{}, &rest.Request{Interaction: rest.Transaction, Body: population.Patient(cfg, i), Return: rest.ReturnMinimal}); err != nil {
					select {
					case errs <- fmt.Errorf("patient %d: %w", i, err):
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < cfg.Patients; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return nil
}
