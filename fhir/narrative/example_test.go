package narrative_test

import (
	"fmt"

	"fhirgate/fhir/narrative"
)

func ExampleCheck() {
	div := `<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="steal()">Jane</p>` +
		`<a href="javascript:steal()">more</a></div>`
	for _, p := range narrative.Check(div) {
		fmt.Println(p.Key, p)
	}
	// Output:
	// txt-1 1:43: attribute onclick on <p> is not allowed (txt-1)
	// txt-1 1:72: attribute href on <a>: URL scheme "javascript" is not allowed (txt-1)
}

func ExampleHTMLChecks() {
	fmt.Println(narrative.HTMLChecks(`<div xmlns="http://www.w3.org/1999/xhtml"><b>Generated</b> narrative</div>`))
	fmt.Println(narrative.HTMLChecks(`<div xmlns="http://www.w3.org/1999/xhtml"><script>steal()</script></div>`))
	// Output:
	// true
	// false
}
