package narrative

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// FuzzCheck holds that Check never panics and that what it accepts is safe both as the XML it claims to
// be and as the HTML an app makes of it (innerHTML): read by either parser, every element and attribute is
// on the allow-lists and every URL passes.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		wrap(`x`),
		wrap(`<p><b>Generated</b> <a href="http://hl7.org/fhir">x</a><img src="#a"/></p>`),
		wrap(`<table class="grid"><tr><td style="color: rgb(1,2,3)">x</td></tr></table>`),
		wrap(`<!-- c -->&lt;&#160;&#x41;`),
		wrap(`<script>alert(1)</script>`),
		wrap(`<p onclick="a()">x</p>`),
		wrap(`<a href="jav&#x09;ascript:a()">x</a>`),
		wrap(`<p><![CDATA[<img src=x onerror=a()>]]></p>`),
		wrap(`<!--><img src=x onerror=a()>-->`),
		wrap(`<p style="background: url(javascript:a())">x</p>`),
		`<!DOCTYPE div [<!ENTITY e SYSTEM "file:///etc/passwd">]><div>&e;</div>`,
		`<?xml version="1.0"?><div ` + ns + `>x</div>`,
		`<h:div xmlns:h="http://www.w3.org/1999/xhtml">x</h:div>`,
		`<div xmlns="http://www.w3.org/2000/svg"><svg onload="a()"/></div>`,
		``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, div string) {
		problems := Check(div)
		if HTMLChecks(div) != (len(problems) == 0) {
			t.Fatal("HTMLChecks disagrees with Check")
		}
		for _, p := range problems {
			if p.Key != KeyXHTML && p.Key != KeyTxt1 && p.Key != KeyTxt2 {
				t.Fatalf("problem with unknown key %q", p.Key)
			}
		}
		if len(problems) > 0 {
			return
		}
		assertSafeXML(t, div)
		assertSafeHTML(t, div)
	})
}

// assertSafeXML reads an accepted narrative again with the namespace-aware XML decoder.
func assertSafeXML(t *testing.T, div string) {
	d := xml.NewDecoder(strings.NewReader(div))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("accepted narrative is not well-formed: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Space != XHTMLNamespace || !elements[tok.Name.Local] {
				t.Fatalf("accepted narrative holds element {%s}%s", tok.Name.Space, tok.Name.Local)
			}
			for _, a := range tok.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
				case a.Name.Space == xmlNamespace && a.Name.Local == "lang":
				case a.Name.Space == "" && attributes[a.Name.Local]:
				default:
					t.Fatalf("accepted narrative holds attribute {%s}%s", a.Name.Space, a.Name.Local)
				}
			}
		case xml.ProcInst, xml.Directive:
			t.Fatalf("accepted narrative holds %T", tok)
		}
	}
}

// assertSafeHTML reads an accepted narrative as an HTML parser does when an app sets it as innerHTML.
func assertSafeHTML(t *testing.T, div string) {
	body := &html.Node{Type: html.ElementNode, DataAtom: atom.Body, Data: "body"}
	nodes, err := html.ParseFragment(strings.NewReader(div), body)
	if err != nil {
		t.Fatalf("html parse: %v", err)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Namespace != "" || !elements[n.Data] {
				t.Fatalf("accepted narrative, read as HTML, holds element %s %s", n.Namespace, n.Data)
			}
			for _, a := range n.Attr {
				if a.Namespace != "" || !(attributes[a.Key] || a.Key == "xmlns" || a.Key == "xml:lang") {
					t.Fatalf("accepted narrative, read as HTML, holds attribute %s on <%s>", a.Key, n.Data)
				}
				if urlAttributes[a.Key] && checkURL(a.Val, n.Data == "img" && a.Key == "src") != "" {
					t.Fatalf("accepted narrative, read as HTML, holds a refused URL in %s on <%s>", a.Key, n.Data)
				}
				if a.Key == "style" && checkStyle(a.Val) != "" {
					t.Fatalf("accepted narrative, read as HTML, holds a refused style on <%s>", n.Data)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
}
