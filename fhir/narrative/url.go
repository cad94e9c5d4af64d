package narrative

import (
	"fmt"
	"strings"
)

// checkURL returns why the URL u (its character references already decoded) is refused in a narrative,
// or "" when it is accepted. image says whether it is the src of an img, which may also be a data: URL of
// an image other than SVG. The scheme is found as a browser finds it: tab, CR and LF removed anywhere,
// control characters and spaces trimmed at both ends, case ignored.
func checkURL(u string, image bool) string {
	u = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, u)
	u = strings.TrimFunc(u, func(r rune) bool { return r <= ' ' })
	colon := strings.IndexByte(u, ':')
	if colon < 0 {
		return ""
	}
	if delim := strings.IndexAny(u, "/?#"); delim >= 0 && delim < colon {
		return "" // a relative reference whose path, query or fragment holds a colon
	}
	scheme := strings.ToLower(u[:colon])
	if schemes[scheme] {
		return ""
	}
	if image && scheme == "data" {
		media := strings.ToLower(u[colon+1:])
		if strings.HasPrefix(media, "image/") && !strings.HasPrefix(media, "image/svg") {
			return ""
		}
		return "a data: URL is allowed only for an image other than SVG"
	}
	if !isScheme(scheme) {
		return "the URL has a colon before any /, ? or #, but no allowed scheme"
	}
	if !knownSchemes[scheme] {
		return "URL scheme is not allowed" // not named: the value might hold patient data
	}
	return fmt.Sprintf("URL scheme %q is not allowed", scheme)
}

// knownSchemes are refused schemes a problem may name without quoting patient data.
var knownSchemes = map[string]bool{
	"javascript": true, "vbscript": true, "livescript": true, "data": true, "file": true, "blob": true,
	"filesystem": true, "about": true, "jar": true, "mhtml": true, "ms-its": true, "view-source": true,
	"ws": true, "wss": true, "chrome": true, "resource": true,
}

// isScheme reports whether s has the syntax of a URL scheme (RFC 3986 section 3.1).
func isScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
