package consent

import (
	"encoding/json"
	"fmt"

	"fhirgate/fhir"
)

// Validate checks the rules a Consent must follow to be stored, beyond R4's structure (which the
// validator checks): R4's invariants ppc-1 (a policy or a policyRule) and ppc-2 (a privacy consent names
// its patient), and IHE PCF's requirement that the root provision of a privacy consent says permit or
// deny. Refusals are 422 business-rule errors naming the element.
func Validate(body []byte) error {
	var d struct {
		Scope struct {
			Coding []coding `json:"coding"`
		} `json:"scope"`
		Patient *struct {
			Reference string `json:"reference"`
		} `json:"patient"`
		Policy     []json.RawMessage `json:"policy"`
		PolicyRule json.RawMessage   `json:"policyRule"`
		Provision  *provision        `json:"provision"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return rule("Consent", "the Consent cannot be read: %v", err)
	}
	if len(d.Policy) == 0 && len(d.PolicyRule) == 0 {
		return rule("Consent.policy", "a Consent needs a policy or a policyRule (ppc-1)")
	}
	if !hasCoding(d.Scope.Coding, "http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy") {
		return nil
	}
	if d.Patient == nil || d.Patient.Reference == "" {
		return rule("Consent.patient", "a privacy Consent must name its patient (ppc-2)")
	}
	if d.Provision == nil {
		return rule("Consent.provision", "a privacy Consent needs a provision saying what it permits or denies")
	}
	if d.Provision.Type != "permit" && d.Provision.Type != "deny" {
		return rule("Consent.provision.type", "the root provision of a privacy Consent must have a type, permit or deny (IHE PCF)")
	}
	if err := d.Provision.prepare(); err != nil {
		return rule("Consent.provision", "%v", err)
	}
	return checkProvisions(d.Provision, "Consent.provision")
}

func checkProvisions(p *provision, path string) error {
	for i, a := range p.Actor {
		if a.Reference.Reference == "" && (a.Reference.Identifier == nil || a.Reference.Identifier.Value == "") {
			return rule(fmt.Sprintf("%s.actor[%d].reference", path, i), "an actor must reference who it is about")
		}
	}
	for i, c := range p.Provision {
		if err := checkProvisions(c, fmt.Sprintf("%s.provision[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func rule(expr, format string, args ...any) error {
	return &fhir.Error{Kind: fhir.KindUnprocessable, Code: "business-rule", Expression: expr, Details: fmt.Sprintf(format, args...)}
}
