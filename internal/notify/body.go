package notify

import (
	"bytes"
	"strings"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/state"
)

// Body is a mail whose text and HTML a command rendered itself (the
// reports command's own mail-ready rendering), sent with the same header,
// changes block and size budget as a check digest.
type Body struct {
	Text []byte // plain text, already free of terminal escapes
	HTML []byte // a whole page or a fragment, already escaped
	// Attach is the full result, gzipped, when the body shows less than
	// all of it; AttachName names it. Dropped when over AttachmentBudget.
	Attach     []byte
	AttachName string
}

// Fits reports whether text and html fit the mail's size budget.
func Fits(text, html []byte) bool {
	return len(text) <= TextBudget && len(html) <= HTMLBudget
}

// ComposeBody builds the message for b: the changes (when given) above the
// command's own text and HTML, the attachment when it fits its budget.
func ComposeBody(cfg *Config, subject string, b Body, changes []state.Change, now time.Time) ([]byte, error) {
	h, err := header(cfg, subject, now)
	if err != nil {
		return nil, err
	}
	text, html := b.Text, b.HTML
	shown := changes
	if len(shown) > maxChanges {
		shown = shown[:maxChanges]
	}
	if len(shown) > 0 {
		var ct, ch bytes.Buffer
		writeChangesText(&ct, shown, len(changes)-len(shown))
		writeChangesHTML(&ch, shown, len(changes)-len(shown))
		text = append(append(ct.Bytes(), '\n'), text...)
		html = insertAfterBody(html, ch.Bytes())
	}
	attach := b.Attach
	if len(attach) > AttachmentBudget {
		attach = nil
	}
	name := b.AttachName
	if name == "" {
		name = "report.json.gz"
	}
	return assemble(h, text, html, attach, name)
}

// insertAfterBody puts frag right after the page's <body> tag (or in front
// of a fragment).
func insertAfterBody(page, frag []byte) []byte {
	lower := strings.ToLower(string(page))
	i := strings.Index(lower, "<body")
	if i >= 0 {
		if j := strings.IndexByte(lower[i:], '>'); j >= 0 {
			at := i + j + 1
			out := make([]byte, 0, len(page)+len(frag))
			out = append(out, page[:at]...)
			out = append(out, frag...)
			return append(out, page[at:]...)
		}
	}
	return append(append([]byte{}, frag...), page...)
}
