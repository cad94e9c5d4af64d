package commit

import (
	"context"
	"fmt"
	"iter"

	"fhirgate/fhir/store"
	"fhirgate/fhir/store/internal/codec"
)

// Collect pages a history: it takes the versions offered newest first, keeps those that q selects
// (Seq before q.Before, when set), and stops at the first older than q.Since (lastUpdated never
// decreases along Seq) or once it holds q.Limit. The first error offered, or the context's, ends it.
// Engines offer the system or a type history by Seq, or a resource's versions: its current version, then
// the superseded ones.
func Collect(ctx context.Context, q store.HistoryQuery, versions iter.Seq2[*store.Version, error]) ([]*store.Version, error) {
	var out []*store.Version
	for v, err := range versions {
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if q.Before > 0 && v.Seq >= q.Before {
			continue
		}
		if !q.Since.IsZero() && v.LastUpdated.Before(q.Since) {
			break
		}
		out = append(out, v)
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
	}
	return out, nil
}

// Remaining returns how many more versions a page of q can take once it holds n, at most page (page when
// q has no Limit): how many history entries an engine reads in its next round trip.
func Remaining(q store.HistoryQuery, n, page int) int {
	if q.Limit > 0 && q.Limit-n < page {
		return q.Limit - n
	}
	return page
}

// Entry is an entry of the system history or of a type history: the version it points at.
type Entry struct {
	Type, ID  string
	VersionID uint64
}

// ParseEntry decodes an entry of the history q reads (codec.Pointer): the system history's entries name
// their type, a type history's are of q.Type. A corrupt entry is an unavailable store.
func ParseEntry(q store.HistoryQuery, pointer []byte) (Entry, error) {
	typ, id, vid, err := codec.ParsePointer(pointer, q.Type == "")
	if err != nil {
		return Entry{}, store.Unavailable(err)
	}
	if q.Type != "" {
		typ = q.Type
	}
	return Entry{Type: typ, ID: id, VersionID: vid}, nil
}

// Missing is the error of a history entry whose version cannot be read (err, or store.ErrNotFound when
// nil): the store is damaged.
func (e Entry) Missing(err error) error {
	if err == nil {
		err = store.ErrNotFound
	}
	return store.Unavailable(fmt.Errorf("history points at a missing version %s/%s/%d: %w", e.Type, e.ID, e.VersionID, err))
}
