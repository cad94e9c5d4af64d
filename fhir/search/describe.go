package search

import (
	"fhirgate/fhir/store"
)

// Description builds the index entries of a resource that its writer describes value by value: for each
// parameter, the values its expression selects. A writer that builds resources itself (the audit trail
// writes one per request) indexes them this way, without encoding and decoding them or evaluating
// expressions. It must describe exactly what the expressions select, as its tests check against Entries:
// the entries are then the same, in another order.
type Description struct {
	x      *Indexer
	typ    string
	order  []string            // parameters in the order they were first described
	values map[string][][]byte // parameter -> keys
}

// Describe starts the description of a resource of type typ.
func (x *Indexer) Describe(typ string) *Description {
	return &Description{x: x, typ: typ, values: make(map[string][][]byte, 16)}
}

// keys returns the keys of an indexed parameter of the type (nil, false for any other).
func (d *Description) keys(param string) ([][]byte, bool) {
	if k, ok := d.values[param]; ok {
		return k, true
	}
	p, ok := Lookup(d.typ, param)
	if !ok || !p.Indexed {
		return nil, false
	}
	d.order = append(d.order, param)
	d.values[param] = nil
	return nil, true
}

// Coding describes a Coding (or one coding of a CodeableConcept) of a token parameter.
func (d *Description) Coding(param, system, code, display string) {
	if k, ok := d.keys(param); ok {
		d.values[param] = codingKeys(k, system, code, display)
	}
}

// Text describes the text of a CodeableConcept of a token parameter.
func (d *Description) Text(param, text string) {
	if k, ok := d.keys(param); ok && text != "" {
		d.values[param] = append(k, normalizedKey(kText, text))
	}
}

// Code describes a code (a FHIR code, string or id element) of a token parameter.
func (d *Description) Code(param, code string) {
	if k, ok := d.keys(param); ok {
		d.values[param] = tokenKeys(k, code)
	}
}

// Reference describes a Reference of a reference parameter: its literal reference and its identifier
// (either may be empty).
func (d *Description) Reference(param, reference, identSystem, identValue string) {
	k, ok := d.keys(param)
	if !ok {
		return
	}
	if reference != "" {
		k = d.x.refKeys(k, reference)
	}
	if identValue != "" {
		k = append(k, key(kRefIdent, identSystem, "|", identValue), key(kRefIdentV, identValue))
	}
	d.values[param] = k
}

// String describes a string of a string parameter.
func (d *Description) String(param, s string) {
	if k, ok := d.keys(param); ok {
		d.values[param] = stringKey(k, s)
	}
}

// Date describes a date, dateTime or instant of a date parameter.
func (d *Description) Date(param, s string) {
	if k, ok := d.keys(param); ok {
		d.values[param] = dateKeys(k, s)
	}
}

// URI describes a uri of a uri parameter.
func (d *Description) URI(param, s string) {
	if k, ok := d.keys(param); ok {
		d.values[param] = append(k, key(kURL, s))
	}
}

// Entries returns the index entries described, each once.
func (d *Description) Entries() []store.IndexEntry {
	out := make([]store.IndexEntry, 0, 4*len(d.order))
	for _, p := range d.order {
		out = appendEntries(out, p, d.values[p])
	}
	return out
}
