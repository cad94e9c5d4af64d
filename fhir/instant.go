package fhir

import (
	"fmt"
	"time"
)

// ParseInstant parses a FHIR instant, or a partial date meaning its first instant in UTC (2024,
// 2024-01, 2024-01-31, 2024-01-31T10:00:00Z, 2024-01-31T10:00:00.123+02:00). A time needs a zone.
func ParseInstant(s string) (time.Time, error) {
	layouts := []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02", "2006-01", "2006"}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a FHIR instant: %q", s)
}
