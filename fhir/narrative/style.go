package narrative

import (
	"fmt"
	"strings"
)

// checkStyle returns why the style attribute value s is refused in a narrative, or "" when it is
// accepted: every character must be one cssChar allows, and every parenthesis must open a call of one of
// cssFunctions (rgb, rgba, hsl, hsla, calc) or close one.
func checkStyle(s string) string {
	depth := 0
	ident := 0 // start of the identifier that ends at the current character
	for i, r := range s {
		switch {
		case r == '(':
			fn := strings.ToLower(s[ident:i])
			if !cssFunctions[fn] {
				if !knownCSSFunctions[fn] { // not named: the value might hold patient data
					return "a parenthesis is allowed only after rgb, rgba, hsl, hsla or calc"
				}
				return fmt.Sprintf("CSS function %s() is not allowed (only rgb, rgba, hsl, hsla and calc)", fn)
			}
			depth++
		case r == ')':
			if depth == 0 {
				return "a closing parenthesis closes no function"
			}
			depth--
		case !cssChar(r):
			switch r {
			case '\\':
				return "CSS escapes (\\) are not allowed"
			case '*':
				return "CSS comments and * are not allowed"
			case '@':
				return "CSS at-rules (@) are not allowed"
			}
			return fmt.Sprintf("character %q is not allowed in a style", r)
		}
		if !(r == '-' || r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			ident = i + len(string(r))
		}
	}
	if depth != 0 {
		return "a CSS function is not closed"
	}
	return ""
}

// knownCSSFunctions are refused CSS functions a problem may name without quoting patient data.
var knownCSSFunctions = map[string]bool{
	"url": true, "expression": true, "image": true, "image-set": true, "-webkit-image-set": true,
	"cross-fade": true, "element": true, "attr": true, "var": true, "env": true, "format": true,
	"local": true, "linear-gradient": true, "radial-gradient": true, "conic-gradient": true,
}
