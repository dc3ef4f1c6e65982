package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/deliverdoctor/deliverdoctor/internal/dmarcreport"
	"github.com/deliverdoctor/deliverdoctor/internal/imapfetch"
)

// imapPasswordEnv holds the IMAP password: never a flag (it would show in
// ps and shell history).
const imapPasswordEnv = "DELIVERDOCTOR_IMAP_PASSWORD"

type imapFlags struct {
	url          string
	passwordFile string
	caFile       string
}

func addIMAPFlags(fl *pflag.FlagSet, m *imapFlags) {
	fl.StringVar(&m.url, "imap", "", "also read the reports in this mailbox: imaps://`USER@HOST[:PORT]/MAILBOX` (password from $"+imapPasswordEnv+" or --imap-password-file)")
	fl.StringVar(&m.passwordFile, "imap-password-file", "", "read the IMAP password from `FILE` (first line)")
	fl.StringVar(&m.caFile, "imap-ca", "", "trust the CA certificates in this PEM `FILE` for --imap (a private CA)")
}

func imapSource(ctx context.Context, app *App, m *imapFlags, maxSize int64) (dmarcreport.Source, error) {
	if _, err := imapfetch.ParseURL(m.url); err != nil {
		return nil, &usageError{err}
	}
	password := app.IO.Env(imapPasswordEnv)
	if m.passwordFile != "" {
		b, err := os.ReadFile(m.passwordFile)
		if err != nil {
			return nil, usageErrorf("--imap-password-file: %v", unwrapPathErr(err))
		}
		password, _, _ = strings.Cut(string(b), "\n")
		password = strings.TrimSuffix(password, "\r")
	}
	if password == "" {
		return nil, usageErrorf("--imap needs a password: set $%s or give --imap-password-file", imapPasswordEnv)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.caFile != "" {
		pem, err := os.ReadFile(m.caFile)
		if err != nil {
			return nil, usageErrorf("--imap-ca: %v", unwrapPathErr(err))
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageErrorf("--imap-ca %s: no PEM certificate in it", m.caFile)
		}
		tc.RootCAs = pool
	}
	cfg := imapfetch.Config{URL: m.url, Password: password, TLS: tc, MaxSize: maxSize}
	return func(emit func(dmarcreport.Input) error) error {
		st, err := imapfetch.Fetch(ctx, cfg, func(msg imapfetch.Message) error {
			return emit(dmarcreport.Input{Name: msg.Name, Data: msg.Data, Err: msg.Err})
		})
		if st.Reconnects > 0 {
			fmt.Fprintf(app.IO.Err, "deliverdoctor: IMAP: reconnected %d times, read %d messages, each once\n", st.Reconnects, st.Messages)
		}
		return err
	}, nil
}
