package bounce

import (
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// htmlToTextPlain is htmlToText by its three expressions, the reference.
func htmlToTextPlain(s string) string {
	s = dropBlockRe.ReplaceAllString(s, " ")
	s = blockBreakRe.ReplaceAllString(s, "\n")
	s = tagRe.ReplaceAllString(s, "")
	return html.UnescapeString(s)
}

var htmlCases = []string{
	"", "<", ">", "<>", "a<b>c", "<br>", "<BR/>", "<brx>", "<p class=x>t</p>", "<pre>x</pre>", "<tr><td>a</td></tr>",
	"<head><title>x</title></head><body>hi</body>", "<SCRIPT>x</style>y", "<script", "<script>no end", "<scripts>x</script>",
	"<style>a</style><style>b</style>", "<a <br> b>", "<h1>T</h1><h7>u</h7>", "</table></TABLE >", "<p" + strings.Repeat("x", 600) + ">",
	"<p " + strings.Repeat("é", 499) + ">", "<p " + strings.Repeat("é", 501) + ">", "<" + strings.Repeat("\xff", 1000) + ">",
	"<" + strings.Repeat("\xff", 1001) + ">", "&amp;&lt;b&gt;", "<ſcript>x</script>y", "<div\n>a</div\n>", "<head\t>x</head>",
	"<script>a</scrip></script>z", "<li>one<li>two</li>", "x</head>y<head>z",
}

// TestHTMLToTextAgrees: the hand-written reduction gives what the three
// expressions give, on the corpus's HTML parts and on edge cases.
func TestHTMLToTextAgrees(t *testing.T) {
	texts := append([]string{}, htmlCases...)
	files, _ := filepath.Glob(filepath.Join(corpusDir, "eml", "*.eml"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if strings.Contains(strings.ToLower(string(raw)), "<html") {
			texts = append(texts, string(raw))
		}
	}
	if len(texts) == len(htmlCases) {
		t.Fatal("no HTML in the corpus")
	}
	for _, s := range texts {
		if got, want := htmlToText(s), htmlToTextPlain(s); got != want {
			t.Errorf("%.80q: got %.200q, expressions %.200q", s, got, want)
		}
	}
}

func FuzzHTMLToText(f *testing.F) {
	for _, s := range htmlCases[:20] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzText {
			return
		}
		if got, want := htmlToText(s), htmlToTextPlain(s); got != want {
			t.Errorf("%q: got %q, expressions %q", s, got, want)
		}
	})
}

// TestHTMLToTextNotKept: htmlToText's pooled pass buffers never end up in
// a result. Each text's result is checked after the others (of other
// lengths, with and without entities) have reused the buffers.
func TestHTMLToTextNotKept(t *testing.T) {
	var texts []string
	for i := 0; i < 40; i++ {
		body := strings.Repeat("<p>line "+strings.Repeat("x", i)+"</p><br>", 1+i%5)
		if i%3 == 0 {
			body += "&amp; &lt;tail&gt;"
		}
		if i%4 == 0 {
			body = "<head><style>s</style></head>" + body
		}
		texts = append(texts, body)
	}
	texts = append(texts, htmlCases...)
	got := make([]string, len(texts))
	for round := 0; round < 2; round++ {
		for i, s := range texts {
			if round == 0 {
				got[i] = htmlToText(s)
			} else {
				htmlToText(strings.Repeat("<div>overwrite</div>", i+1))
			}
		}
	}
	for i, s := range texts {
		if want := htmlToTextPlain(s); got[i] != want {
			t.Errorf("text %d: kept %q, want %q", i, got[i], want)
		}
	}
}
