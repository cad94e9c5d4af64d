package validation

import "testing"

// TestRequiredBindingsAreChecked: the value set of every required binding is expanded, but for the few
// of codes outside the core package (listed in unenumerable), and every expansion has codes.
func TestRequiredBindingsAreChecked(t *testing.T) {
	expanded := 0
	seen := map[string]bool{}
	for path, b := range bindingTable {
		if b.strength != required || seen[b.valueSet] {
			continue
		}
		seen[b.valueSet] = true
		_, ok := expansionTable[b.valueSet]
		switch {
		case ok && unenumerable[b.valueSet]:
			t.Errorf("%s: %s is both expanded and listed as not enumerable", path, b.valueSet)
		case !ok && !unenumerable[b.valueSet]:
			t.Errorf("%s: %s is neither expanded nor listed as not enumerable", path, b.valueSet)
		case ok:
			expanded++
		}
	}
	for url, groups := range expansionTable {
		if len(groups) == 0 || valueSetOf(url) == nil {
			t.Errorf("%s: empty expansion", url)
		}
	}
	t.Logf("%d value sets of required bindings, %d expanded; %d expansions in all", len(seen), expanded, len(expansionTable))
	if len(unenumerable) > 10 || expanded < 200 {
		t.Errorf("only %d value sets of required bindings expanded, %d not", expanded, len(unenumerable))
	}
}
