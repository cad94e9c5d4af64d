package rest

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"fhirgate/fhir"
	"fhirgate/fhir/store"
)

// history is the history interaction at instance, type and system level: GET [base]/[type]/[id]/_history,
// [base]/[type]/_history, [base]/_history (https://hl7.org/fhir/R4/http.html#history). Newest first,
// deletions included; _count and _since; pages linked by opaque cursors that stay correct while others
// write (a cursor names the last version seen, in commit order).
func (s *Service) history(ctx context.Context, g Guard, req *Request) (*Response, error) {
	q := store.HistoryQuery{Type: req.Type, ID: req.ID}
	count := s.cfg.DefaultCount
	for name, vals := range req.Params {
		if len(vals) > 1 {
			return nil, paramError(name, "may appear once")
		}
		v := vals[0]
		switch name {
		case "_count":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, paramError(name, "must be a non-negative integer")
			}
			count = min(n, s.cfg.MaxCount)
		case "_since":
			t, err := fhir.ParseInstant(v)
			if err != nil {
				return nil, paramError(name, "must be an instant such as 2024-01-31T10:00:00Z")
			}
			q.Since = t
		case "_cursor":
			seq, err := parseCursor(v)
			if err != nil {
				return nil, paramError(name, "is not a cursor this server issued")
			}
			q.Before = seq
		case "_at", "_list":
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", MessageID: "MSG_PARAM_UNKNOWN",
				Expression: name, Details: "this history parameter is not supported"}
		case "_format", "_pretty", "_summary", "_elements":
		default:
			if req.Strict {
				return nil, &fhir.Error{Kind: fhir.KindInvalid, Code: "not-supported", MessageID: "MSG_PARAM_UNKNOWN",
					Expression: name, Details: "unknown history parameter"}
			}
		}
	}
	if req.ID != "" {
		// The history of a resource the client may not see does not exist for it.
		if _, _, err := s.readCurrent(ctx, g, req, req.Type, req.ID); err != nil {
			return nil, err
		}
	}
	b := s.newBundle("history")
	if count == 0 {
		// _count=0 asks for the number of versions only.
		_, total, _, err := s.historyPage(ctx, g, req, q, 0)
		if err != nil {
			return nil, err
		}
		b.Total = &total
		b.Link = append(b.Link, linkJSON{Relation: "self", URL: s.pageURL(historyPath(req), url.Values{"_count": {"0"}})})
		return &Response{Status: 200, Body: fhir.MustJSON(b)}, nil
	}
	vs, _, more, err := s.historyPage(ctx, g, req, q, count)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		b.Entry = append(b.Entry, s.historyEntry(req, v))
	}
	touched := vs
	path := historyPath(req)
	self := url.Values{}
	for _, k := range []string{"_count", "_since", "_cursor"} {
		if v := req.Params.Get(k); v != "" {
			self.Set(k, v)
		}
	}
	b.Link = append(b.Link, linkJSON{Relation: "self", URL: s.pageURL(path, self)})
	if more && len(vs) > 0 {
		next := url.Values{}
		next.Set("_count", strconv.Itoa(count))
		if !q.Since.IsZero() {
			next.Set("_since", req.Params.Get("_since"))
		}
		next.Set("_cursor", cursor(vs[len(vs)-1].Seq))
		b.Link = append(b.Link, linkJSON{Relation: "next", URL: s.pageURL(path, next)})
	}
	return &Response{Status: 200, Body: fhir.MustJSON(b), Touched: touched}, nil
}

func (s *Service) historyEntry(req *Request, v *store.Version) entryJSON {
	e := entryJSON{FullURL: s.url(v.Ref())}
	vid := strconv.FormatUint(v.VersionID, 10)
	e.Response = &responseJSON{Etag: etag(vid), LastModified: instant(v.LastUpdated)}
	switch {
	case v.Deleted:
		e.Request = &requestJSON{Method: "DELETE", URL: v.Ref()}
		e.Response.Status = statusLine(204)
	case v.Method == "POST":
		e.Request = &requestJSON{Method: "POST", URL: v.Type}
		e.Response.Status = statusLine(201)
		e.Response.Location = s.url(fmt.Sprintf("%s/_history/%s", v.Ref(), vid))
	default:
		method := v.Method
		if method == "" {
			method = "PUT"
		}
		e.Request = &requestJSON{Method: method, URL: v.Ref()}
		e.Response.Status = statusLine(200)
		if v.Created {
			e.Response.Status = statusLine(201)
		}
	}
	if !v.Deleted {
		body, err := subset(req, v.Body)
		if err != nil {
			body = v.Body
		}
		e.Resource = body
	}
	return e
}

func historyPath(req *Request) string {
	switch {
	case req.ID != "":
		return req.Type + "/" + req.ID + "/_history"
	case req.Type != "":
		return req.Type + "/_history"
	}
	return "_history"
}

func (s *Service) pageURL(path string, q url.Values) string {
	u := s.cfg.BaseURL
	if path != "" {
		u = s.url(path)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func cursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("h" + strconv.FormatUint(seq, 36)))
}

func parseCursor(c string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != 'h' {
		return 0, fmt.Errorf("bad cursor")
	}
	return strconv.ParseUint(string(b[1:]), 36, 64)
}

func paramError(name, reason string) error {
	return &fhir.Error{Kind: fhir.KindInvalid, Code: "value", MessageID: "MSG_PARAM_INVALID", Expression: name,
		Details: strings.TrimSpace(name + " " + reason)}
}
