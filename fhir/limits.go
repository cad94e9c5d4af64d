package fhir

import "fmt"

// JSONLimits bound the shape of a JSON document a client sends, so that what a parser or the validator
// spends on it is bounded by its size: validating a resource costs about a microsecond per value, so a body
// of millions of tiny values would cost seconds of CPU although it fits the byte limit.
type JSONLimits struct {
	// MaxDepth is the deepest nesting of objects and arrays accepted (the top-level object is depth 1).
	MaxDepth int
	// MaxValues is the largest number of values accepted: objects, arrays, strings, numbers, true, false
	// and null, member names not counted.
	MaxValues int
}

// Check scans b once, in time linear in its length and without allocating, and refuses a document that
// nests deeper or holds more values than the limits allow (KindTooCostly, naming the limit). It does not
// validate the JSON: what is malformed is left to the parser, which reports it.
func (l JSONLimits) Check(b []byte) error {
	var stack [64]bool // whether each open container is an object, as deep as it is worth remembering
	depth, values := 0, 0
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r', ':':
			if c == ':' {
				expectKey = false
			}
			continue
		case '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if !expectKey {
				values++
			}
			expectKey = false
			i = j
		case '{', '[':
			values++
			depth++
			if l.MaxDepth > 0 && depth > l.MaxDepth {
				return &Error{Kind: KindTooCostly, Code: "too-costly", Limit: "max-json-depth",
					Details: fmt.Sprintf("the JSON body nests deeper than %d levels (--max-json-depth)", l.MaxDepth)}
			}
			if depth <= len(stack) {
				stack[depth-1] = c == '{'
			}
			expectKey = c == '{'
		case '}', ']':
			if depth > 0 {
				depth--
			}
			expectKey = false
		case ',':
			expectKey = depth > 0 && depth <= len(stack) && stack[depth-1]
		default: // a number or a literal: skip to its end
			values++
			for i+1 < len(b) && !jsonDelimiter(b[i+1]) {
				i++
			}
			expectKey = false
		}
		if l.MaxValues > 0 && values > l.MaxValues {
			return &Error{Kind: KindTooCostly, Code: "too-costly", Limit: "max-json-values",
				Details: fmt.Sprintf("the JSON body holds more than %d values (--max-json-values)", l.MaxValues)}
		}
	}
	return nil
}

func jsonDelimiter(c byte) bool {
	switch c {
	case ',', ']', '}', ':', '"', '{', '[', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}
