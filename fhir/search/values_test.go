package search

import (
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// normalizeReference is the definition of normalize: remove the accents (decompose, drop the
// nonspacing marks, recompose), lower-case, collapse white space.
func normalizeReference(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.Join(strings.Fields(strings.ToLower(out)), " ")
}

// FuzzNormalize checks that normalize (with its ASCII fast path and pooled transformers) and
// normalizedKey fold every string exactly as the definition of normalize does.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"", " ", "a", "A", "Heart rate", "  Heart   Rate ", "heart rate", "a\tb", "a\nb", "a\vb\fc\rd",
		"a ", " a", "a  b", "ABC def", "Zoë", "Ångström", "José  GARCÍA", "\u00a0a\u00a0", "a\u0085b",
		"ǅ", "İstanbul", "ß", "ﬁ", "e\u0301", "日本 語", "\xff", "a\xffB", "Müller-Lüdenscheidt",
		"~!@#$%^&*()_+`-={}[]|\\:;\"'<>,.?/", "\x00\x01\x1f\x7f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := normalizeReference(s)
		if got := normalize(s); got != want {
			t.Errorf("normalize(%q) = %q, want %q", s, got, want)
		}
		if got := normalizedKey(kText, s); string(got) != string(key(kText, want)) {
			t.Errorf("normalizedKey(kText, %q) = %q, want %q", s, got, key(kText, want))
		}
	})
}
