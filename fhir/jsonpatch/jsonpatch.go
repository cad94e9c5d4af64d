// Package jsonpatch applies RFC 6902 JSON Patch documents to JSON documents.
//
// Numbers keep their exact text, objects keep the order of their members (new members are appended),
// and the output is compact JSON. A patch is applied all-or-nothing: the input is never modified and
// no output is produced when any operation fails.
package jsonpatch

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind classifies an *Error.
type Kind int

const (
	// InvalidPatch means the patch document is malformed (not a JSON array of operations, unknown
	// op, missing or ill-typed member, invalid JSON pointer, move into its own child).
	InvalidPatch Kind = iota + 1
	// InvalidDocument means the target document is not valid JSON.
	InvalidDocument
	// Unprocessable means a well-formed operation cannot be applied to this document (a path or
	// from location that does not exist, an array index out of range, a parent that is not a
	// container).
	Unprocessable
	// TestFailed means a test operation found a different value.
	TestFailed
)

func (k Kind) String() string {
	switch k {
	case InvalidPatch:
		return "invalid patch"
	case InvalidDocument:
		return "invalid document"
	case Unprocessable:
		return "unprocessable"
	case TestFailed:
		return "test failed"
	}
	return "unknown"
}

// Error describes why a patch was rejected.
type Error struct {
	Kind   Kind
	Index  int    // index of the operation in the patch array, or -1 when no single operation is at fault
	Op     string // the operation's "op" (may be empty)
	Path   string // the operation's "path" JSON pointer (may be empty)
	Reason string // lower-case reason
}

func (e *Error) Error() string {
	if e.Index < 0 {
		return e.Kind.String() + ": " + e.Reason
	}
	if e.Op == "" {
		return fmt.Sprintf("op %d: %s", e.Index, e.Reason)
	}
	path := e.Path
	if path == "" {
		path = `""`
	}
	return fmt.Sprintf("op %d (%s %s): %s", e.Index, e.Op, path, e.Reason)
}

type operation struct {
	index    int
	op       string
	path     string
	from     string
	pathToks []string
	fromToks []string
	value    any // ordered tree, never mutated: deep-copied when inserted
	size     int // size(value)
}

// Patch is a parsed JSON Patch. It is immutable and safe for concurrent use.
type Patch struct {
	ops  []operation
	size int // total size of the operations' values
}

// Len returns the number of operations.
func (p *Patch) Len() int { return len(p.ops) }

// Apply applies patch to doc and returns the patched document as compact JSON.
func Apply(doc, patch []byte) ([]byte, error) {
	p, err := Parse(patch)
	if err != nil {
		return nil, err
	}
	return p.Apply(doc)
}

// Parse parses and validates a JSON Patch document.
func Parse(patch []byte) (*Patch, error) {
	v, err := decode(patch)
	if err != nil {
		return nil, &Error{Kind: InvalidPatch, Index: -1, Reason: "not valid JSON: " + err.Error()}
	}
	arr, ok := v.(*array)
	if !ok {
		return nil, &Error{Kind: InvalidPatch, Index: -1, Reason: "the patch is not a JSON array"}
	}
	p := &Patch{ops: make([]operation, 0, len(arr.items))}
	for i, item := range arr.items {
		op, err := parseOperation(i, item)
		if err != nil {
			return nil, err
		}
		p.ops = append(p.ops, op)
		p.size += op.size
	}
	return p, nil
}

func parseOperation(i int, item any) (operation, error) {
	o := operation{index: i}
	obj, ok := item.(*object)
	if !ok {
		return o, &Error{Kind: InvalidPatch, Index: i, Reason: "operation is not a JSON object"}
	}
	bad := func(format string, args ...any) error {
		return &Error{Kind: InvalidPatch, Index: i, Op: o.op, Path: o.path, Reason: fmt.Sprintf(format, args...)}
	}
	// read op and path first so that later errors can name them
	opv, hasOp := obj.get("op")
	if s, ok := opv.(string); ok {
		o.op = s
	}
	pathv, hasPath := obj.get("path")
	if s, ok := pathv.(string); ok {
		o.path = s
	}
	if obj.dup {
		return o, bad("operation repeats a member name")
	}
	switch {
	case !hasOp:
		return o, bad(`missing "op"`)
	case o.op == "" && opv != "":
		return o, bad(`"op" is not a string`)
	}
	switch o.op {
	case "add", "remove", "replace", "move", "copy", "test":
	default:
		return o, bad("unknown op %q", o.op)
	}
	if !hasPath {
		return o, bad(`missing "path"`)
	}
	if _, ok := pathv.(string); !ok {
		return o, bad(`"path" is not a string`)
	}
	var err error
	if o.pathToks, err = parsePointer(o.path); err != nil {
		return o, bad(`invalid "path": %v`, err)
	}
	switch o.op {
	case "add", "replace", "test":
		v, ok := obj.get("value")
		if !ok {
			return o, bad(`missing "value"`)
		}
		o.value = v
		o.size = size(v)
	case "move", "copy":
		fromv, ok := obj.get("from")
		if !ok {
			return o, bad(`missing "from"`)
		}
		s, ok := fromv.(string)
		if !ok {
			return o, bad(`"from" is not a string`)
		}
		o.from = s
		if o.fromToks, err = parsePointer(s); err != nil {
			return o, bad(`invalid "from": %v`, err)
		}
		if o.op == "move" && isProperPrefix(o.fromToks, o.pathToks) {
			return o, bad(`"from" %q is a proper prefix of "path": cannot move a value into itself`, o.from)
		}
	}
	return o, nil
}

