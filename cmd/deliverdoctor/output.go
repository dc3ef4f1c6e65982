package main

import (
	"context"
	"io"
	"net/netip"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/target"
)

// runSelection runs the checks opts.Only names for t through the one
// orchestrator (internal/check.Runner). Every command that checks something
// gets its answer here, so a single-check command and "check --checks X"
// cannot disagree: the command may show more of the check's data, never
// another verdict or finding.
func (a *App) runSelection(ctx context.Context, t target.Target, opts check.Options) (*report.Report, error) {
	res, err := a.Resolver()
	if err != nil {
		return nil, err
	}
	opts.Offline = a.Offline
	runner := &check.Runner{Resolver: res, Options: opts, Deadline: a.Deadline, Stats: res.Stats}
	return runner.Run(ctx, t), nil
}

// resultOf returns the named check's result in rep; a check that did not
// run (it did not apply) is a skip.
func resultOf(rep *report.Report, name string) findings.CheckResult {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	return check.SkipResult(name, "not run")
}

// domainTarget is a command argument that must be a domain name.
func domainTarget(arg string) (target.Target, error) {
	if _, err := target.Domain(arg); err != nil {
		return target.Target{}, &usageError{err}
	}
	t, err := target.Parse(arg)
	if err != nil {
		return target.Target{}, &usageError{err}
	}
	return t, nil
}

// writeJSONDocument writes v, a command's own JSON document (one that is
// not a report, e.g. the relay or spf eval contracts in docs/contracts.md), as
// --format asks: indented for json, on one line for jsonl.
func (a *App) writeJSONDocument(v any) error {
	if a.Format == "jsonl" {
		return report.WriteJSONLine(a.IO.Out, v)
	}
	return report.WriteJSON(a.IO.Out, v)
}

// writeJSONDocuments writes a command's own documents, one per target
// (address, rbl): json is the one object for one target, an array for
// several; jsonl is one line each. It reports whether the format was one
// of those.
func writeJSONDocuments[T any](a *App, docs []T) (bool, error) {
	switch a.Format {
	case "json":
		if len(docs) == 1 {
			return true, report.WriteJSON(a.IO.Out, docs[0])
		}
		return true, report.WriteJSON(a.IO.Out, docs)
	case "jsonl":
		for _, d := range docs {
			if err := report.WriteJSONLine(a.IO.Out, d); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	return false, nil
}

// finishDocument ends a command whose json and jsonl output is its own
// document (doc, docs/contracts.md's contract for the command) rather than a
// report: text calls text, and the other formats (markdown, html, csv)
// render rep, the same result as a report, with the shared renderers. The
// exit code follows status.
func (a *App) finishDocument(doc any, text func(io.Writer) error, rep *report.Report, status findings.Status) error {
	switch a.Format {
	case "json", "jsonl":
		if err := a.writeJSONDocument(doc); err != nil {
			return err
		}
	case "text":
		if err := text(a.IO.Out); err != nil {
			return err
		}
	default:
		rep.Finalize(check.Order)
		if err := report.Render(a.IO.Out, a.Format, []*report.Report{rep}, a.RenderOptions()); err != nil {
			return err
		}
	}
	return a.StatusExit(status)
}

// parseSenderIP is --ip (check, spf, dmarc): check.ParseSenderIP, and a
// usage error when it is not an address.
func parseSenderIP(s string) (netip.Addr, error) {
	ip, err := check.ParseSenderIP(s)
	if err != nil {
		return netip.Addr{}, usageErrorf("--ip %q is not an IP address", s)
	}
	return ip, nil
}
