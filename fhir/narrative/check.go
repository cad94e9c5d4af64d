package narrative

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The invariant keys a Problem carries.
const (
	// KeyXHTML marks a narrative that is not well-formed XML, or not a div in the XHTML namespace, or
	// holds a construct an HTML parser would read differently (DOCTYPE, CDATA, processing instruction).
	KeyXHTML = "xhtml"
	// KeyTxt1 marks an element, attribute, URL or style that txt-1 does not allow.
	KeyTxt1 = "txt-1"
	// KeyTxt2 marks a narrative without non-whitespace text or image (txt-2).
	KeyTxt2 = "txt-2"
)

// Limits of what Check reads, so that its cost is bounded by a size a server chooses elsewhere.
const (
	// MaxSize is the longest narrative, in bytes, that Check reads; a longer one is refused.
	MaxSize = 8 << 20
	// MaxDepth is the deepest nesting of elements accepted, the root div being at depth 1.
	MaxDepth = 256
	// MaxProblems is the number of problems after which Check stops reading.
	MaxProblems = 20
)

// A Problem is one reason a narrative is refused. Its Text names the element or attribute concerned but
// never quotes the narrative's text or attribute values, which may hold patient data.
type Problem struct {
	// Key is the invariant broken: KeyTxt1, KeyTxt2 or KeyXHTML.
	Key string
	// Text says what is wrong, in one lower-case sentence.
	Text string
	// Line and Column locate the offending markup in the narrative (1-based); 0 when not known.
	Line, Column int
}

// String returns the text, prefixed with the line and column when they are known.
func (p Problem) String() string {
	switch {
	case p.Line == 0:
		return p.Text
	case p.Column == 0:
		return fmt.Sprintf("%d: %s", p.Line, p.Text)
	}
	return fmt.Sprintf("%d:%d: %s", p.Line, p.Column, p.Text)
}

// HTMLChecks reports whether div is a narrative FHIR R4 accepts: the FHIRPath function htmlChecks() of
// the invariants txt-1 and txt-2.
func HTMLChecks(div string) bool {
	return len(Check(div)) == 0
}

// Check reads a narrative (the XHTML of Narrative.div) and returns every reason, up to MaxProblems, why
// FHIR R4 does not allow it; none when it is allowed. Once the XML is found not to be well-formed, Check
// reports that and stops.
func Check(div string) []Problem {
	if len(div) > MaxSize {
		return []Problem{{Key: KeyXHTML, Text: fmt.Sprintf("the narrative is longer than %d bytes", MaxSize)}}
	}
	c := checker{src: div, d: xml.NewDecoder(strings.NewReader(div))}
	c.d.Strict = true
	c.run()
	if !c.broken {
		c.finish()
	}
	return c.problems
}

// checker holds the state of one Check.
type checker struct {
	src      string
	d        *xml.Decoder
	problems []Problem
	// stack holds the raw names of the open elements, as written (prefix:local).
	stack []string
	// line and col are where the token being checked starts.
	line, col int
	// rootSeen and rootClosed say whether the root element has started and ended.
	rootSeen, rootClosed bool
	// content is whether some non-whitespace text or an img with a src was seen (txt-2).
	content bool
	// broken is whether the XML was found not to be well-formed, which stops the reading.
	broken bool
}

func (c *checker) add(key, format string, args ...any) {
	if len(c.problems) < MaxProblems {
		c.problems = append(c.problems, Problem{Key: key, Text: fmt.Sprintf(format, args...), Line: c.line, Column: c.col})
	}
}

// fatal records a problem after which the narrative is not read further.
func (c *checker) fatal(key, format string, args ...any) {
	c.add(key, format, args...)
	c.broken = true
}

func (c *checker) run() {
	for !c.broken && len(c.problems) < MaxProblems {
		c.line, c.col = c.d.InputPos()
		off := c.d.InputOffset()
		tok, err := c.d.RawToken()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			c.syntaxError(err)
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c.start(t)
		case xml.EndElement:
			c.end(t)
		case xml.CharData:
			c.text(t, off)
		case xml.Comment:
			c.comment(t)
		case xml.ProcInst:
			c.add(KeyXHTML, "processing instructions (<?...?>) are not allowed in narrative")
		case xml.Directive:
			c.add(KeyXHTML, "declarations (<!DOCTYPE ...> and others) are not allowed in narrative")
		}
	}
}

func (c *checker) syntaxError(err error) {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		c.line, c.col = se.Line, 0
		c.fatal(KeyXHTML, "the narrative is not well-formed XML: %s", se.Msg)
		return
	}
	c.fatal(KeyXHTML, "the narrative is not well-formed XML: %v", err)
}

