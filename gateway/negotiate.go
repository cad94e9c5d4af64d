package gateway

import (
	"mime"
	"strconv"
	"strings"

	"fhirgate/fhir"
)

// format is the negotiated representation of a response.
type format struct {
	contentType string // application/fhir+json or application/json
	pretty      bool
}

const fhirJSON = "application/fhir+json"

// negotiate picks the response format from _format (which wins) or Accept. Only JSON is served: XML and
// Turtle answer 406 with an OperationOutcome that says so.
func negotiate(formatParam, accept, pretty string) (format, error) {
	f := format{contentType: fhirJSON, pretty: pretty == "true"}
	if pretty != "" && pretty != "true" && pretty != "false" {
		return f, &fhir.Error{Kind: fhir.KindInvalid, Code: "value", Expression: "_pretty", Details: "_pretty must be true or false"}
	}
	if formatParam != "" {
		switch strings.ToLower(strings.TrimSpace(formatParam)) {
		case "json", "application/fhir+json":
			return f, nil
		case "application/json":
			f.contentType = "application/json"
			return f, nil
		case "xml", "text/xml", "application/xml", "application/fhir+xml":
			return f, notAcceptable("XML is not supported; this server speaks FHIR JSON only (_format=json)")
		case "ttl", "application/fhir+turtle", "text/turtle":
			return f, notAcceptable("Turtle is not supported; this server speaks FHIR JSON only (_format=json)")
		}
		return f, notAcceptable("unknown _format; this server speaks FHIR JSON only (_format=json)")
	}
	if strings.TrimSpace(accept) == "" {
		return f, nil
	}
	best, bestQ := "", -1.0
	sawXML := false
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(qs, 64); err == nil {
				q = v
			} else {
				q = 0
			}
		}
		if v, ok := params["fhirversion"]; ok && !strings.HasPrefix(v, "4.0") {
			continue
		}
		var ct string
		switch mt {
		case fhirJSON, "*/*", "application/*", "json":
			ct = fhirJSON
		case "application/json":
			ct = "application/json"
		case "application/fhir+xml", "application/xml", "text/xml", "application/fhir+turtle", "text/turtle":
			sawXML = true
			continue
		default:
			continue
		}
		if q > bestQ && q > 0 {
			best, bestQ = ct, q
		}
	}
	if best == "" {
		if sawXML {
			return f, notAcceptable("XML and Turtle are not supported; this server speaks FHIR JSON only (Accept: application/fhir+json)")
		}
		return f, notAcceptable("no acceptable media type; this server speaks FHIR JSON (Accept: application/fhir+json)")
	}
	f.contentType = best
	return f, nil
}

func notAcceptable(msg string) error {
	return &fhir.Error{Kind: fhir.KindNotAcceptable, Code: "not-supported", Details: msg}
}

// requestMediaType checks a request body's Content-Type. Missing means FHIR JSON.
func requestMediaType(contentType string, allowPatch, allowForm bool) (string, error) {
	if strings.TrimSpace(contentType) == "" {
		if allowForm {
			return "application/x-www-form-urlencoded", nil
		}
		return fhirJSON, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", unsupportedMedia("the Content-Type header is malformed")
	}
	if v, ok := params["fhirversion"]; ok && !strings.HasPrefix(v, "4.0") {
		return "", unsupportedMedia("this server speaks FHIR 4.0 (R4)")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", unsupportedMedia("bodies must be UTF-8")
	}
	switch mt {
	case fhirJSON, "application/json":
		return mt, nil
	case "application/json-patch+json":
		if allowPatch {
			return mt, nil
		}
	case "application/x-www-form-urlencoded":
		if allowForm {
			return mt, nil
		}
	case "application/fhir+xml", "application/xml", "text/xml":
		return "", unsupportedMedia("XML is not supported; send FHIR JSON (application/fhir+json)")
	}
	return "", unsupportedMedia("unsupported Content-Type " + mt)
}

func unsupportedMedia(msg string) error {
	return &fhir.Error{Kind: fhir.KindUnsupportedMedia, Code: "not-supported", Details: msg}
}
