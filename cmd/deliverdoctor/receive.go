package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/rbl"
	"github.com/deliverdoctor/deliverdoctor/internal/receive"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
	"github.com/deliverdoctor/deliverdoctor/internal/sanitize"
	"github.com/deliverdoctor/deliverdoctor/internal/serve"
)

type receiveFlags struct {
	listen, hostname, output string
	once, keep, bulk, noTLS  bool
	mimic, cert, key         string
	clientIP                 string
	dnsbl                    []string
	maxSize                  int64
	maxRcpt, maxConns        int
	sessionTimeout           time.Duration
	readTimeout              time.Duration
}

func newReceiveCmd(app *App) *cobra.Command {
	f := &receiveFlags{}
	c := &cobra.Command{
		Use:   "receive",
		Short: "Receive test messages over SMTP and say what Gmail, Yahoo and Microsoft would do with each",
		Long: `Run an SMTP server that accepts any recipient, relays nothing, and judges every
message it receives the way a large mailbox provider does:

  - the connecting IP: reverse DNS with forward confirmation, blocklists,
    SPF check_host() for MAIL FROM (and the HELO name);
  - every DKIM signature; DMARC discovery, alignment and policy; ARC;
  - the transport (STARTTLS, TLS version and cipher);
  - the bulk-sender rules of Gmail/Yahoo (2024) and Microsoft (2025): From,
    Date, Message-ID, one-click unsubscribe (RFC 8058), a text part beside
    HTML, size, link domains on domain blocklists.

For each message it prints a report (--format text, json or jsonl; json is
deliverdoctor.report/v1 with "kind": "message", "envelope" and "verdicts")
with, per provider, accept / spam / reject and the reply code it would send.
--mimic makes the server answer like that provider, so a sending MTA sees
the real reject (e.g. 550 5.7.26 when DMARC fails). Nothing but the report
is kept unless --keep. STARTTLS uses a generated self-signed certificate
unless --cert/--key are given.

Mail relayed through a local MTA arrives from 127.0.0.1; --client-ip judges
it as if it came from the public address the MTA sends from.`,
		Example: `  deliverdoctor receive                               # 127.0.0.1:2525, text reports
  deliverdoctor receive --listen 0.0.0.0:25 --hostname mx.test.example --output reports/
  deliverdoctor receive --once --format json > report.json   # for scripts
  deliverdoctor receive --mimic gmail                 # answer as Gmail would
  deliverdoctor receive --client-ip 192.0.2.25 --zone example.com.zone`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReceive(cmd, app, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:2525", "listen on `ADDR` (host:port; loopback by default)")
	fl.StringVar(&f.hostname, "hostname", "", "`NAME` in the greeting and the certificate (default: the host name)")
	fl.StringVar(&f.output, "output", "", "write each report as JSON into `DIR`")
	fl.BoolVar(&f.once, "once", false, "exit after the first message (the exit code follows its report)")
	fl.BoolVar(&f.keep, "keep", false, "also keep each message (.eml) under --output")
	fl.StringVar(&f.mimic, "mimic", "", "answer DATA as `PROVIDER` would: "+strings.Join(receive.Providers(), ", "))
	fl.StringVar(&f.cert, "cert", "", "TLS certificate `FILE` (PEM) for STARTTLS")
	fl.StringVar(&f.key, "key", "", "TLS private key `FILE` (PEM) for --cert")
	fl.BoolVar(&f.noTLS, "no-starttls", false, "do not offer STARTTLS")
	fl.StringVar(&f.clientIP, "client-ip", "", "judge every message as sent from `IP` (mail relayed through a local MTA)")
	fl.BoolVar(&f.bulk, "bulk", false, "apply the bulk-sender rules to every message (default: only to messages with List-Unsubscribe, List-Id, Precedence: bulk or Feedback-ID)")
	fl.StringArrayVar(&f.dnsbl, "dnsbl", nil, "ask this blocklist `ZONE` instead of the major lists (repeatable; ip: or domain: prefix)")
	fl.Int64Var(&f.maxSize, "max-size", receive.DefaultMaxMessageBytes, "refuse messages over `BYTES` (552 5.3.4)")
	fl.IntVar(&f.maxRcpt, "max-recipients", receive.DefaultMaxRecipients, "refuse recipients over `N` per message (452 4.5.3)")
	fl.IntVar(&f.maxConns, "max-connections", receive.DefaultMaxConns, "refuse sessions over `N` at once (421)")
	fl.DurationVar(&f.sessionTimeout, "session-timeout", receive.DefaultSessionTimeout, "close a session after this long")
	fl.DurationVar(&f.readTimeout, "read-timeout", receive.DefaultReadTimeout, "close a session silent for this long")
	return withFormats(c, "text", "json", "jsonl")
}

func runReceive(cmd *cobra.Command, app *App, f *receiveFlags) error {
	if f.keep && f.output == "" {
		return usageErrorf("--keep needs --output DIR")
	}
	if (f.cert == "") != (f.key == "") {
		return usageErrorf("--cert and --key go together")
	}
	if f.maxSize <= 0 || f.maxRcpt <= 0 || f.maxConns <= 0 || f.sessionTimeout <= 0 || f.readTimeout <= 0 {
		return usageErrorf("--max-size, --max-recipients, --max-connections and the timeouts must be positive")
	}
	if _, err := app.Resolver(); err != nil { // loads and validates --zone once
		return err
	}
	newResolver := receiveResolver(app)
	cat := rbl.Default()
	lists, err := cat.Select("major")
	if len(f.dnsbl) > 0 {
		lists, err = cat.Resolve(f.dnsbl)
	}
	if err != nil {
		return usageErrorf("%v", err)
	}
	host := f.hostname
	if host == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "localhost"
		}
	}
	var tlsConf *tls.Config
	if f.cert != "" {
		cert, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return usageErrorf("--cert/--key: %v", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	if f.output != "" {
		if err := os.MkdirAll(f.output, 0o750); err != nil {
			return usageErrorf("--output: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	var (
		first  *receive.Report
		outErr error
		errOut = app.IO.Err
		logf   = func(format string, a ...any) {
			fmt.Fprintf(errOut, "receive: %s\n", sanitize.Line(fmt.Sprintf(format, a...)))
		}
		started = time.Now()
	)
	srv, err := receive.NewServer(receive.ServerOptions{
		Hostname: host, TLSConfig: tlsConf, NoTLS: f.noTLS,
		MaxMessageBytes: f.maxSize, MaxRecipients: f.maxRcpt, MaxConns: f.maxConns,
		ReadTimeout: f.readTimeout, SessionTimeout: f.sessionTimeout, EvalTimeout: app.Deadline,
		Mimic: f.mimic, ClientIP: f.clientIP, NewResolver: newResolver,
		Eval: receive.Options{Lists: lists, Bulk: f.bulk},
		Logf: logf,
		OnReport: func(rep *receive.Report, msg []byte) {
			if err := writeReceived(app, f, rep, msg); err != nil && outErr == nil {
				outErr = err
				cancel()
			}
			if f.once && first == nil {
				first = rep
				cancel()
			}
		},
	})
	if err != nil {
		return usageErrorf("%v", err)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageErrorf("--listen %s: %v", f.listen, err)
	}
	logf("listening on %s as %s (STARTTLS %s%s); Ctrl-C stops", ln.Addr(), host, map[bool]string{true: "off", false: "on"}[f.noTLS], mimicNote(f.mimic))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-done:
		return err
	}
	// Let open sessions end (the DATA reply of a --once message is
	// written after OnReport returns, then the client sends QUIT).
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	scancel()
	<-done
	logf("stopped after %s", time.Since(started).Round(time.Second))
	if outErr != nil {
		return outErr
	}
	if first != nil {
		return app.StatusExit(first.Status)
	}
	return nil
}

// receiveResolver builds a resolver per message with the run's settings:
// a long-running receiver must not answer from a cache filled hours ago.
func receiveResolver(app *App) func() (dnsx.Resolver, error) {
	zones := app.zoneStore
	return func() (dnsx.Resolver, error) {
		cfg := dnsx.Config{Servers: app.Resolvers, Offline: app.Offline, Timeout: app.Timeout}
		if zones != nil {
			cfg.Zones = zones
		}
		if app.Trace {
			cfg.Trace = app.IO.Err
		}
		return dnsx.New(cfg)
	}
}

func mimicNote(m string) string {
	if m == "" {
		return ""
	}
	return ", answering as " + m
}

// writeReceived prints one report and stores it under --output.
func writeReceived(app *App, f *receiveFlags, rep *receive.Report, msg []byte) error {
	var err error
	switch app.Format {
	case "json":
		err = report.WriteJSON(app.IO.Out, rep)
	case "jsonl":
		err = report.WriteJSONLine(app.IO.Out, rep)
	default:
		err = writeReceivedText(app.IO.Out, rep, app.RenderOptions())
		fmt.Fprintln(app.IO.Out)
	}
	if err != nil {
		return err
	}
	if f.output == "" {
		return nil
	}
	fh, err := os.OpenFile(filepath.Join(f.output, rep.ID+".json"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if err := report.WriteJSON(fh, rep); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	if f.keep {
		return os.WriteFile(filepath.Join(f.output, rep.ID+".eml"), msg, 0o640)
	}
	return nil
}

func writeReceivedText(w io.Writer, rep *receive.Report, opts report.Options) error {
	e := rep.Envelope
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-11s %s\n", label, sanitize.Line(v))
		}
	}
	client := e.ClientIP
	if e.ConnectedIP != "" {
		client += " (connected from " + e.ConnectedIP + ", --client-ip)"
	}
	line("Client:", client+" HELO "+e.HELO)
	mf := e.MailFrom
	if mf == "" {
		mf = "<> (null sender)"
	}
	line("MAIL FROM:", mf)
	line("RCPT TO:", strings.Join(e.RcptTo, ", "))
	tlsLine := "none"
	if e.TLS.Used {
		tlsLine = e.TLS.Version + " " + e.TLS.Cipher
	}
	line("TLS:", tlsLine)
	line("From:", rep.Message.From)
	line("Subject:", rep.Message.Subject)
	size := fmt.Sprintf("%d bytes", rep.Message.Size)
	if rep.Message.Bulk {
		size += ", bulk (" + rep.Message.BulkReason + ")"
	}
	line("Size:", size)
	fmt.Fprintln(w)
	var rows [][]string
	for _, v := range rep.Verdicts {
		why := ""
		if len(v.Reasons) > 0 {
			why = v.Reasons[0].Text
		}
		reply := v.Reply
		if reply == "" {
			reply = why
		} else if why != "" {
			reply = why + ": " + reply
		}
		rows = append(rows, []string{v.Provider, strings.ToUpper(v.Outcome), strings.Join(v.Codes, " "), reply})
	}
	if err := report.Table(w, []string{"PROVIDER", "OUTCOME", "CODE", "WHY"}, rows); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return report.TextReport(w, rep.Report, opts)
}

// startReceiver runs a receiver beside serve (serve --receive ADDR): its
// reports are kept in memory and listed by serve at /api/v1/received.
func startReceiver(app *App, addr string, cfg *serve.Config) (stop func(), err error) {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	lists, _ := rbl.Default().Select("major")
	store := &receive.Store{}
	srv, err := receive.NewServer(receive.ServerOptions{
		Hostname: host, NewResolver: receiveResolver(app), EvalTimeout: app.Deadline,
		Eval:     receive.Options{Lists: lists},
		OnReport: func(rep *receive.Report, _ []byte) { store.Add(rep) },
		Logf: func(format string, a ...any) {
			fmt.Fprintf(app.IO.Err, "receive: %s\n", sanitize.Line(fmt.Sprintf(format, a...)))
		},
	})
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageErrorf("--receive %s: %v", addr, err)
	}
	fmt.Fprintf(app.IO.Err, "deliverdoctor: receiving SMTP on %s\n", ln.Addr())
	cfg.Received = store.List
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	return func() { _ = srv.Close(); <-done }, nil
}
