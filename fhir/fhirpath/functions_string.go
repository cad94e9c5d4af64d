package fhirpath

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// strArgs evaluates the input as a single string and the arguments as single strings; ok is false when
// any of them is empty (the result is then empty).
func (c *evalCtx) strArgs(sc *scope, in []Node, a *ast) (s string, args []string, ok bool, err error) {
	s, ok, err = singleString(in, a, a.name+"() input")
	if err != nil || !ok {
		return "", nil, false, err
	}
	for i, arg := range a.args {
		res, err := c.eval(arg, sc)
		if err != nil {
			return "", nil, false, err
		}
		v, ok, err := singleString(res, a.args[i], a.name+"() argument")
		if err != nil || !ok {
			return "", nil, false, err
		}
		args = append(args, v)
	}
	return s, args, true, nil
}

func fnIndexOf(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	s, args, ok, err := c.strArgs(sc, in, a)
	if err != nil || !ok {
		return nil, err
	}
	i := strings.Index(s, args[0])
	if a.name == "lastIndexOf" {
		i = strings.LastIndex(s, args[0])
	}
	if i < 0 {
		return []Node{intNode(-1)}, nil
	}
	return []Node{intNode(utf8.RuneCountInString(s[:i]))}, nil
}

func fnReplace(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	s, args, ok, err := c.strArgs(sc, in, a)
	if err != nil || !ok {
		return nil, err
	}
	if len(s)*(len(args[1])+1) > maxStringBytes {
		return nil, evalErr(a, "replace() result too long")
	}
	return []Node{stringNode(strings.ReplaceAll(s, args[0], args[1]))}, nil
}

// maxStringBytes bounds the strings functions build, so that hostile input cannot exhaust memory.
const maxStringBytes = 1 << 24

// compileRegex compiles a FHIRPath regular expression (single-line mode: . matches new lines).
func compileRegex(a *ast, pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("(?s)" + pattern)
	if err != nil {
		return nil, evalErr(a, "invalid regular expression: %v", err)
	}
	return re, nil
}

func fnMatches(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	s, args, ok, err := c.strArgs(sc, in, a)
	if err != nil || !ok {
		return nil, err
	}
	pattern := args[0]
	if a.name == "matchesFull" {
		pattern = "^(?:" + pattern + ")$"
	}
	re, err := compileRegex(a, pattern)
	if err != nil {
		return nil, err
	}
	return []Node{boolNode(re.MatchString(s))}, nil
}

func fnReplaceMatches(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	s, args, ok, err := c.strArgs(sc, in, a)
	if err != nil || !ok {
		return nil, err
	}
	re, err := compileRegex(a, args[0])
	if err != nil {
		return nil, err
	}
	if args[0] == "" {
		return []Node{stringNode(s)}, nil
	}
	return []Node{stringNode(re.ReplaceAllString(s, args[1]))}, nil
}

func fnToChars(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	s, ok, err := singleString(in, a, "toChars() input")
	if err != nil || !ok {
		return nil, err
	}
	out := make([]Node, 0, len(s))
	for _, r := range s {
		out = append(out, stringNode(string(r)))
	}
	return out, nil
}

func fnTrim(_ *evalCtx, _ *scope, in []Node, a *ast) ([]Node, error) {
	s, ok, err := singleString(in, a, "trim() input")
	if err != nil || !ok {
		return nil, err
	}
	return []Node{stringNode(strings.TrimSpace(s))}, nil
}

func fnSplit(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	s, args, ok, err := c.strArgs(sc, in, a)
	if err != nil || !ok {
		return nil, err
	}
	parts := strings.Split(s, args[0])
	out := make([]Node, len(parts))
	for i, p := range parts {
		out[i] = stringNode(p)
	}
	return out, c.count(len(out), a)
}

func fnJoin(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	sep := ""
	if len(a.args) == 1 {
		res, err := c.eval(a.args[0], sc)
		if err != nil {
			return nil, err
		}
		var ok bool
		if sep, ok, err = singleString(res, a.args[0], "join() separator"); err != nil {
			return nil, err
		} else if !ok {
			sep = ""
		}
	}
	parts := make([]string, 0, len(in))
	size := 0
	for _, n := range in {
		s, ok := n.stringValue()
		if !ok {
			return nil, evalErr(a, "join() needs strings, got %s", describe(n))
		}
		size += len(s) + len(sep)
		if size > maxStringBytes {
			return nil, evalErr(a, "join() result too long")
		}
		parts = append(parts, s)
	}
	return []Node{stringNode(strings.Join(parts, sep))}, nil
}

func fnEncode(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	s, args, ok, err := c.strArgs(sc, in, a)
	if err != nil || !ok {
		return nil, err
	}
	decode := a.name == "decode"
	var out string
	switch args[0] {
	case "base64", "urlbase64":
		enc := base64.StdEncoding
		if args[0] == "urlbase64" {
			enc = base64.URLEncoding
		}
		if !decode {
			out = enc.EncodeToString([]byte(s))
			break
		}
		b, err := enc.DecodeString(s)
		if err != nil {
			return nil, evalErr(a, "decode(): invalid %s", args[0])
		}
		out = string(b)
	case "hex":
		if !decode {
			out = hex.EncodeToString([]byte(s))
			break
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, evalErr(a, "decode(): invalid hex")
		}
		out = string(b)
	default:
		return nil, nil
	}
	return []Node{stringNode(out)}, nil
}

func fnEscape(c *evalCtx, sc *scope, in []Node, a *ast) ([]Node, error) {
	s, args, ok, err := c.strArgs(sc, in, a)
	if err != nil || !ok {
		return nil, err
	}
	unescape := a.name == "unescape"
	switch args[0] {
	case "html":
		if unescape {
			return []Node{stringNode(html.UnescapeString(s))}, nil
		}
		r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")
		return []Node{stringNode(r.Replace(s))}, nil
	case "json":
		if unescape {
			return []Node{stringNode(unescapeJSON(s))}, nil
		}
		b, _ := json.Marshal(s)
		out := string(b[1 : len(b)-1])
		out = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(out)
		return []Node{stringNode(out)}, nil
	}
	return nil, nil
}

// unescapeJSON replaces the escapes of a JSON string (\" \\ \/ \b \f \n \r \t \uXXXX); other text is
// kept as it is.
func unescapeJSON(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			b.WriteByte(s[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if i+4 < len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 16); err == nil {
					b.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			b.WriteString(`\u`)
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
