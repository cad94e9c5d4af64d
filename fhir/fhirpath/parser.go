package fhirpath

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Limits that keep compilation and evaluation bounded on any input.
const (
	// MaxExpressionLength is the longest expression Compile accepts, in bytes.
	MaxExpressionLength = 64 << 10
	// MaxDepth is the deepest nesting of sub-expressions Compile accepts (parentheses, operator
	// chains, function arguments and path steps all count).
	MaxDepth = 400
)

// SyntaxError reports why an expression does not compile and where.
type SyntaxError struct {
	Pos int    // byte offset in the expression (0-based)
	Msg string // lower-case reason
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("fhirpath: syntax error at offset %d: %s", e.Pos, e.Msg)
}

func syntaxErr(pos int, msg string) error { return &SyntaxError{Pos: pos, Msg: msg} }

type astKind uint8

const (
	aLiteral  astKind = iota // lit
	aEmpty                   // {}
	aMember                  // left.name, or name on $this when left is nil
	aFunc                    // left.name(args), or name(args) on $this when left is nil
	aIndex                   // left[right]
	aBinary                  // left op right
	aUnary                   // op right
	aIs                      // left is typ
	aAs                      // left as typ
	aVar                     // %name
	aThis                    // $this
	aIndexVar                // $index
	aTotalVar                // $total
)

type ast struct {
	kind  astKind
	pos   int
	name  string // member, function, operator or variable name
	left  *ast
	right *ast
	args  []*ast
	fn    *funcDef
	typ   typeSpec
	lit   Node
	depth int
	ufn   Func // a function supplied through Options.Functions, or nil
}

type parser struct {
	src  string
	toks []token
	p    int
	opts *Options
}

// Expr is a compiled FHIRPath expression. It is immutable and safe for concurrent use.
type Expr struct {
	src  string
	root *ast
	plan *plan    // the fast evaluation of common shapes, or nil
	opts *Options // never nil
}

// String returns the source text of the expression.
func (e *Expr) String() string { return e.src }

// Compile parses a FHIRPath expression. The error, a *SyntaxError, gives the offset and the reason.
func Compile(expr string) (*Expr, error) {
	return compile(expr, &defaultOptions)
}

// defaultOptions are Compile's options (shared: an Expr never modifies its options).
var defaultOptions = Options{}

