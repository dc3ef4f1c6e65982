package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/mtasts"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
)

type mtastsFlags struct {
	url     string
	policy  string
	timeout time.Duration
}

func newMTASTSCmd(app *App) *cobra.Command {
	var f mtastsFlags
	cmd := &cobra.Command{
		Use:   "mta-sts DOMAIN",
		Short: "Check a domain's MTA-STS record and policy (and its TLS-RPT record) against its MX hosts",
		Long: `Check SMTP MTA Strict Transport Security (RFC 8461) for DOMAIN: the
_mta-sts TXT record (exactly one, v=STSv1 and an id of 1-32 letters and
digits), the policy at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (a
certificate valid for mta-sts.DOMAIN, status 200 without redirects,
text/plain, at most 64 KiB, strict "key: value" lines), and whether the
policy's mx patterns cover every MX host. In enforce mode an MX host the
policy does not list gets no mail from MTA-STS senders (Gmail, Microsoft
365, Yahoo, ...): that is a failure. The TLS-RPT record (RFC 8460) that
tells those senders where to report such failures is checked too.

--policy FILE judges a policy file before you publish it, against the real
MX set, without fetching anything. --url fetches the policy from another
address (a staging server); its certificate must still be valid for
mta-sts.DOMAIN. With --offline the record is checked and the policy is not
fetched (skip, not failure).

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
2 usage error, 3 something could not be determined and nothing failed.`,
		Example: `  deliverdoctor mta-sts example.com
  deliverdoctor mta-sts example.com --policy ./mta-sts.txt
  deliverdoctor mta-sts example.com --url https://staging.example.net/.well-known/mta-sts.txt
  deliverdoctor mta-sts example.com --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := domainTarget(args[0])
			if err != nil {
				return err
			}
			if f.timeout <= 0 {
				return usageErrorf("--probe-timeout must be positive")
			}
			if f.url != "" && f.policy != "" {
				return usageErrorf("--url and --policy exclude each other")
			}
			if f.url != "" && !strings.HasPrefix(f.url, "https://") {
				return usageErrorf("--url %q: MTA-STS policies are fetched over https:// only", f.url)
			}
			// The same checks as "check --checks mta-sts,tls-rpt": TLS-RPT's
			// expectations come from MTA-STS and DANE alike.
			opts := check.Options{Only: []string{"mta-sts", "tls-rpt"}, MTASTSURL: f.url, ProbeTimeout: f.timeout}
			if f.policy != "" {
				text, err := readPolicy(app, f.policy)
				if err != nil {
					return err
				}
				opts.MTASTSPolicy, opts.MTASTSPolicySource = text, f.policy
			}
			rep, err := app.runSelection(cmd.Context(), t, opts)
			if err != nil {
				return err
			}
			if app.Offline && f.policy == "" {
				rep.Notes = append(rep.Notes, "offline: the policy was not fetched")
			}
			sts, _ := resultOf(rep, "mta-sts").Data.(*mtasts.Result)
			return finishReports(app, []*report.Report{rep}, func(w io.Writer) error {
				if sts == nil {
					return nil
				}
				return writeMTASTSText(w, sts)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "fetch the policy from this https `URL` instead of https://mta-sts.DOMAIN/.well-known/mta-sts.txt")
	fl.StringVar(&f.policy, "policy", "", "judge this policy `FILE` (- for stdin) instead of fetching one")
	fl.DurationVar(&f.timeout, "probe-timeout", 10*time.Second, "timeout for the HTTPS fetch of the policy")
	return cmd
}

func readPolicy(app *App, path string) (string, error) {
	r, err := openInput(app, path)
	if err != nil {
		return "", usageErrorf("--policy: %v", err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, mtasts.MaxPolicySize+1))
	if err != nil {
		return "", usageErrorf("--policy: %v", err)
	}
	if len(b) > mtasts.MaxPolicySize {
		return "", usageErrorf("--policy %s: larger than %d KiB; senders refuse such policies", path, mtasts.MaxPolicySize/1024)
	}
	return string(b), nil
}

// writeMTASTSText shows the record, the policy and the MX match.
func writeMTASTSText(w io.Writer, r *mtasts.Result) error {
	if r.Record != nil {
		fmt.Fprintf(w, "record: %s TXT %q\n", mtasts.RecordName(r.Domain), sanitize.Line(r.TXT[0]))
	}
	switch {
	case r.PolicySource != "":
		fmt.Fprintf(w, "policy: %s\n", sanitize.Line(r.PolicySource))
	case r.Fetched:
		fmt.Fprintf(w, "policy: %s\n", sanitize.Line(r.PolicyURL))
	}
	if r.Policy != nil {
		for _, l := range strings.Split(strings.TrimSuffix(r.Policy.String(), "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", sanitize.Line(l))
		}
	}
	if len(r.MX) > 0 {
		var rows [][]string
		for _, m := range r.MX {
			match := "NO"
			if m.Matches {
				match = "yes (" + m.Pattern + ")"
			}
			rows = append(rows, []string{m.Host, match})
		}
		fmt.Fprintln(w)
		if err := report.Table(w, []string{"MX HOST", "IN POLICY"}, rows); err != nil {
			return err
		}
	}
	return nil
}
