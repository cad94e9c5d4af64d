package rest

import "time"

// awaitEnd waits, up to a few seconds, until a cancelled job has ended and removed its folder, so that
// the status URL of a cancelled export is not found as soon as the cancellation is answered.
func (e *Exports) awaitEnd(id string) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		e.mu.Lock()
		_, running := e.running[id]
		e.mu.Unlock()
		if !running {
			return
		}
	}
}
