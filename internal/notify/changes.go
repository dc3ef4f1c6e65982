package notify

import (
	"fmt"
	"html/template"
	"io"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/state"
)

func writeChangesText(w io.Writer, changes []state.Change, more int) {
	fmt.Fprintln(w, "What changed since the last run:")
	for _, c := range changes {
		fmt.Fprintf(w, "\n%s\n", sanitize.Line(c.Target))
		for _, it := range c.Appeared {
			fmt.Fprintf(w, "  + [%s] %s (%s)\n", it.Severity, sanitize.Line(it.Title), it.ID)
		}
		for _, it := range c.Disappeared {
			fmt.Fprintf(w, "  - resolved: %s (%s)\n", sanitize.Line(it.Title), it.ID)
		}
	}
	if more > 0 {
		fmt.Fprintf(w, "\n… and %d more targets changed.\n", more)
	}
	fmt.Fprintln(w, "\n-----")
}

var changesTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("changes").Funcs(template.FuncMap{"clean": sanitize.Line}).Parse(`
<div style="max-width:760px;margin:0 auto 16px auto;padding:12px 20px;background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px">
<div style="font-weight:600;margin-bottom:6px">What changed since the last run</div>
{{- range .Changes}}
<div style="margin-top:6px;font-weight:600">{{clean .Target}}</div>
{{- range .Appeared}}<div style="color:#cf222e">+ [{{.Severity}}] {{clean .Title}} <span style="font-family:monospace;color:#656d76">{{.ID}}</span></div>{{end}}
{{- range .Disappeared}}<div style="color:#1a7f37">− resolved: {{clean .Title}} <span style="font-family:monospace;color:#656d76">{{.ID}}</span></div>{{end}}
{{- end}}
{{- if .More}}<div style="margin-top:6px">… and {{.More}} more targets changed.</div>{{end}}
</div>
`))
})

func writeChangesHTML(w io.Writer, changes []state.Change, more int) {
	_ = changesTmpl().Execute(w, map[string]any{"Changes": changes, "More": more})
}
