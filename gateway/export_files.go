package gateway

import (
	"mime"
	"strings"

	"fhirgate/fhir/rest"
)

// ndjsonTypes are the media types of a bulk export's files (Bulk Data Access v2.0.0 accepts the three).
var ndjsonTypes = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// acceptsNDJSON reports whether a request for an export's file asks for NDJSON in Accept, which is what
// the file is (and what bulk clients send): the request is then served though its Accept names no
// FHIR JSON. Its errors are still FHIR JSON OperationOutcomes.
func acceptsNDJSON(req *rest.Request, accept string) bool {
	if req == nil || req.Interaction != rest.Operation || req.Operation != "export-file" {
		return false
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		for _, t := range ndjsonTypes {
			if mt == t {
				return true
			}
		}
	}
	return false
}
