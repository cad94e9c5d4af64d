package narrative

import (
	"strings"
	"testing"
)

const ns = `xmlns="http://www.w3.org/1999/xhtml"`

// wrap puts inner in a root div that declares the XHTML namespace.
func wrap(inner string) string { return `<div ` + ns + `>` + inner + `</div>` }

func TestCheckAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, div string }{
		{"text", wrap(`hello`)},
		{"generated table", wrap(`<p><b>Generated Narrative with Details</b></p><table class="grid"><tr><td>id</td><td colspan="2" style="padding-left: 25px; vertical-align: top;">example</td></tr></table>`)},
		{"every listed element", wrap(`<h1>a</h1><h2>a</h2><h3>a</h3><h4>a</h4><h5>a</h5><h6>a</h6><address>a</address>` +
			`<p>a<br/><abbr title="t">a</abbr><acronym>a</acronym><bdo dir="rtl">a</bdo><big>a</big><cite>a</cite><code>a</code>` +
			`<dfn>a</dfn><em>a</em><i>a</i><kbd>a</kbd><q cite="http://x.org/">a</q><s>a</s><samp>a</samp><small>a</small>` +
			`<span>a</span><strike>a</strike><strong>a</strong><sub>a</sub><sup>a</sup><tt>a</tt><u>a</u><var>a</var></p>` +
			`<blockquote cite="#q">a</blockquote><pre>a</pre><hr noshade="noshade" size="2"/>` +
			`<ul><li>a</li></ul><ol start="2" type="a"><li value="3">a</li></ol><dl><dt>a</dt><dd>a</dd></dl>` +
			`<table summary="s" border="1" cellpadding="1" cellspacing="1" frame="box" rules="all" width="100%">` +
			`<caption>a</caption><colgroup span="2"><col width="10"/></colgroup><thead><tr><th scope="col" abbr="a" axis="x">a</th></tr></thead>` +
			`<tfoot><tr><td headers="h" nowrap="nowrap" align="char" char="." charoff="1" valign="top">a</td></tr></tfoot>` +
			`<tbody><tr><td rowspan="1">a</td></tr></tbody></table>` +
			`<a name="anchor">a</a><a href="http://hl7.org/fhir" hreflang="en" rel="x" rev="y" type="text/html" charset="utf-8">a</a>` +
			`<img src="#pic" alt="a" height="1" width="1" border="0" hspace="1" vspace="1" longdesc="Binary/1"/>`)},
		{"lang and xml:lang", `<div ` + ns + ` lang="en" xml:lang="en">x</div>`},
		{"nested divs with namespace again", wrap(`<div xmlns="http://www.w3.org/1999/xhtml">x</div>`)},
		{"image only", wrap(`<img src="Binary/123"/>`)},
		{"data image", wrap(`<img src="data:image/png;base64,iVBORw0KGgo="/>`)},
		{"https and mailto and tel", wrap(`<a href="https://x.org/a?b=c">a</a><a href="MAILTO:a@b.org">b</a><a href="tel:+123">c</a>`)},
		{"relative links", wrap(`<a href="Patient/1">a</a><a href="#x">b</a><a href="page.html#a:b">c</a><a href="?q=a:b">d</a><a href="">e</a>`)},
		{"entities", wrap(`a &lt; b &amp; c &gt; d &quot; &apos; &#160; &#xE9;`)},
		{"comment", wrap(`<!-- a plain comment -->x`)},
		{"leading and trailing white space", "\n  " + wrap(`x`) + "\n"},
		{"style colours and functions", wrap(`<span style="color: rgb(1, 2, 3); background-color: #fff; font-family: 'Times New Roman', serif; width: calc(100% - 2px) !important; font: 12px/1.5 serif">x</span>`)},
		{"non-breaking space counts as content", wrap(`&#160;`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Check(tc.div); len(got) != 0 {
				t.Errorf("Check refused an allowed narrative: %v", got)
			}
			if !HTMLChecks(tc.div) {
				t.Error("HTMLChecks = false, want true")
			}
		})
	}
}

func TestCheckRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, div string
		// key and text are the invariant and a part of the text of the first problem expected.
		key, text string
	}{
		{"script", wrap(`<script>alert(1)</script>x`), KeyTxt1, "element <script> is not allowed in narrative (txt-1)"},
		{"onclick", wrap(`<p onclick="alert(1)">x</p>`), KeyTxt1, "attribute onclick on <p> is not allowed (txt-1)"},
		{"onload on img", wrap(`<img src="#a" onload="alert(1)"/>`), KeyTxt1, "attribute onload on <img>"},
		{"onerror upper case", wrap(`<img src="x" ONERROR="alert(1)"/>`), KeyTxt1, "attribute ONERROR on <img>"},
		{"onmouseover on root", `<div ` + ns + ` onmouseover="alert(1)">x</div>`, KeyTxt1, "attribute onmouseover on <div>"},
		{"javascript href", wrap(`<a href="javascript:alert(1)">x</a>`), KeyTxt1, `attribute href on <a>: URL scheme "javascript" is not allowed`},
		{"javascript mixed case", wrap(`<a href="JaVaScRiPt:alert(1)">x</a>`), KeyTxt1, `URL scheme "javascript"`},
		{"javascript tab reference", wrap(`<a href="jav&#x09;ascript:alert(1)">x</a>`), KeyTxt1, `URL scheme "javascript"`},
		{"javascript newline and CR", wrap(`<a href="java&#10;scr&#13;ipt:alert(1)">x</a>`), KeyTxt1, `URL scheme "javascript"`},
		{"javascript raw tab", wrap("<a href=\"java\tscript:alert(1)\">x</a>"), KeyTxt1, `URL scheme "javascript"`},
		{"javascript leading space and controls", wrap(`<a href=" &#x20; javascript:alert(1)">x</a>`), KeyTxt1, `URL scheme "javascript"`},
		{"javascript encoded letters", wrap(`<a href="&#106;&#97;vascript:alert(1)">x</a>`), KeyTxt1, `URL scheme "javascript"`},
		{"vbscript", wrap(`<a href="vbscript:msgbox(1)">x</a>`), KeyTxt1, `URL scheme "vbscript"`},
		{"data href", wrap(`<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>`), KeyTxt1, `URL scheme "data"`},
		{"data html image src", wrap(`<img src="data:text/html;base64,PHNjcmlwdD4="/>`), KeyTxt1, "a data: URL is allowed only for an image other than SVG"},
		{"data svg image src", wrap(`<img src="data:image/svg+xml;base64,PHN2Zz4="/>`), KeyTxt1, "a data: URL is allowed only for an image other than SVG"},
		{"javascript img src", wrap(`<img src="javascript:alert(1)"/>`), KeyTxt1, `attribute src on <img>: URL scheme "javascript"`},
		{"javascript cite", wrap(`<q cite="javascript:alert(1)">x</q>`), KeyTxt1, `attribute cite on <q>`},
		{"file scheme", wrap(`<a href="file:///etc/passwd">x</a>`), KeyTxt1, `URL scheme "file"`},
		{"unknown scheme not named", wrap(`<a href="jane-doe:x">x</a>`), KeyTxt1, "attribute href on <a>: URL scheme is not allowed (txt-1)"},
		{"unknown CSS function not named", wrap(`<p style="width: jane(1)">x</p>`), KeyTxt1, "a parenthesis is allowed only after"},
		{"not a scheme before colon", wrap(`<a href="java script:alert(1)">x</a>`), KeyTxt1, "no allowed scheme"},
		{"iframe", wrap(`<iframe src="http://x.org"></iframe>x`), KeyTxt1, "element <iframe> is not allowed"},
		{"object", wrap(`<object data="x.swf"></object>x`), KeyTxt1, "element <object> is not allowed"},
		{"embed", wrap(`<embed src="x.swf"/>x`), KeyTxt1, "element <embed> is not allowed"},
		{"form", wrap(`<form action="http://x.org"><input type="text"/></form>x`), KeyTxt1, "element <form> is not allowed"},
		{"input", wrap(`<input type="image" src="x"/>x`), KeyTxt1, "element <input> is not allowed"},
		{"button", wrap(`<button>x</button>`), KeyTxt1, "element <button> is not allowed"},
		{"style element", wrap(`<style>p { color: red }</style>x`), KeyTxt1, "element <style> is not allowed"},
		{"svg", wrap(`<svg><script>alert(1)</script></svg>x`), KeyTxt1, "element <svg> is not allowed"},
		{"svg in its namespace", wrap(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">x</svg>`), KeyTxt1, "element <svg> is not allowed"},
		{"math", wrap(`<math><mi>x</mi></math>`), KeyTxt1, "element <math> is not allowed"},
		{"base", wrap(`<base href="http://evil.org/"/>x`), KeyTxt1, "element <base> is not allowed"},
		{"meta", wrap(`<meta http-equiv="refresh" content="0;url=http://evil.org"/>x`), KeyTxt1, "element <meta> is not allowed"},
		{"link", wrap(`<link rel="stylesheet" href="http://evil.org/x.css"/>x`), KeyTxt1, "element <link> is not allowed"},
		{"ins", wrap(`<ins>x</ins>`), KeyTxt1, "element <ins> is not allowed"},
		{"upper-case element", wrap(`<SCRIPT>alert(1)</SCRIPT>x`), KeyTxt1, "element <SCRIPT> is not allowed"},
		{"srcset", wrap(`<img src="#a" srcset="javascript:alert(1)"/>`), KeyTxt1, "attribute srcset on <img> is not allowed"},
		{"xlink href", wrap(`<a xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="javascript:alert(1)">x</a>`), KeyXHTML, "namespace prefix declaration xmlns:xlink on <a>"},
		{"style expression", wrap(`<p style="width: expression(alert(1))">x</p>`), KeyTxt1, "CSS function expression() is not allowed"},
		{"style url javascript", wrap(`<p style="background: url(javascript:alert(1))">x</p>`), KeyTxt1, "CSS function url() is not allowed"},
		{"style url external", wrap(`<p style="background-image: URL(http://evil.org/track.png)">x</p>`), KeyTxt1, "CSS function url() is not allowed"},
		{"style escaped url", wrap(`<p style="background: \75rl(x)">x</p>`), KeyTxt1, `CSS escapes (\) are not allowed`},
		{"style comment", wrap(`<p style="width: expr/**/ession(alert(1))">x</p>`), KeyTxt1, "CSS comments and * are not allowed"},
		{"style import", wrap(`<p style="@import 'x.css'">x</p>`), KeyTxt1, "CSS at-rules (@) are not allowed"},
		{"style moz-binding", wrap(`<p style="-moz-binding: url(x.xml#xss)">x</p>`), KeyTxt1, "CSS function url() is not allowed"},
		{"style bare parenthesis", wrap(`<p style="width: (1px)">x</p>`), KeyTxt1, "a parenthesis is allowed only after"},
		{"style unclosed", wrap(`<p style="color: rgb(1,2,3">x</p>`), KeyTxt1, "a CSS function is not closed"},
		{"style angle bracket", wrap(`<p style="x: &lt;/style&gt;">x</p>`), KeyTxt1, `character '<' is not allowed`},
		{"missing namespace", `<div>x</div>`, KeyXHTML, "the root div does not declare the XHTML namespace"},
		{"wrong namespace", `<div xmlns="http://www.w3.org/2000/svg">x</div>`, KeyXHTML, "element <div> declares a namespace other than XHTML"},
		{"wrong namespace inside", wrap(`<p xmlns="http://www.w3.org/2000/svg">x</p>`), KeyXHTML, "element <p> declares a namespace other than XHTML"},
		{"prefixed root", `<h:div xmlns:h="http://www.w3.org/1999/xhtml">x</h:div>`, KeyXHTML, "element <h:div> has a namespace prefix"},
		{"root not div", `<p ` + ns + `>x</p>`, KeyXHTML, "the root element is <p>"},
		{"root html", `<html ` + ns + `><body>x</body></html>`, KeyXHTML, "the root element is <html>"},
		{"second root", wrap(`x`) + `<p>y</p>`, KeyXHTML, "element <p> follows the root div"},
		{"text after root", wrap(`x`) + `y`, KeyXHTML, "text outside the root div"},
		{"empty div", wrap(``), KeyTxt2, "no non-whitespace text and no image (txt-2)"},
		{"whitespace-only div", wrap(" \n\t<p>  </p>\r\n"), KeyTxt2, "(txt-2)"},
		{"comment only", wrap(`<!-- x -->`), KeyTxt2, "(txt-2)"},
		{"empty string", ``, KeyXHTML, "no root element"},
		{"plain text", `hello`, KeyXHTML, "text outside the root div"},
		{"doctype", `<!DOCTYPE div>` + wrap(`x`), KeyXHTML, "declarations (<!DOCTYPE ...> and others) are not allowed"},
		{"external entity", `<!DOCTYPE div [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + wrap(`&xxe;`), KeyXHTML, "declarations"},
		{"undeclared entity", wrap(`&xxe;`), KeyXHTML, "not well-formed XML"},
		{"html entity", wrap(`a&nbsp;b`), KeyXHTML, "not well-formed XML"},
		{"processing instruction", `<?xml version="1.0"?>` + wrap(`x`), KeyXHTML, "processing instructions"},
		{"processing instruction inside", wrap(`<?php echo 1 ?>x`), KeyXHTML, "processing instructions"},
		{"cdata with script", wrap(`<p><![CDATA[<img src=x onerror=alert(1)>]]></p>`), KeyXHTML, "CDATA sections are not allowed"},
		{"cdata after text", wrap(`x<![CDATA[y]]>`), KeyXHTML, "CDATA sections are not allowed"},
		{"cdata outside root", `<![CDATA[x]]>` + wrap(`x`), KeyXHTML, "CDATA sections are not allowed"},
		{"comment closed early by html", wrap(`<!--><img src=x onerror=alert(1)>-->x`), KeyXHTML, "a comment that starts with >"},
		{"conditional comment", wrap(`<!--[if IE]><script>alert(1)</script><![endif]-->x`), KeyXHTML, "a comment that starts with >"},
		{"not closed", `<div ` + ns + `><p>x</div>`, KeyXHTML, "element <p> is closed by </div>"},
		{"unclosed at end", `<div ` + ns + `><p>x`, KeyXHTML, "not well-formed"},
		{"repeated attribute", wrap(`<a href="#a" href="javascript:alert(1)">x</a>`), KeyXHTML, "attribute href is repeated on <a>"},
		{"unquoted attribute", wrap(`<p title=x>y</p>`), KeyXHTML, "not well-formed XML"},
		{"invalid character reference", wrap(`&#0;`), KeyXHTML, "not well-formed XML"},
		{"invalid utf-8", wrap("\xff"), KeyXHTML, "not well-formed XML"},
		{"unknown attribute namespace", wrap(`<p foo:bar="x">y</p>`), KeyTxt1, "attribute foo:bar on <p> is not allowed"},
		{"too deep", `<div ` + ns + `>` + strings.Repeat(`<span>`, MaxDepth) + `x` + strings.Repeat(`</span>`, MaxDepth) + `</div>`, KeyXHTML, "nest deeper than"},
		{"too long", wrap(strings.Repeat("x", MaxSize)), KeyXHTML, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Check(tc.div)
			if len(got) == 0 {
				t.Fatal("Check accepted a narrative it must refuse")
			}
			if got[0].Key != tc.key || !strings.Contains(got[0].Text, tc.text) {
				t.Errorf("first problem = %q %q, want %q containing %q (all: %v)", got[0].Key, got[0].Text, tc.key, tc.text, got)
			}
			if HTMLChecks(tc.div) {
				t.Error("HTMLChecks = true, want false")
			}
		})
	}
}

func TestCheckReportsEveryProblemWithItsPosition(t *testing.T) {
	t.Parallel()
	div := "<div " + ns + ">\n<p onclick=\"a()\">x</p>\n  <script>b()</script>\n</div>"
	got := Check(div)
	want := []Problem{
		{Key: KeyTxt1, Text: "attribute onclick on <p> is not allowed (txt-1)", Line: 2, Column: 1},
		{Key: KeyTxt1, Text: "element <script> is not allowed in narrative (txt-1)", Line: 3, Column: 3},
	}
	if len(got) != len(want) {
		t.Fatalf("Check = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := got[1].String(); s != "3:3: element <script> is not allowed in narrative (txt-1)" {
		t.Errorf("String() = %q", s)
	}
	broken := Check("<div " + ns + ">\n<p>x</div>")
	if len(broken) != 1 || broken[0].Key != KeyXHTML || broken[0].Line != 2 {
		t.Fatalf("Check of XML closed wrongly = %+v, want one xhtml problem on line 2", broken)
	}
	if s := broken[0].String(); !strings.HasPrefix(s, "2:") {
		t.Errorf("String() = %q, want the line first", s)
	}
}

func TestCheckStopsAtMaxProblems(t *testing.T) {
	t.Parallel()
	got := Check(wrap(strings.Repeat(`<p onclick="a()">x</p>`, 3*MaxProblems)))
	if len(got) != MaxProblems {
		t.Errorf("Check returned %d problems, want %d", len(got), MaxProblems)
	}
}

func TestProblemsQuoteNoValues(t *testing.T) {
	t.Parallel()
	const secret = "Jane-Doe-1970"
	for _, div := range []string{
		wrap(`<a href="javascript:` + secret + `">x</a>`),
		wrap(`<p style="` + secret + `: url(` + secret + `)">x</p>`),
		wrap(`<p title="` + secret + `" onclick="` + secret + `">x</p>`),
		wrap(`<img src="data:text/` + secret + `"/>`),
		`<div xmlns="` + secret + `">x</div>`,
	} {
		for _, p := range Check(div) {
			if strings.Contains(p.Text, secret) {
				t.Errorf("problem %q quotes a value of the narrative", p.Text)
			}
		}
	}
}