func compile(expr string, opts *Options) (*Expr, error) {
	if len(expr) > MaxExpressionLength {
		return nil, syntaxErr(MaxExpressionLength, fmt.Sprintf("expression longer than %d bytes", MaxExpressionLength))
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	ps := &parser{src: expr, toks: toks, opts: opts}
	if ps.peek().kind == tEOF {
		return nil, syntaxErr(0, "empty expression")
	}
	root, err := ps.parseExpr(0, 0)
	if err != nil {
		return nil, err
	}
	if t := ps.peek(); t.kind != tEOF {
		return nil, syntaxErr(t.pos, "unexpected "+t.describe())
	}
	e := &Expr{src: expr, root: root, opts: opts}
	if opts.Model == nil && len(opts.Functions) == 0 {
		e.plan = compilePlan(root) // plans know neither models nor supplied functions
	}
	return e, nil
}

// MustCompile is like Compile but panics on error; for expressions fixed in code.
func MustCompile(expr string) *Expr {
	e, err := Compile(expr)
	if err != nil {
		panic(err)
	}
	return e
}

func (ps *parser) peek() token { return ps.toks[ps.p] }

func (ps *parser) next() token {
	t := ps.toks[ps.p]
	if t.kind != tEOF {
		ps.p++
	}
	return t
}

func (ps *parser) isPunct(s string) bool {
	t := ps.peek()
	return t.kind == tPunct && t.text == s
}

func (ps *parser) expectPunct(s string) error {
	t := ps.peek()
	if t.kind != tPunct || t.text != s {
		return syntaxErr(t.pos, fmt.Sprintf("expected %q, found %s", s, t.describe()))
	}
	ps.p++
	return nil
}

// binary operator precedence; higher binds tighter.
func binaryPrec(t token) int {
	switch t.kind {
	case tPunct:
		switch t.text {
		case "*", "/":
			return 10
		case "+", "-", "&":
			return 9
		case "|":
			return 7
		case "<", ">", "<=", ">=":
			return 6
		case "=", "~", "!=", "!~":
			return 5
		}
	case tIdent:
		if t.delimited {
			return 0
		}
		switch t.text {
		case "div", "mod":
			return 10
		case "is", "as":
			return 8
		case "in", "contains":
			return 4
		case "and":
			return 3
		case "or", "xor":
			return 2
		case "implies":
			return 1
		}
	}
	return 0
}

func newNode(kind astKind, pos int, children ...*ast) *ast {
	a := &ast{kind: kind, pos: pos}
	for _, c := range children {
		if c != nil && c.depth+1 > a.depth {
			a.depth = c.depth + 1
		}
	}
	if a.depth == 0 {
		a.depth = 1
	}
	return a
}

func (ps *parser) checkDepth(a *ast) error {
	if a.depth > MaxDepth {
		return syntaxErr(a.pos, fmt.Sprintf("expression nested deeper than %d", MaxDepth))
	}
	return nil
}

func (ps *parser) parseExpr(minPrec, depth int) (*ast, error) {
	if depth > MaxDepth {
		return nil, syntaxErr(ps.peek().pos, fmt.Sprintf("expression nested deeper than %d", MaxDepth))
	}
	left, err := ps.parseUnary(depth + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := ps.peek()
		prec := binaryPrec(t)
		if prec == 0 || prec < minPrec {
			return left, nil
		}
		ps.next()
		if t.text == "is" || t.text == "as" {
			ts, err := ps.parseTypeSpec()
			if err != nil {
				return nil, err
			}
			kind := aIs
			if t.text == "as" {
				kind = aAs
			}
			n := newNode(kind, t.pos, left)
			n.left, n.typ = left, ts
			if err := ps.checkDepth(n); err != nil {
				return nil, err
			}
			left = n
			continue
		}
		right, err := ps.parseExpr(prec+1, depth+1)
		if err != nil {
			return nil, err
		}
		n := newNode(aBinary, t.pos, left, right)
		n.name, n.left, n.right = t.text, left, right
		if err := ps.checkDepth(n); err != nil {
			return nil, err
		}
		left = n
	}
}

// parseTypeSpec reads a type specifier: Name, FHIR.Name or System.Name.
func (ps *parser) parseTypeSpec() (typeSpec, error) {
	t := ps.peek()
	if t.kind != tIdent {
		return typeSpec{}, syntaxErr(t.pos, "expected a type name, found "+t.describe())
	}
	ps.next()
	if (t.text == "FHIR" || t.text == "System") && ps.isPunct(".") && ps.toks[ps.p+1].kind == tIdent {
		ps.next()
		n := ps.next()
		return typeSpec{ns: t.text, name: n.text}, nil
	}
	return typeSpec{name: t.text}, nil
}

func (ps *parser) parseUnary(depth int) (*ast, error) {
	if depth > MaxDepth {
		return nil, syntaxErr(ps.peek().pos, fmt.Sprintf("expression nested deeper than %d", MaxDepth))
	}
	t := ps.peek()
	if t.kind == tPunct && (t.text == "+" || t.text == "-") {
		ps.next()
		operand, err := ps.parseUnary(depth + 1)
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return operand, nil
		}
		if operand.kind == aLiteral {
			if s, ok := operand.lit.Value.(json.Number); ok {
				neg := newNode(aLiteral, t.pos)
				if strings.HasPrefix(string(s), "-") {
					neg.lit = numberNode(json.Number(strings.TrimPrefix(string(s), "-")))
				} else {
					neg.lit = numberNode("-" + s)
				}
				return neg, nil
			}
		}
		n := newNode(aUnary, t.pos, operand)
		n.name, n.right = "-", operand
		return n, ps.checkDepth(n)
	}
	return ps.parsePostfix(depth + 1)
}

