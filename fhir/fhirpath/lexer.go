package fhirpath

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF     tokKind = iota
	tIdent           // identifier or keyword; delimited (`...`) identifiers are never keywords
	tString          // 'text', already unescaped
	tNumber          // 12 or 1.5
	tDate            // @2019-01-01, @T10:00; text without the @
	tEnv             // %name, %`name` or %'name'; text without the %
	tSpecial         // $this, $index, $total; text without the $
	tPunct           // operators and punctuation
)

type token struct {
	kind      tokKind
	text      string
	pos       int
	delimited bool
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string " + strconv.Quote(t.text)
	case tDate:
		return "@" + t.text
	case tEnv:
		return "%" + t.text
	case tSpecial:
		return "$" + t.text
	}
	return strconv.Quote(t.text)
}

// lex splits an expression into tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		// skip white space and comments
		for i < len(src) {
			c := src[i]
			if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' {
				i++
				continue
			}
			if c == '/' && i+1 < len(src) && src[i+1] == '/' {
				for i < len(src) && src[i] != '\n' {
					i++
				}
				continue
			}
			if c == '/' && i+1 < len(src) && src[i+1] == '*' {
				end := strings.Index(src[i+2:], "*/")
				if end < 0 {
					return nil, syntaxErr(i, "unterminated comment")
				}
				i += 2 + end + 2
				continue
			}
			break
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, pos: i})
			return toks, nil
		}
		start := i
		c := src[i]
		switch {
		case isIdentStart(c):
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			toks = append(toks, token{kind: tIdent, text: src[start:i], pos: start})
		case c == '`':
			s, n, err := lexQuoted(src, i, '`')
			if err != nil {
				return nil, err
			}
			if s == "" {
				return nil, syntaxErr(start, "empty delimited identifier")
			}
			i = n
			toks = append(toks, token{kind: tIdent, text: s, pos: start, delimited: true})
		case c == '\'':
			s, n, err := lexQuoted(src, i, '\'')
			if err != nil {
				return nil, err
			}
			i = n
			toks = append(toks, token{kind: tString, text: s, pos: start})
		case c >= '0' && c <= '9':
			for i < len(src) && src[i] >= '0' && src[i] <= '9' {
				i++
			}
			if i+1 < len(src) && src[i] == '.' && src[i+1] >= '0' && src[i+1] <= '9' {
				i++
				for i < len(src) && src[i] >= '0' && src[i] <= '9' {
					i++
				}
			}
			toks = append(toks, token{kind: tNumber, text: src[start:i], pos: start})
		case c == '@':
			i++
			for i < len(src) && isDateChar(src[i]) {
				if src[i] == '.' && (i+1 >= len(src) || src[i+1] < '0' || src[i+1] > '9') {
					break // a function call on the literal (@2015.is(Date)), not fractional seconds
				}
				i++
			}
			text := src[start+1 : i]
			if !validDateLiteral(text) {
				return nil, syntaxErr(start, "invalid date/time literal @"+text)
			}
			toks = append(toks, token{kind: tDate, text: text, pos: start})
		case c == '%':
			i++
			switch {
			case i < len(src) && isIdentStart(src[i]):
				for i < len(src) && isIdentPart(src[i]) {
					i++
				}
				toks = append(toks, token{kind: tEnv, text: src[start+1 : i], pos: start})
			case i < len(src) && (src[i] == '`' || src[i] == '\''):
				s, n, err := lexQuoted(src, i, src[i])
				if err != nil {
					return nil, err
				}
				i = n
				toks = append(toks, token{kind: tEnv, text: s, pos: start})
			default:
				return nil, syntaxErr(start, "expected a variable name after %")
			}
		case c == '$':
			i++
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			if i == start+1 {
				return nil, syntaxErr(start, "expected a name after $")
			}
			toks = append(toks, token{kind: tSpecial, text: src[start+1 : i], pos: start})
		default:
			op := ""
			if i+1 < len(src) {
				switch src[i : i+2] {
				case "!=", "!~", "<=", ">=":
					op = src[i : i+2]
				}
			}
			if op == "" {
				switch c {
				case '.', ',', '(', ')', '[', ']', '{', '}', '|', '=', '~', '<', '>', '+', '-', '*', '/', '&':
					op = src[i : i+1]
				}
			}
			if op == "" {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, syntaxErr(start, "unexpected character "+strconv.QuoteRune(r))
			}
			i += len(op)
			toks = append(toks, token{kind: tPunct, text: op, pos: start})
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9')
}

func isDateChar(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == ':' || c == '.' || c == '+' || c == 'T' || c == 'Z'
}

// validDateLiteral checks the rough shape of a date/time literal: a date (YYYY[-MM[-DD]]) optionally
// followed by T and a time, or T and a time alone.
func validDateLiteral(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == 'T' {
		m, ok := parseTime(s[1:])
		return ok && !m.tz // a time of day has no zone
	}
	if d, t, ok := strings.Cut(s, "T"); ok {
		if _, ok := parseDate(d); !ok {
			return false
		}
		if t == "" {
			return true
		}
		_, ok := parseTime(t)
		return ok
	}
	_, ok := parseDate(s)
	return ok
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// lexQuoted reads a quoted string or delimited identifier starting at src[i] == q and returns its
// unescaped text and the index just past the closing quote.
func lexQuoted(src string, i int, q byte) (string, int, error) {
	start := i
	i++
	var b strings.Builder
	for {
		if i >= len(src) {
			return "", 0, syntaxErr(start, "unterminated "+quotedKind(q))
		}
		c := src[i]
		if c == q {
			return b.String(), i + 1, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(src) {
			return "", 0, syntaxErr(start, "unterminated "+quotedKind(q))
		}
		e := src[i+1]
		switch e {
		case '\'', '"', '`', '\\', '/':
			b.WriteByte(e)
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if i+6 > len(src) {
				return "", 0, syntaxErr(i, "invalid \\u escape")
			}
			n, err := strconv.ParseUint(src[i+2:i+6], 16, 16)
			if err != nil {
				return "", 0, syntaxErr(i, "invalid \\u escape")
			}
			b.WriteRune(rune(n))
			i += 6
			continue
		default:
			return "", 0, syntaxErr(i, "invalid escape \\"+string(rune(e)))
		}
		i += 2
	}
}

func quotedKind(q byte) string {
	if q == '`' {
		return "delimited identifier"
	}
	return "string"
}
