// Command gendict builds a compression dictionary for the store's values (package codec, compress.go)
// from a store written by fhirgate: the bodies of up to -per-type resources of every type (evenly spread
// over its ids) and their index lists, as the codec encodes them.
//
// Dictionary 1 was built from a store written by `fhirgate serve --dev` through `fhirgate bench populate
// --patients 200` (a system client) and 15 s each of `fhirgate bench run --workload read`, `search` and
// `mixed` (a practitioner): resources of every type the population writes, and the audit events of
// those accesses. Then, with the server stopped:
//
//	go run ./fhir/store/internal/codec/gendict -store DIR -out fhir/store/internal/codec/dictN.s2dict
//
// A dictionary is never rebuilt in place: values written with it need its exact bytes. A new one takes the
// next id in compress.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/klauspost/compress/dict"

	"fhirgate/fhir"
	"fhirgate/fhir/store/embedded"
	"fhirgate/fhir/store/internal/codec"
)

func main() {
	dir := flag.String("store", "", "the embedded store's directory (the server must be stopped)")
	out := flag.String("out", "", "the dictionary file to write")
	perType := flag.Int("per-type", 2000, "the most resources sampled of each type")
	flag.Parse()
	if *dir == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, *out, *perType); err != nil {
		log.Fatal(err)
	}
}

func run(dir, out string, perType int) error {
	ctx := context.Background()
	st, err := embedded.Open(embedded.Config{Dir: dir})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	var samples [][]byte
	for _, typ := range fhir.ResourceTypes() {
		var ids []string
		if err := st.ScanIDs(ctx, typ, func(id string) bool { ids = append(ids, id); return true }); err != nil {
			return err
		}
		ids = spread(ids, perType)
		for _, id := range ids {
			v, err := st.Read(ctx, typ, id)
			if err != nil {
				return err
			}
			entries, err := st.IndexEntries(ctx, typ, id)
			if err != nil {
				return err
			}
			samples = append(samples, v.Body, codec.PlainIndexList(entries))
		}
		if len(ids) > 0 {
			fmt.Fprintf(os.Stderr, "%s: %d\n", typ, len(ids))
		}
	}
	d, err := dict.BuildS2Dict(samples, dict.Options{MaxDictSize: 64 << 10, HashBytes: 6})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d samples, dictionary of %d bytes\n", len(samples), len(d))
	return os.WriteFile(out, d, 0o644)
}

// spread keeps n of ids, evenly spaced (audit events' ids follow time: the first n would all be of the
// population's load, none of the reads that came after).
func spread(ids []string, n int) []string {
	if len(ids) <= n {
		return ids
	}
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, ids[i*len(ids)/n])
	}
	return out
}
