package audit

import (
	"bytes"
	"encoding/json"
	"time"

	"fhirgate/auth"
	"fhirgate/fhir"
)

// AsReported makes an AuditEvent a client submits into what the trail records of it: an event reported
// by that client, never one the server observed. It is tagged as reported (auth.ReportedSystem), its
// observer is the client (whatever it said), and its recorded instant is the server's clock (the time
// the client claimed is kept as the event's period when it gave none). The server assigns the id.
// A body that is not an AuditEvent object is returned as it is, for the FHIR service to refuse.
func AsReported(body []byte, client string, now time.Time) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil || ev == nil || ev["resourceType"] != "AuditEvent" {
		return body, nil
	}
	delete(ev, "id")
	meta, _ := ev["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	var tags []any
	if old, ok := meta["tag"].([]any); ok {
		for _, t := range old {
			if m, ok := t.(map[string]any); ok && m["system"] == auth.ReportedSystem {
				continue
			}
			tags = append(tags, t)
		}
	}
	meta["tag"] = append(tags, map[string]any{"system": auth.ReportedSystem, "code": auth.ReportedCode,
		"display": "reported by a client, not observed by this server"})
	ev["meta"] = meta
	if claimed, ok := ev["recorded"].(string); ok && claimed != "" && ev["period"] == nil {
		ev["period"] = map[string]any{"start": claimed, "end": claimed}
	}
	ev["recorded"] = fhir.FormatInstant(now.UTC().Truncate(time.Millisecond))
	source, _ := ev["source"].(map[string]any)
	kept := map[string]any{}
	if source != nil && source["site"] != nil {
		kept["site"] = source["site"]
	}
	kept["observer"] = map[string]any{"identifier": map[string]any{"system": auth.ClientSystem, "value": client},
		"display": "reported by client " + client}
	ev["source"] = kept
	return json.Marshal(ev)
}