// parsePointer splits an RFC 6901 JSON pointer into unescaped reference tokens.
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("pointer %q does not start with '/'", p)
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		if !strings.Contains(t, "~") {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(t); j++ {
			if t[j] != '~' {
				b.WriteByte(t[j])
				continue
			}
			if j+1 < len(t) && t[j+1] == '0' {
				b.WriteByte('~')
			} else if j+1 < len(t) && t[j+1] == '1' {
				b.WriteByte('/')
			} else {
				return nil, fmt.Errorf("pointer %q has an invalid escape (only ~0 and ~1 are allowed)", p)
			}
			j++
		}
		toks[i] = b.String()
	}
	return toks, nil
}

func isProperPrefix(prefix, toks []string) bool {
	if len(prefix) >= len(toks) {
		return false
	}
	for i := range prefix {
		if prefix[i] != toks[i] {
			return false
		}
	}
	return true
}

// Apply applies the patch to doc and returns the patched document as compact JSON.
func (p *Patch) Apply(doc []byte) ([]byte, error) {
	root, err := decode(doc)
	if err != nil {
		return nil, &Error{Kind: InvalidDocument, Index: -1, Reason: "not valid JSON: " + err.Error()}
	}
	// Copy operations can double the document each time; bound the growth so that a small patch
	// cannot build a huge document.
	st := &state{total: size(root)}
	st.limit = 2*(st.total+p.size) + 1<<20
	for i := range p.ops {
		if root, err = p.ops[i].apply(root, st); err != nil {
			return nil, err
		}
	}
	return encode(make([]byte, 0, len(doc)), root), nil
}

// state tracks the size of the document being patched.
type state struct {
	total int
	limit int
}

// grow accounts for n more size units in the document.
func (st *state) grow(o *operation, n int) error {
	st.total += n
	if st.total > st.limit {
		return o.fail(Unprocessable, "the patched document would be too large")
	}
	return nil
}

func (o *operation) fail(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Index: o.index, Op: o.op, Path: o.path, Reason: fmt.Sprintf(format, args...)}
}

// apply performs one operation on root and returns the (possibly new) root.
func (o *operation) apply(root any, st *state) (any, error) {
	switch o.op {
	case "add", "replace":
		if err := st.grow(o, o.size); err != nil {
			return nil, err
		}
	}
	switch o.op {
	case "add":
		return o.add(root, o.pathToks, deepCopy(o.value), "path")
	case "remove":
		if len(o.pathToks) == 0 {
			return nil, o.fail(Unprocessable, "cannot remove the whole document")
		}
		_, err := o.remove(root, o.pathToks, "path")
		return root, err
	case "replace":
		if len(o.pathToks) == 0 {
			return deepCopy(o.value), nil
		}
		parent, last, err := o.parent(root, o.pathToks, "path")
		if err != nil {
			return nil, err
		}
		switch c := parent.(type) {
		case *object:
			if _, ok := c.get(last); !ok {
				return nil, o.fail(Unprocessable, "path does not exist")
			}
			c.set(last, deepCopy(o.value))
		case *array:
			i, err := o.indexArg(last, len(c.items), false, "path")
			if err != nil {
				return nil, err
			}
			c.items[i] = deepCopy(o.value)
		}
		return root, nil
	case "move":
		if _, err := o.get(root, o.fromToks, "from"); err != nil {
			return nil, err
		}
		if equalTokens(o.fromToks, o.pathToks) {
			return root, nil
		}
		v, err := o.remove(root, o.fromToks, "from")
		if err != nil {
			return nil, err
		}
		return o.add(root, o.pathToks, v, "path")
	case "copy":
		v, err := o.get(root, o.fromToks, "from")
		if err != nil {
			return nil, err
		}
		if err := st.grow(o, size(v)); err != nil {
			return nil, err
		}
		return o.add(root, o.pathToks, deepCopy(v), "path")
	case "test":
		v, err := o.get(root, o.pathToks, "path")
		if err != nil {
			return nil, err
		}
		if !equal(v, o.value) {
			return nil, o.fail(TestFailed, "test failed: the value differs")
		}
		return root, nil
	}
	return nil, o.fail(InvalidPatch, "unknown op %q", o.op)
}

