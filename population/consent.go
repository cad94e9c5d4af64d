package population

import "time"

// Privacy consents, shaped as IHE PCF asks of R4 Consent: status active, scope patient-privacy,
// category LOINC 59284-0, the patient, the date, the patient as performer, the custodian organisation,
// the policy (Consent.policy.uri and the policyRule code), and a root provision whose type is the base
// decision, with nested provisions as its exceptions (a nested provision that matches a request
// reverses the decision of the provision it is nested in).
//
// policyRule follows the root: a root permit with deny exceptions is recorded under OPTOUT (data are
// shared, the patient opted out of some sharing); a root deny with permit exceptions under OPTIN
// (nothing is shared but what the patient opted in to).

var purposeDisplay = map[string]string{
	"TREAT":   "treatment",
	"ETREAT":  "emergency treatment",
	"BTG":     "break the glass",
	"HPAYMT":  "healthcare payment",
	"HOPERAT": "healthcare operations",
}

func purpose(code string) coding {
	return coding{System: sysActReason, Code: code, Display: purposeDisplay[code]}
}

// recipient is a provision actor: the information recipient (IRCP) ref.
func recipient(ref reference) actor {
	return actor{
		Role:      concept{Coding: []coding{{System: sysParticipation, Code: "IRCP", Display: "information recipient"}}},
		Reference: ref,
	}
}

// newConsent returns an active patient-privacy Consent of patient, recorded at at by custodian.
func newConsent(id string, patient reference, at time.Time, custodian reference, root provision) *consent {
	rule := codeOnly(sysActCode, "OPTOUT", "opt-out")
	if root.Type == "deny" {
		rule = codeOnly(sysActCode, "OPTIN", "opt-in")
	}
	return &consent{
		ResourceType: "Consent", ID: id,
		Status:       "active",
		Scope:        concept{Coding: []coding{{System: sysConsentScope, Code: "patient-privacy", Display: "Privacy Consent"}}},
		Category:     []concept{{Coding: []coding{{System: sysLOINC, Code: "59284-0", Display: "Consent Document"}}}},
		Patient:      patient,
		DateTime:     dateTime(at),
		Performer:    []reference{patient},
		Organization: []reference{custodian},
		Policy:       []policy{{URI: consentPolicyURI}},
		PolicyRule:   &rule,
		Provision:    &root,
	}
}

// denyActor: everything is shared, except with who.
func denyActor(who reference) provision {
	return provision{Type: "permit", Provision: []provision{
		{Type: "deny", Actor: []actor{recipient(who)}},
	}}
}

// permitOnly: nothing is shared, except with who.
func permitOnly(who reference) provision {
	return provision{Type: "deny", Provision: []provision{
		{Type: "permit", Actor: []actor{recipient(who)}},
	}}
}

// denyPurposes: everything is shared, except for payment (HPAYMT); with refuseBTG, the patient also
// refuses break-the-glass access (a deny provision whose purpose is BTG).
func denyPurposes(refuseBTG bool) provision {
	p := provision{Type: "permit", Provision: []provision{
		{Type: "deny", Purpose: []coding{purpose("HPAYMT")}},
	}}
	if refuseBTG {
		p.Provision = append(p.Provision, provision{Type: "deny", Purpose: []coding{purpose("BTG")}})
	}
	return p
}

// hideLabelExcept: everything is shared, except the data labelled label, which only who may see (for
// treatment only, with forTreatment).
func hideLabelExcept(label coding, who reference, forTreatment bool) provision {
	exception := provision{Type: "permit", Actor: []actor{recipient(who)}, SecurityLabel: []coding{label}}
	if forTreatment {
		exception.Purpose = []coding{purpose("TREAT")}
	}
	return provision{Type: "permit", Provision: []provision{
		{Type: "deny", SecurityLabel: []coding{label}, Provision: []provision{exception}},
	}}
}
