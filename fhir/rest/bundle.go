package rest

import (
	"encoding/json"
	"strconv"
	"time"

	"fhirgate/fhir"
)

// bundleJSON is a Bundle the server builds (searchset, history, batch-response, transaction-response).
type bundleJSON struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id,omitempty"`
	Meta         *bundleMeta `json:"meta,omitempty"`
	Type         string      `json:"type"`
	Total        *int        `json:"total,omitempty"`
	Link         []linkJSON  `json:"link,omitempty"`
	Entry        []entryJSON `json:"entry,omitempty"`
}

type bundleMeta struct {
	LastUpdated string `json:"lastUpdated"`
}

type linkJSON struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type entryJSON struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *searchJSON     `json:"search,omitempty"`
	Request  *requestJSON    `json:"request,omitempty"`
	Response *responseJSON   `json:"response,omitempty"`
}

type searchJSON struct {
	Mode  string   `json:"mode,omitempty"`
	Score *float64 `json:"score,omitempty"`
}

type requestJSON struct {
	Method          string `json:"method"`
	URL             string `json:"url"`
	IfNoneMatch     string `json:"ifNoneMatch,omitempty"`
	IfModifiedSince string `json:"ifModifiedSince,omitempty"`
	IfMatch         string `json:"ifMatch,omitempty"`
	IfNoneExist     string `json:"ifNoneExist,omitempty"`
}

type responseJSON struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

func (s *Service) newBundle(typ string) *bundleJSON {
	return &bundleJSON{ResourceType: "Bundle", ID: s.cfg.NewID(), Type: typ,
		Meta: &bundleMeta{LastUpdated: fhir.FormatInstant(s.cfg.Now())}}
}

// statusLine renders an entry status, "201 Created".
func statusLine(code int) string {
	if t := statusText[code]; t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

var statusText = map[int]string{
	200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
	401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	409: "Conflict", 410: "Gone", 412: "Precondition Failed", 413: "Payload Too Large",
	415: "Unsupported Media Type", 422: "Unprocessable Entity", 500: "Internal Server Error",
	503: "Service Unavailable",
}

func etag(vid string) string {
	if vid == "" {
		return ""
	}
	return `W/"` + vid + `"`
}

func instant(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fhir.FormatInstant(t)
}