func equalTokens(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// where names the location in messages: "path" or "from".
func (o *operation) notFound(where string) error {
	if where == "from" {
		return o.fail(Unprocessable, "from location %q does not exist", o.from)
	}
	return o.fail(Unprocessable, "path does not exist")
}

// get returns the value at toks.
func (o *operation) get(root any, toks []string, where string) (any, error) {
	cur := root
	for _, t := range toks {
		switch c := cur.(type) {
		case *object:
			v, ok := c.get(t)
			if !ok {
				return nil, o.notFound(where)
			}
			cur = v
		case *array:
			i, ok := arrayIndex(t)
			if !ok || i >= len(c.items) {
				return nil, o.notFound(where)
			}
			cur = c.items[i]
		default:
			return nil, o.notFound(where)
		}
	}
	return cur, nil
}

// parent returns the container that holds the last token of toks (len(toks) > 0).
func (o *operation) parent(root any, toks []string, where string) (any, string, error) {
	p, err := o.get(root, toks[:len(toks)-1], where)
	if err != nil {
		return nil, "", err
	}
	switch p.(type) {
	case *object, *array:
		return p, toks[len(toks)-1], nil
	}
	if where == "from" {
		return nil, "", o.fail(Unprocessable, "the parent of from location %q is not an object or array", o.from)
	}
	return nil, "", o.fail(Unprocessable, "the parent of path is not an object or array")
}

// indexArg parses an array index token for an array of the given length: 0 <= i < length, or
// i == length when allowEnd (insertion at the end).
func (o *operation) indexArg(tok string, length int, allowEnd bool, where string) (int, error) {
	i, ok := arrayIndex(tok)
	if !ok {
		if tok == "-" {
			return 0, o.notFound(where)
		}
		return 0, o.fail(Unprocessable, "%s: invalid array index %q", where, tok)
	}
	if i > length || (i == length && !allowEnd) {
		return 0, o.fail(Unprocessable, "%s: array index %d out of bounds (length %d)", where, i, length)
	}
	return i, nil
}

// arrayIndex parses an RFC 6901 array index: "0" or digits without a leading zero.
func arrayIndex(t string) (int, bool) {
	if t == "" || len(t) > 9 || (len(t) > 1 && t[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(t)
	return n, err == nil
}

func (o *operation) add(root any, toks []string, v any, where string) (any, error) {
	if len(toks) == 0 {
		return v, nil
	}
	parent, last, err := o.parent(root, toks, where)
	if err != nil {
		return nil, err
	}
	switch c := parent.(type) {
	case *object:
		c.set(last, v)
	case *array:
		if last == "-" {
			c.items = append(c.items, v)
			return root, nil
		}
		i, err := o.indexArg(last, len(c.items), true, where)
		if err != nil {
			return nil, err
		}
		c.items = append(c.items, nil)
		copy(c.items[i+1:], c.items[i:])
		c.items[i] = v
	}
	return root, nil
}

// remove deletes the value at toks (len(toks) > 0) and returns it.
func (o *operation) remove(root any, toks []string, where string) (any, error) {
	parent, last, err := o.parent(root, toks, where)
	if err != nil {
		return nil, err
	}
	switch c := parent.(type) {
	case *object:
		v, ok := c.get(last)
		if !ok {
			return nil, o.notFound(where)
		}
		c.remove(last)
		return v, nil
	case *array:
		i, err := o.indexArg(last, len(c.items), false, where)
		if err != nil {
			return nil, err
		}
		v := c.items[i]
		c.items = append(c.items[:i], c.items[i+1:]...)
		return v, nil
	}
	return nil, o.notFound(where)
}

// Compact re-encodes a JSON document compactly, preserving member order and number text. It is the
// identity patch and is useful to normalise documents before comparing them.
func Compact(doc []byte) ([]byte, error) {
	v, err := decode(doc)
	if err != nil {
		return nil, &Error{Kind: InvalidDocument, Index: -1, Reason: "not valid JSON: " + err.Error()}
	}
	return encode(make([]byte, 0, len(doc)), v), nil
}
