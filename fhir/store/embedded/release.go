package embedded

import (
	"github.com/cockroachdb/pebble/v2"

	"fhirgate/fhir/store"
)

// closeIter closes an iterator as the function whose error is *err returns. Closing returns the error
// the iterator met while reading, or one of releasing what it read: it becomes the function's error,
// through wrap when it is not nil, unless the function already has one.
func closeIter(it *pebble.Iterator, err *error, wrap func(error) error) {
	cerr := it.Close()
	if cerr == nil || *err != nil {
		return
	}
	if wrap != nil {
		cerr = wrap(cerr)
	}
	*err = cerr
}

// offerClose closes the iterator of a sequence as the sequence ends, and offers the error it returns (one
// met while reading, or in releasing what it read) to the consumer, unless the sequence has already
// ended: the consumer stopped, or was offered an error.
func offerClose(it *pebble.Iterator, ended *bool, yield func(*store.Version, error) bool) {
	if err := it.Close(); err != nil && !*ended {
		yield(nil, store.Unavailable(err))
	}
}

// releaseBatch returns a batch to Pebble once it is committed or given up. Closing fails only for a batch
// already closed, a mistake of this package and not a failure of the write, whose result stands: it is
// logged, not returned.
func (s *Store) releaseBatch(b *pebble.Batch) {
	if err := b.Close(); err != nil {
		s.cfg.Logger.Error("closing a write batch", "err", err)
	}
}
