package rest

import (
	"sync"
)

// Ledger records, for one interaction, which patients each resource it saw is about, and which
// resources were refused to the client and why. The audit trail is written from it: one event per patient
// whose data was touched, refusals included.
type Ledger struct {
	mu       sync.Mutex
	patients map[string][]string // "Type/id" -> the patients it is about
	refused  []Refusal
	parent   *Ledger // an entry's ledger also records into its Bundle's
}

// Refusal is a resource the client was refused.
type Refusal struct {
	Ref      string // "Type/id"
	Patients []string
	Err      error
}

// NewLedger returns an empty Ledger, to set on a Request.
func NewLedger() *Ledger { return &Ledger{patients: map[string][]string{}} }

// entry returns the ledger of a batch or transaction entry: its records also go to l.
func (l *Ledger) entry() *Ledger {
	return &Ledger{patients: map[string][]string{}, parent: l}
}

func (l *Ledger) note(ref string, patients []string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.patients[ref] = patients
	l.mu.Unlock()
	l.parent.note(ref, patients)
}

func (l *Ledger) refuse(ref string, patients []string, err error) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.refused = append(l.refused, Refusal{Ref: ref, Patients: patients, Err: err})
	l.mu.Unlock()
	l.parent.refuse(ref, patients, err)
}

// Patients returns the patients a resource ("Type/id") seen by the interaction is about.
func (l *Ledger) Patients(ref string) []string {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.patients[ref]
}

// Noted returns the resources the interaction saw (the guard let the client see them), with the patients
// each is about.
func (l *Ledger) Noted() map[string][]string {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]string, len(l.patients))
	for ref, ps := range l.patients {
		out[ref] = ps
	}
	return out
}

// Refused returns the resources refused to the client.
func (l *Ledger) Refused() []Refusal {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Refusal(nil), l.refused...)
}

// EntryResult is the outcome of one batch or transaction entry, for the audit trail.
type EntryResult struct {
	Request  *Request
	Response *Response
	Err      error
	Ledger   *Ledger
}
