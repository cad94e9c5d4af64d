package narrative

// XHTMLNamespace is the namespace of every element of a narrative.
const XHTMLNamespace = "http://www.w3.org/1999/xhtml"

// xmlNamespace is the namespace bound to the xml prefix (xml:lang).
const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

// elements are the elements a narrative may hold (txt-1): the list of R4's txt-1 XPath (Narrative
// StructureDefinition, hl7.fhir.r4.core 4.0.1), which is the basic formatting elements of HTML 4.0
// chapters 7 (div, span, h1-h6), 9 less section 4 (no ins, del), 10 (lists), 11 (tables) and 15 (tt, i, b,
// big, small, hr), with a and img; and the few other formatting elements of those chapters that cannot
// carry anything but text: address (7.5.6), bdo (8.2.4), kbd (9.2.1), s, strike and u (15.2.1).
// Not listed, so refused, among others: html, head, body, title, meta, link, base, style, script,
// noscript, iframe, frame, frameset, object, embed, applet, param, form, input, button, select, textarea,
// ins, del, font, basefont, center, map, area, svg, math.
var elements = map[string]bool{
	"a": true, "abbr": true, "acronym": true, "address": true, "b": true, "bdo": true, "big": true,
	"blockquote": true, "br": true, "caption": true, "cite": true, "code": true, "col": true,
	"colgroup": true, "dd": true, "dfn": true, "div": true, "dl": true, "dt": true, "em": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "hr": true, "i": true,
	"img": true, "kbd": true, "li": true, "ol": true, "p": true, "pre": true, "q": true, "s": true,
	"samp": true, "small": true, "span": true, "strike": true, "strong": true, "sub": true, "sup": true,
	"table": true, "tbody": true, "td": true, "tfoot": true, "th": true, "thead": true, "tr": true,
	"tt": true, "u": true, "ul": true, "var": true,
}

// attributes are the attributes, without namespace, an element of a narrative may carry (txt-1): the
// list of R4's txt-1 XPath (the attributes of HTML 4.0 chapters 7-11 and 15 and of a and img), with clear
// (br), noshade and size (hr) of chapter 15. No event attribute (on...) is listed, nor anything that
// loads or runs something (background, srcset, formaction, usemap, data, codebase). xml:lang and the
// default namespace declaration are handled apart (Check).
var attributes = map[string]bool{
	"abbr": true, "accesskey": true, "align": true, "alt": true, "axis": true, "bgcolor": true,
	"border": true, "cellhalign": true, "cellpadding": true, "cellspacing": true, "cellvalign": true,
	"char": true, "charoff": true, "charset": true, "cite": true, "class": true, "clear": true,
	"colspan": true, "compact": true, "coords": true, "dir": true, "frame": true, "headers": true,
	"height": true, "href": true, "hreflang": true, "hspace": true, "id": true, "lang": true,
	"longdesc": true, "name": true, "noshade": true, "nowrap": true, "rel": true, "rev": true,
	"rowspan": true, "rules": true, "scope": true, "shape": true, "size": true, "span": true,
	"src": true, "start": true, "style": true, "summary": true, "tabindex": true, "title": true,
	"type": true, "valign": true, "value": true, "vspace": true, "width": true,
}

// urlAttributes are the allowed attributes whose value is a URL, checked by checkURL.
var urlAttributes = map[string]bool{"href": true, "src": true, "cite": true, "longdesc": true}

// schemes are the URL schemes accepted in a link or a citation; img src also accepts data:image/ (checkURL).
var schemes = map[string]bool{"http": true, "https": true, "mailto": true, "tel": true, "ftp": true, "urn": true}

// cssFunctions are the only functions a style attribute may call: colours and arithmetic, none of which
// can load or run anything.
var cssFunctions = map[string]bool{"rgb": true, "rgba": true, "hsl": true, "hsla": true, "calc": true}

// cssChar reports whether c may appear in a style attribute (besides the parentheses of cssFunctions):
// no backslash (escapes), no asterisk (comments), no @ (at-rules), no < or > or &.
func cssChar(c rune) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case ' ', '\t', '\n', '\r', ':', ';', ',', '.', '%', '#', '!', '\'', '"', '/', '+', '-', '_':
		return true
	}
	return false
}