func (ps *parser) parsePostfix(depth int) (*ast, error) {
	left, err := ps.parseTerm(depth)
	if err != nil {
		return nil, err
	}
	for {
		t := ps.peek()
		switch {
		case t.kind == tPunct && t.text == ".":
			ps.next()
			id := ps.peek()
			if id.kind != tIdent {
				return nil, syntaxErr(id.pos, "expected a name after '.', found "+id.describe())
			}
			ps.next()
			if ps.isPunct("(") && !id.delimited {
				left, err = ps.parseCall(id, left, depth)
				if err != nil {
					return nil, err
				}
			} else {
				n := newNode(aMember, id.pos, left)
				n.name, n.left = id.text, left
				left = n
			}
		case t.kind == tPunct && t.text == "[":
			ps.next()
			idx, err := ps.parseExpr(0, depth+1)
			if err != nil {
				return nil, err
			}
			if err := ps.expectPunct("]"); err != nil {
				return nil, err
			}
			n := newNode(aIndex, t.pos, left, idx)
			n.left, n.right = left, idx
			left = n
		default:
			return left, nil
		}
		if err := ps.checkDepth(left); err != nil {
			return nil, err
		}
	}
}

func (ps *parser) parseTerm(depth int) (*ast, error) {
	t := ps.next()
	switch t.kind {
	case tEOF:
		return nil, syntaxErr(t.pos, "unexpected end of expression")
	case tString:
		n := newNode(aLiteral, t.pos)
		n.lit = Node{Value: t.text, Type: sysString, Index: -1}
		return n, nil
	case tNumber:
		n := newNode(aLiteral, t.pos)
		n.lit = numberNode(json.Number(t.text))
		// a quantity: a number followed by a quoted unit or a calendar keyword
		if u := ps.peek(); u.kind == tString || (u.kind == tIdent && !u.delimited && isCalendarWord(u.text)) {
			ps.next()
			n.lit = quantityNode(t.text, u.text)
		}
		return n, nil
	case tDate:
		n := newNode(aLiteral, t.pos)
		switch {
		case strings.HasPrefix(t.text, "T"):
			n.lit = Node{Value: t.text[1:], Type: sysTime, Index: -1}
		case strings.Contains(t.text, "T"):
			n.lit = Node{Value: strings.TrimSuffix(t.text, "T"), Type: sysDateTime, Index: -1}
		default:
			n.lit = Node{Value: t.text, Type: sysDate, Index: -1}
		}
		return n, nil
	case tEnv:
		switch t.text {
		case "resource", "rootResource", "context", "ucum", "sct", "loinc":
		default:
			if strings.HasPrefix(t.text, "vs-") || strings.HasPrefix(t.text, "ext-") {
				break
			}
			return nil, syntaxErr(t.pos, "unknown environment variable %"+t.text)
		}
		n := newNode(aVar, t.pos)
		n.name = t.text
		return n, nil
	case tSpecial:
		switch t.text {
		case "this":
			return newNode(aThis, t.pos), nil
		case "index":
			return newNode(aIndexVar, t.pos), nil
		case "total":
			return newNode(aTotalVar, t.pos), nil
		}
		return nil, syntaxErr(t.pos, "unsupported variable $"+t.text)
	case tPunct:
		switch t.text {
		case "(":
			inner, err := ps.parseExpr(0, depth+1)
			if err != nil {
				return nil, err
			}
			if err := ps.expectPunct(")"); err != nil {
				return nil, err
			}
			return inner, nil
		case "{":
			if err := ps.expectPunct("}"); err != nil {
				return nil, err
			}
			return newNode(aEmpty, t.pos), nil
		}
		return nil, syntaxErr(t.pos, "unexpected "+t.describe())
	case tIdent:
		if !t.delimited {
			switch t.text {
			case "true", "false":
				n := newNode(aLiteral, t.pos)
				n.lit = boolNode(t.text == "true")
				return n, nil
			}
			if ps.isPunct("(") {
				return ps.parseCall(t, nil, depth)
			}
		}
		n := newNode(aMember, t.pos)
		n.name = t.text
		return n, nil
	}
	return nil, syntaxErr(t.pos, "unexpected "+t.describe())
}

