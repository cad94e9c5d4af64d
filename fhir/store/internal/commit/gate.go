package commit

import (
	"sync"

	"fhirgate/fhir/store"
)

// Gate is a store's closed-store guard. Every operation passes it (Enter, then Leave when it is done);
// Close waits for the operations in progress, then shuts it for good. Its zero value is open.
type Gate struct {
	mu     sync.RWMutex // held shared by operations, exclusively by Close
	closed bool
}

// Enter admits an operation, which must Leave when it is done, or refuses it once the store is closed
// (store.ErrClosed, as an unavailable store).
func (g *Gate) Enter() error {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return store.Unavailable(store.ErrClosed)
	}
	return nil
}

// Leave ends an operation that Enter admitted.
func (g *Gate) Leave() { g.mu.RUnlock() }

// Close waits for the operations in progress, shuts the gate and runs release (the engine's own
// closing) while no operation can start. Only the first Close releases; later ones return nil.
func (g *Gate) Close(release func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	return release()
}
