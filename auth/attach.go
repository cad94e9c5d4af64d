package auth

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	"fhirgate/auth/consent"
	"fhirgate/fhir/rest"
	"fhirgate/fhir/store"
)

// AttachConsent sets up consent enforcement on a service: a consent engine that loads a patient's
// Consents with the search engine, the Consent write rules, and the invalidation of the consent cache on
// every Consent write (before the write is acknowledged, so a revoked consent stops applying on the very
// next request), here and, through the store's write counts, in every other process sharing the store.
func AttachConsent(svc *rest.Service, def consent.Decision) *consent.Engine {
	eng := consent.NewEngine(func(ctx context.Context, patient string) ([][]byte, error) {
		vs, err := svc.Engine().Find(ctx, "Consent", url.Values{"patient": {patient}})
		if err != nil {
			return nil, err
		}
		out := make([][]byte, 0, len(vs))
		for _, v := range vs {
			out = append(out, v.Body)
		}
		return out, nil
	}, def)
	eng.Changes = func(ctx context.Context) (uint64, error) { return svc.Store().Changes(ctx, "Consent") }
	svc.AddRule("Consent", consent.Validate)
	svc.OnCommit(func(ctx context.Context, vs []*store.Version) {
		for _, v := range vs {
			if v == nil || v.Type != "Consent" {
				continue
			}
			eng.ConsentWritten(v.Ref(), consentPatient(v.Body))
		}
	})
	return eng
}

func consentPatient(body []byte) string {
	var d struct {
		Patient struct {
			Reference string `json:"reference"`
		} `json:"patient"`
	}
	if json.Unmarshal(body, &d) != nil {
		return ""
	}
	ref := d.Patient.Reference
	if i := strings.Index(ref, "Patient/"); i >= 0 {
		ref = ref[i:]
	}
	return ref
}
