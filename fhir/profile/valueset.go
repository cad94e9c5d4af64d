package profile

import "encoding/json"

// The value sets of an implementation guide's folder that can be expanded here: every include names a
// system and lists its concepts, or names a complete code system of the folder; no filters, imports or
// excludes.

type conceptJSON struct {
	Code    string        `json:"code"`
	Concept []conceptJSON `json:"concept"`
}

func allCodes(cs []conceptJSON, into []string) []string {
	for _, c := range cs {
		into = append(allCodes(c.Concept, into), c.Code)
	}
	return into
}

// folderCodeSystem returns the url and codes of a complete CodeSystem ("" for another).
func folderCodeSystem(b []byte) (string, []string) {
	var cs struct {
		URL     string        `json:"url"`
		Content string        `json:"content"`
		Concept []conceptJSON `json:"concept"`
	}
	if json.Unmarshal(b, &cs) != nil || cs.Content != "complete" || cs.URL == "" {
		return "", nil
	}
	return cs.URL, allCodes(cs.Concept, nil)
}

type folderValueSet struct {
	url     string
	include []struct {
		System   string            `json:"system"`
		Concept  []conceptJSON     `json:"concept"`
		Filter   []json.RawMessage `json:"filter"`
		ValueSet []string          `json:"valueSet"`
	}
}

func parseFolderValueSet(b []byte) (folderValueSet, bool) {
	var vs struct {
		URL     string `json:"url"`
		Compose struct {
			Include []struct {
				System   string            `json:"system"`
				Concept  []conceptJSON     `json:"concept"`
				Filter   []json.RawMessage `json:"filter"`
				ValueSet []string          `json:"valueSet"`
			} `json:"include"`
			Exclude []json.RawMessage `json:"exclude"`
		} `json:"compose"`
	}
	if json.Unmarshal(b, &vs) != nil || vs.URL == "" || len(vs.Compose.Exclude) > 0 || len(vs.Compose.Include) == 0 {
		return folderValueSet{}, false
	}
	return folderValueSet{url: vs.URL, include: vs.Compose.Include}, true
}

// expand returns the value set's "system|code" entries, if it can be expanded.
func (vs folderValueSet) expand(codeSystems map[string][]string) ([]string, bool) {
	var out []string
	for _, inc := range vs.include {
		switch {
		case len(inc.Filter) > 0 || len(inc.ValueSet) > 0 || inc.System == "":
			return nil, false
		case len(inc.Concept) > 0:
			for _, c := range allCodes(inc.Concept, nil) {
				out = append(out, inc.System+"|"+c)
			}
		case codeSystems[inc.System] != nil:
			for _, c := range codeSystems[inc.System] {
				out = append(out, inc.System+"|"+c)
			}
		default:
			return nil, false
		}
	}
	return out, true
}
