package consent

import "fhirgate/fhir/search"

// dateBounds returns the instants (ms, inclusive) a FHIR date or dateTime covers.
func dateBounds(s string) (int64, int64, error) { return search.DateRange(s) }
