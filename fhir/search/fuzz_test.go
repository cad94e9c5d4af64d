package search

import (
	"net/url"
	"testing"
)

// FuzzQuery feeds arbitrary query strings to the search parser and the spec builder: no input may panic.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"name=peter&birthdate=ge1970-01&_sort=-birthdate,name&_count=5",
		"code=http://loinc.org|8480-6,8462-4&value-quantity=gt5.4|http://unitsofmeasure.org|mmol/L",
		"subject:Patient.name=peter&_include=Observation:subject:Patient&_revinclude:iterate=Provenance:target",
		"_has:Observation:patient:_has:AuditEvent:entity:agent=x",
		"code-value-quantity=http://loinc.org|8480-6$gt100",
		"family:contains=ar&given:exact=Peter&identifier:of-type=http://x|MR|1",
		"near=42|-83|10|km", "_id=a,b&_lastUpdated=gt2000", "date=ap2013-01-14T10:00:00+01:00",
		"value-string=a\\,b\\|c\\$d", "subject:missing=true", "_elements=name,birthDate&_summary=true",
		"code:in=http://x", "birthdate=2013-13-45", "_sort=nonsense", "_include=*",
	} {
		f.Add("Observation", s)
		f.Add("Patient", s)
	}
	b := specBuilder{baseURL: "http://localhost/fhir/"}
	f.Fuzz(func(t *testing.T, typ, raw string) {
		if _, ok := Lookup(typ, "_id"); !ok {
			typ = "Patient"
		}
		params, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery([]string{typ}, params, Options{DefaultCount: 10, MaxCount: 100})
		if err != nil {
			return
		}
		for _, c := range q.Clauses {
			p := c.Param[typ]
			if p == nil {
				continue
			}
			mod := c.Modifier
			if mod == "not" || mod == "missing" {
				continue
			}
			for _, v := range c.Values {
				b.valueSpecs(p, p.Code, mod, v, nil)
			}
		}
	})
}
