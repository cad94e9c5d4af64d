// Package narrative checks the XHTML of a resource's narrative (Narrative.div) against what FHIR R4
// allows, so that a server never stores or serves markup that would run script in the browser of whoever
// renders it. It implements the R4 invariants txt-1 and txt-2 (FHIRPath htmlChecks()), see
// https://hl7.org/fhir/R4/narrative.html#xhtml:
//
//   - the narrative is well-formed XML whose root is a div in the XHTML namespace
//     (http://www.w3.org/1999/xhtml); every element is in that namespace, unprefixed;
//   - txt-1: only the basic formatting elements and attributes of HTML 4.0 chapters 7-11 (less section 4
//     of chapter 9, ins and del) and 15, a, img and style attributes;
//   - txt-2: some non-whitespace text, or an img with a src.
//
// The checks are an allow-list: an element, attribute, URL scheme, CSS character or CSS function not
// listed (allow.go) is refused, whatever it is. Beyond R4's lists, the package refuses what is safe as
// XML but dangerous once the same string is handed to an HTML parser (as an app does when it sets
// innerHTML): DOCTYPE and other declarations, processing instructions, CDATA sections, comments an HTML
// parser would close early, namespace prefixes, a second root.
//
// Decisions a reader may question:
//
//   - URLs (href, src, cite, longdesc): a value with a scheme must use one of http, https, mailto, tel,
//     ftp, urn, and for img src also data:image/ (any image type but SVG, which can carry script). The
//     scheme is read the way a browser reads it: after character references are decoded, tab, CR and LF
//     are removed and leading control characters and spaces are trimmed, and the comparison ignores case,
//     so "JaVa&#x09;Script:" is refused. A value with a colon before any "/", "?" or "#" and a scheme that
//     is not allowed, or not a scheme at all, is refused too (RFC 3986 forbids such a relative reference).
//     References without a scheme ("#id" to a contained resource, "Binary/123", "page.html#x") are
//     accepted: R4's narrative page has images refer to contained or other resources, and its examples
//     link to relative pages.
//   - Style attributes (R4 allows "internally contained style attributes"): the value must be made of
//     letters, digits, white space and : ; , . % # ! ' " / + - _, and the only functions accepted are
//     rgb, rgba, hsl, hsla and calc. That refuses expression(), url() (javascript: or an external fetch,
//     which R4 also forbids as an external reference), CSS escapes (\) and comments (/*) that could hide
//     either, @import and -moz-binding, while every style of the official examples passes. Positioning
//     (position: fixed) is not refused: it cannot run script and R4 allows it.
//   - A problem names the element or attribute and its line and column, never the text of the narrative,
//     which may hold patient data.
//
// The parser is encoding/xml in strict mode, which expands only the five predefined entities and numeric
// character references and never reads a DTD, so no external entity is ever fetched. Input size, element
// depth and the number of problems reported are bounded; no input makes Check panic.
package narrative
