// Package population generates deterministic synthetic FHIR R4 populations: the demo data of a
// development server and the load of the benchmark.
//
// Everything comes out as FHIR R4 transaction Bundles (JSON) whose entries are idempotent PUTs,
// request.url = Type/id, with fullUrl = urn:uuid:<version-5 UUID of Type/id>; references inside are
// relative (Type/id). Loading a bundle twice changes nothing, and a bundle references only itself and
// the shared bundle. Every resource is valid R4 (the tests run validation.Validator over all of them).
//
// # Generated populations
//
// A Config names a population. Shared(cfg) holds what patients share and must be loaded first; then
// Patient(cfg, i) for each patient, in any order and independently (patient i does not depend on any
// other, so a loader can generate them in parallel). The same Config gives byte-identical bytes on
// every architecture: the generator uses its own random generator (not math/rand) and integer
// arithmetic only, and dates derive from Config.Now, never from the clock.
//
// Ids:
//
//	org-001 … org-NNN        care organisations (Organizations, default 8)
//	org-insurer              the insurer (organization-type ins)
//	prac-001 … prac-NNN      practitioners (Practitioners, default 40); the last Practitioners/20
//	                         are the insurer's medical advisers (see Advisers)
//	role-017-1, role-017-2   PractitionerRoles of prac-017: one or two in care organisations, or
//	                         one at the insurer for an adviser
//	pat-000042               patient 42
//	enc-000042-003           encounters, 2 to 8, in time order
//	cond-000042-01           conditions (chronic first, then acute)
//	obs-000042-0017          observations, in the order of the encounters
//	medreq-000042-01         medication requests
//	consent-000042-1         consents (about 30% of patients have one or two)
//
// A patient has an official name from French or English name lists, a gender, a birth date (ages 0 to
// 95), a French address, a mobile phone, an INS-NIR (urn:oid:1.2.250.1.213.1.4.8, for French-named
// patients) and an MRN (http://hospital.example.org/mrn), a managing organisation and a general
// practitioner. Chronic conditions (SNOMED CT: hypertension, type 2 diabetes, hyperlipidemia, asthma,
// COPD, atrial fibrillation, chronic kidney disease, osteoarthritis, obesity, migraine, depression,
// anxiety, HIV, alcohol dependence) are drawn by age, the sensitive ones somewhat more often than in
// life so that consents have data to act on; acute ones (bronchitis, sinusitis, pharyngitis,
// pneumonia) come with the encounters that diagnose them. Encounters are check-ups, follow-ups of a
// chronic condition and problem visits (AMB), emergencies (EMER) and admissions of two to five days
// (IMP). Each carries vital signs (LOINC: heart rate, respiratory rate, SpO2, temperature, blood
// pressure panel with systolic and diastolic components, weight, height, BMI; category vital-signs)
// and, depending on its kind, laboratory panels (blood count, metabolic panel with glucose and
// creatinine, liver panel, lipid panel, HbA1c; category laboratory) whose values agree with the
// patient's conditions. Medication requests (RxNorm) treat the conditions. A patient has about 40 to
// 300 resources (optional panels are left out past 300), 185 on average: 1,000 patients make about
// 185,000 resources (183,413 with seed 1).
//
// Sensitive data carry security labels in meta.security (v3-ActCode, with the v3-Confidentiality code
// R): PSY on depression and anxiety, on their follow-up encounters, PHQ-9 and GAD-7 scores and
// antidepressant requests; HIV on the HIV infection, its follow-ups, viral loads and antiretroviral
// requests; ETH on alcohol dependence and its follow-ups.
//
// Consents follow IHE PCF on R4 Consent: status active, scope patient-privacy, category LOINC 59284-0,
// the patient (also as performer), dateTime, the managing organisation as custodian, policy.uri and
// policyRule, and a root provision whose type is the base decision, with nested provisions as
// exceptions that reverse it (actors have the role v3-ParticipationType IRCP). A root permit is
// recorded under policyRule OPTOUT, a root deny under OPTIN. The generated kinds are:
//
//   - deny the insurer: root permit; nested deny for actor Organization/org-insurer (with a period
//     starting on the consent date);
//   - deny payment: root permit; nested deny for purpose HPAYMT (v3-ActReason); for a quarter of them
//     also a nested deny for purpose BTG, refusing break-the-glass access;
//   - hide mental-health data: root permit; nested deny for securityLabel PSY, itself holding a nested
//     permit for the patient's general practitioner, securityLabel PSY, purpose TREAT.
//
// # Demo data
//
// Demo returns five bundles: the shared resources, then Alice, Bob, Chloé and David. Ids:
//
//	org-hopital-nord   Hôpital Nord, Lille (care)
//	org-clinique-sud   Clinique Sud, Marseille (care)
//	org-insurer        Assur Plus, Paris (insurer, organization-type ins)
//	prac-house         Dr Gregory House, internal medicine at Hôpital Nord (role-house-1)
//	prac-martin        Dr Claire Martin, general practice at Clinique Sud (role-martin-1)
//	prac-adviser       Dr Paul Durand, medical adviser at Assur Plus (role-adviser-1)
//	pat-alice          Alice Dupont, born 1985, GP prac-house, managed by org-hopital-nord
//	pat-bob            Bob Leroy, born 1958, GP prac-martin, managed by org-clinique-sud
//	pat-chloe          Chloé Bernard, born 1992, GP prac-house, managed by org-hopital-nord
//	pat-david          David Petit, born 1971, GP prac-martin, managed by org-clinique-sud
//
// A demo patient's resources are enc-alice-1, cond-alice-1, obs-alice-01, medreq-alice-1 and
// consent-alice-1 (and so on, numbered from 1), dated 2024 and 2025:
//
//   - Alice: asthma, albuterol; a check-up and a follow-up at Hôpital Nord with Dr House.
//     consent-alice-1 (OPTOUT): root permit, nested deny for actor Organization/org-insurer — the
//     insurer, and so its adviser Dr Durand, sees nothing of Alice.
//   - Bob: hypertension and type 2 diabetes, lisinopril and metformin; a check-up and a follow-up at
//     Clinique Sud with Dr Martin, an emergency visit at Hôpital Nord with Dr House.
//     consent-bob-1 (OPTIN): root deny, nested permit for actor Practitioner/prac-martin — only
//     Dr Martin sees Bob's data (Dr House, who saw him in the emergency room, does not).
//   - Chloé: depression (Condition, follow-up encounters, PHQ-9 scores and sertraline all labelled
//     PSY) and migraine (not labelled); visits at Hôpital Nord with Dr House.
//     consent-chloe-1 (OPTOUT): root permit; nested deny for securityLabel PSY, holding a nested
//     permit for actor Practitioner/prac-house (securityLabel PSY) — PSY-labelled data are hidden
//     from everyone but Dr House, the rest is shared.
//   - David: hyperlipidemia, HIV (labelled HIV, with viral loads and bictegravir/emtricitabine/
//     tenofovir alafenamide), a pneumonia admission at Hôpital Nord; check-up and HIV follow-up at
//     Clinique Sud with Dr Martin.
//     consent-david-1 (OPTOUT): root permit; nested deny for purpose HPAYMT and nested deny for
//     purpose BTG — no access for payment, and he refuses break-the-glass access explicitly.
package population
