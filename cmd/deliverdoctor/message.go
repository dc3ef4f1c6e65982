package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/dkim"
	"github.com/deliverdoctor/deliverdoctor/internal/dnsx"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// messageAnalyzer judges one message read by a message command (dkim
// verify, headers): it returns the report and the overview that --format
// text prints before the findings. Its error means the message itself
// could not be read as one (an input error).
type messageAnalyzer func(ctx context.Context, r dnsx.Resolver, msg []byte, name string) (*report.Report, func(io.Writer) error, error)

// runOnMessage is the body of a command that takes one message, MSG.eml or
// "-" for standard input: it reads the message (readMessageArg), runs
// analyze through the resolver within --deadline, and finishes the report.
func (a *App) runOnMessage(cmd *cobra.Command, arg string, analyze messageAnalyzer) error {
	msg, name, err := readMessageArg(a, arg)
	if err != nil {
		return err
	}
	res, err := a.Resolver()
	if err != nil {
		return err
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(cmd.Context(), a.Deadline)
	defer cancel()
	rep, overview, err := analyze(ctx, res, msg, name)
	if err != nil {
		return &usageError{fmt.Errorf("%s: %w", name, err)}
	}
	return a.finishSingle(rep, start, overview)
}

// readMessageArg reads a message from a file or, for "-", standard input,
// within dkim.MaxMessageSize. It returns the message and the name to show
// for it ("stdin" for "-"). Errors are input errors (exit 2).
func readMessageArg(app *App, arg string) ([]byte, string, error) {
	name := arg
	if arg == "-" {
		name = "stdin"
	}
	r, err := openInput(app, arg)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, name, usageErrorf("%s: %v", arg, err)
	}
	defer r.Close()
	msg, err := dkim.ReadMessage(r, dkim.MaxMessageSize)
	if err != nil {
		return nil, name, usageErrorf("%s: %v", name, err)
	}
	return msg, name, nil
}

// openInput opens the file named by a command-line argument for reading,
// or standard input for "-". The caller closes it; closing standard input's
// stand-in does nothing.
func openInput(app *App, path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(app.IO.In), nil
	}
	return os.Open(path)
}
