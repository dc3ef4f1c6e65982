package reports

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"html"
	"sort"
	"strings"

	"github.com/deliverdoctor/deliverdoctor/internal/notify"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/state"
)

// MailBody renders doc for the mail: its own text and html. When
// they are over the mail's size budget, the sources with the most mail are
// shown (as many as fit), with the whole document attached as gzipped
// json.
func MailBody(doc *Document) (notify.Body, error) {
	text, page, err := renderMail(doc)
	if err != nil || notify.Fits(text, page) {
		return notify.Body{Text: text, HTML: page}, err
	}
	var full bytes.Buffer
	zw := gzip.NewWriter(&full)
	if err := report.WriteJSON(zw, doc); err != nil {
		return notify.Body{}, err
	}
	if err := zw.Close(); err != nil {
		return notify.Body{}, err
	}
	where := "The full report is attached (reports.json.gz)."
	if full.Len() > notify.AttachmentBudget {
		where = "The full report is too large to attach: run the same command with --format json."
	}
	sources := append([]*Source(nil), doc.Sources...)
	sort.SliceStable(sources, func(i, k int) bool { return sources[i].Messages > sources[k].Messages })
	short := *doc
	for keep := len(sources) / 2; ; keep /= 2 {
		short.Sources = sources[:keep]
		if len(short.Selectors) > keep {
			short.Selectors = short.Selectors[:keep]
		}
		if len(short.Errors) > keep {
			short.Errors = short.Errors[:keep]
		}
		text, page, err = renderMail(&short)
		if err != nil {
			return notify.Body{}, err
		}
		if notify.Fits(text, page) || keep == 0 {
			break
		}
	}
	note := fmt.Sprintf("This mail shows the %d sources with the most mail of %d. %s", len(short.Sources), len(doc.Sources), where)
	text = append(text, "\n"+note+"\n"...)
	page = bytes.Replace(page, []byte("</body>"), []byte("<p><i>"+html.EscapeString(note)+"</i></p>\n</body>"), 1)
	return notify.Body{Text: text, HTML: page, Attach: full.Bytes(), AttachName: "reports.json.gz"}, nil
}

func renderMail(doc *Document) (text, page []byte, err error) {
	var t, h bytes.Buffer
	if err := Text(&t, doc, false, false); err != nil {
		return nil, nil, err
	}
	if err := HTML(&h, doc); err != nil {
		return nil, nil, err
	}
	return t.Bytes(), h.Bytes(), nil
}

// MailSubject names the domains and what changed (or, without
// changes, how many sources fail).
func MailSubject(doc *Document, changes []state.Change) string {
	var names []string
	if len(changes) > 0 {
		var app, dis int
		for _, c := range changes {
			names = append(names, strings.TrimPrefix(c.Target, StatePrefix))
			app += len(c.Appeared)
			dis += len(c.Disappeared)
		}
		return fmt.Sprintf("deliverdoctor reports: %s changed: %d new, %d resolved", domainList(names), app, dis)
	}
	for _, d := range doc.Domains {
		names = append(names, d.Domain)
	}
	var failing int
	for _, s := range doc.Sources {
		if s.Verdict == VerdictFailing {
			failing++
		}
	}
	if failing > 0 {
		word := "sources"
		if failing == 1 {
			word = "source"
		}
		return fmt.Sprintf("deliverdoctor reports: %s: %d %s failing DMARC", domainList(names), failing, word)
	}
	return fmt.Sprintf("deliverdoctor reports: %s: %s", domainList(names), doc.Status)
}

// domainList names up to three domains, sanitized, and how many more.
func domainList(names []string) string {
	var out []string
	for i, n := range names {
		if i == 3 {
			out = append(out, fmt.Sprintf("and %d more", len(names)-3))
			break
		}
		out = append(out, sanitize.Line(n))
	}
	if len(out) == 0 {
		return "no domains"
	}
	return strings.Join(out, ", ")
}