// parseCall parses the argument list of function name (the "(" is next) invoked on focus (nil for
// the current $this).
func (ps *parser) parseCall(name token, focus *ast, depth int) (*ast, error) {
	fd, ok := functions[name.text]
	var ufn Func
	if f, supplied := ps.opts.Functions[name.text]; supplied && f != nil {
		fd, ufn, ok = &funcDef{maxArgs: MaxDepth, impl: callSupplied}, f, true
	}
	if !ok {
		return nil, syntaxErr(name.pos, "unknown function "+name.text+"()")
	}
	ps.next() // (
	var args []*ast
	argPos := ps.peek().pos
	if !ps.isPunct(")") {
		for {
			arg, err := ps.parseExpr(0, depth+1)
			if err != nil {
				return nil, err
			}
			args = append(args, arg)
			if ps.isPunct(",") {
				ps.next()
				continue
			}
			break
		}
	}
	if err := ps.expectPunct(")"); err != nil {
		return nil, err
	}
	if len(args) < fd.minArgs || len(args) > fd.maxArgs {
		want := fmt.Sprint(fd.minArgs)
		if fd.maxArgs != fd.minArgs {
			want = fmt.Sprintf("%d to %d", fd.minArgs, fd.maxArgs)
		}
		return nil, syntaxErr(name.pos, fmt.Sprintf("%s() takes %s argument(s), got %d", name.text, want, len(args)))
	}
	n := newNode(aFunc, name.pos, append([]*ast{focus}, args...)...)
	n.name, n.left, n.fn, n.ufn = name.text, focus, fd, ufn
	if fd.typeArg {
		ts, ok := typeSpecOf(args[0])
		if !ok {
			return nil, syntaxErr(argPos, name.text+"() expects a type name")
		}
		n.typ = ts
	} else {
		n.args = args
	}
	return n, nil
}

// typeSpecOf converts the argument of as()/is()/ofType() (parsed as an expression) into a type
// specifier: Name or Namespace.Name.
func typeSpecOf(a *ast) (typeSpec, bool) {
	if a.kind != aMember {
		return typeSpec{}, false
	}
	if a.left == nil {
		return typeSpec{name: a.name}, true
	}
	if a.left.kind == aMember && a.left.left == nil && (a.left.name == "FHIR" || a.left.name == "System") {
		return typeSpec{ns: a.left.name, name: a.name}, true
	}
	return typeSpec{}, false
}

func numberNode(n json.Number) Node {
	typ := sysDecimal
	if isIntegerText(string(n)) {
		typ = sysInteger
	}
	return Node{Value: n, Type: typ, Index: -1}
}

// SplitLast splits a path that ends in an element name, such as "Patient.contact.telecom", into the
// expression of the element's parent ("Patient.contact") and the name ("telecom"). For a bare element
// name the parent is "$this". ok is false when the expression does not end in an element name (a
// function call, an indexer, an operator, or a leading type name such as "Patient").
func (e *Expr) SplitLast() (parent *Expr, name string, ok bool) {
	a := e.root
	if a.kind != aMember || (a.left == nil && isUpperStart(a.name)) {
		return nil, "", false
	}
	if a.left == nil {
		return &Expr{src: "$this", root: newNode(aThis, 0), opts: e.opts}, a.name, true
	}
	src := strings.TrimSpace(e.src[:a.pos])
	src = strings.TrimSpace(strings.TrimSuffix(src, "."))
	return &Expr{src: src, root: a.left, opts: e.opts}, a.name, true
}