func (c *checker) finish() {
	c.line, c.col = c.d.InputPos()
	switch {
	case !c.rootSeen:
		c.add(KeyXHTML, "the narrative has no root element: it must be a div in the XHTML namespace")
	case len(c.stack) > 0:
		c.add(KeyXHTML, "the narrative is not well-formed XML: element <%s> is not closed", c.stack[len(c.stack)-1])
	}
	if c.rootSeen && !c.content {
		c.add(KeyTxt2, "the narrative has no non-whitespace text and no image (txt-2)")
	}
}

func rawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func (c *checker) start(t xml.StartElement) {
	name := rawName(t.Name)
	if c.rootClosed {
		c.fatal(KeyXHTML, "element <%s> follows the root div: a narrative has a single root", name)
		return
	}
	if len(c.stack) >= MaxDepth {
		c.fatal(KeyXHTML, "elements nest deeper than %d levels", MaxDepth)
		return
	}
	root := !c.rootSeen
	c.rootSeen = true
	c.stack = append(c.stack, name)
	switch {
	case t.Name.Space != "":
		c.add(KeyXHTML, "element <%s> has a namespace prefix: narrative elements are unprefixed XHTML", name)
	case root && t.Name.Local != "div":
		c.add(KeyXHTML, "the root element is <%s>: it must be a div in the XHTML namespace", name)
	case !elements[t.Name.Local]:
		c.add(KeyTxt1, "element <%s> is not allowed in narrative (txt-1)", name)
	}
	declared := false
	for i, a := range t.Attr {
		for _, b := range t.Attr[:i] {
			if b.Name == a.Name {
				c.fatal(KeyXHTML, "the narrative is not well-formed XML: attribute %s is repeated on <%s>", rawName(a.Name), name)
				return
			}
		}
		if a.Name.Space == "" && a.Name.Local == "xmlns" {
			declared = true
		}
		c.attr(name, a)
	}
	if root && !declared {
		c.add(KeyXHTML, "the root div does not declare the XHTML namespace (xmlns=\"%s\")", XHTMLNamespace)
	}
}

func (c *checker) attr(elem string, a xml.Attr) {
	name := rawName(a.Name)
	switch {
	case a.Name.Space == "" && a.Name.Local == "xmlns":
		if a.Value != XHTMLNamespace {
			c.add(KeyXHTML, "element <%s> declares a namespace other than XHTML (%s)", elem, XHTMLNamespace)
		}
	case a.Name.Space == "xmlns":
		c.add(KeyXHTML, "namespace prefix declaration %s on <%s> is not allowed: narrative elements are unprefixed XHTML", name, elem)
	case a.Name.Space == "xml" && a.Name.Local == "lang":
	case a.Name.Space != "" || !attributes[a.Name.Local]:
		c.add(KeyTxt1, "attribute %s on <%s> is not allowed (txt-1)", name, elem)
	case urlAttributes[a.Name.Local]:
		if why := checkURL(a.Value, elem == "img" && a.Name.Local == "src"); why != "" {
			c.add(KeyTxt1, "attribute %s on <%s>: %s (txt-1)", name, elem, why)
		}
	case a.Name.Local == "style":
		if why := checkStyle(a.Value); why != "" {
			c.add(KeyTxt1, "attribute style on <%s>: %s (txt-1)", elem, why)
		}
	}
	if elem == "img" && name == "src" {
		c.content = true
	}
}

func (c *checker) end(t xml.EndElement) {
	name := rawName(t.Name)
	if len(c.stack) == 0 {
		c.fatal(KeyXHTML, "the narrative is not well-formed XML: </%s> closes no element", name)
		return
	}
	if open := c.stack[len(c.stack)-1]; open != name {
		c.fatal(KeyXHTML, "the narrative is not well-formed XML: element <%s> is closed by </%s>", open, name)
		return
	}
	c.stack = c.stack[:len(c.stack)-1]
	if len(c.stack) == 0 {
		c.rootClosed = true
	}
}

func (c *checker) text(t xml.CharData, off int64) {
	if strings.HasPrefix(c.src[off:], "<![CDATA[") {
		c.add(KeyXHTML, "CDATA sections are not allowed in narrative: an HTML parser reads their content as markup")
		return
	}
	blank := isXMLSpace(t)
	if len(c.stack) == 0 {
		if !blank {
			c.fatal(KeyXHTML, "text outside the root div: a narrative is a single div element")
		}
		return
	}
	if !blank {
		c.content = true
	}
}

// comment refuses a comment that an HTML parser would end before the XML parser does, or read as a
// conditional comment: one that starts with > or -, ends with -, or holds < or >.
func (c *checker) comment(t xml.Comment) {
	s := string(t)
	if strings.HasPrefix(s, ">") || strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") || strings.ContainsAny(s, "<>") {
		c.add(KeyXHTML, "a comment that starts with > or -, ends with -, or holds < or > is not allowed in narrative: an HTML parser ends it elsewhere")
	}
}

// isXMLSpace reports whether b holds only XML white space (space, tab, CR, LF), as XPath normalize-space
// understands it.
func isXMLSpace(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}
