package relay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/smtpreply"
)

// Why our own dialogue instead of go-smtp's Client: the probe must put
// addresses on the wire exactly as written (quoted local parts, source
// routes, bang paths; go-smtp's Mail also appends BODY=8BITMIME on its
// own), bound every reply in time and size (go-smtp reads the greeting
// with a 5-minute timeout and accumulates multi-line replies without a
// total limit, so an endless banner grows memory), fall back to HELO on
// any 5xx to EHLO (go-smtp only on 500/502), keep the raw reply text and
// enhanced code of every step, and make DATA impossible rather than merely
// unused: go-smtp's Client has a Data method one call away.

// Limits on what the server may send us. RFC 5321 4.5.3.1.5 caps a reply
// line at 512 octets; we allow more for sloppy servers but stay bounded.
const (
	maxLineLen    = 4096     // one reply line, CRLF included
	maxReplyLines = 100      // lines in one multi-line reply
	maxReplyBytes = 64 << 10 // all lines of one reply
	maxCommands   = 120      // commands in one session, QUIT included
	maxArgLen     = 1000     // RFC 5321 4.5.3.1.4 allows 512 per line; ours stay far below, this only bounds
)

// ErrForbiddenCommand is returned for any command the probe must never
// send. DATA and BDAT (RFC 3030) are the reason this exists: the relay
// probe stops before a message could ever be transferred.
var ErrForbiddenCommand = errors.New("relay probe: command not allowed")

// allowedVerbs is the complete set of commands the probe may send. It is
// an allowlist, so DATA, BDAT, and anything else (VRFY, EXPN, ETRN, AUTH,
// TURN) are refused by construction.
var allowedVerbs = map[string]bool{
	"EHLO": true, "HELO": true, "STARTTLS": true,
	"MAIL": true, "RCPT": true, "RSET": true, "QUIT": true,
}

var replyLimits = smtpreply.Limits{MaxLine: maxLineLen, MaxLines: maxReplyLines, MaxBytes: maxReplyBytes}

// errTimeout marks a reply that did not arrive in time (a tarpit, or a
// server that stopped talking).
var errTimeout = errors.New("no reply in time")

// conn is one SMTP client connection with a bounded, allowlisted command
// writer and a bounded reply reader.
type conn struct {
	nc      net.Conn
	br      *bufio.Reader
	timeout time.Duration
	sent    int
	// log receives every command and reply line (tests and --trace-like
	// diagnostics); nil to disable.
	log func(dir, line string)
}

func newConn(nc net.Conn, timeout time.Duration) *conn {
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, maxLineLen), timeout: timeout}
}

// checkCommand refuses forbidden verbs and arguments that could smuggle a
// second command onto the line.
func checkCommand(verb, arg string) error {
	v := strings.ToUpper(verb)
	if v == "DATA" || v == "BDAT" || !allowedVerbs[v] || v != verb {
		return fmt.Errorf("%w: %q", ErrForbiddenCommand, verb)
	}
	if strings.ContainsAny(arg, "\r\n\x00") {
		return fmt.Errorf("%w: line break in the argument of %s", ErrForbiddenCommand, verb)
	}
	if len(arg) > maxArgLen {
		return fmt.Errorf("%w: argument of %s longer than %d bytes", ErrForbiddenCommand, verb, maxArgLen)
	}
	return nil
}

// write sends one command line. It is the only way bytes reach the server.
func (c *conn) write(verb, arg string) error {
	if err := checkCommand(verb, arg); err != nil {
		return err
	}
	if c.sent >= maxCommands {
		return fmt.Errorf("%w: more than %d commands in one session", ErrForbiddenCommand, maxCommands)
	}
	// Pipelining-insensitive: every command waits for the previous
	// reply. Bytes already waiting here were not asked for, and matching
	// them to our next command could turn a stray "250" into a false
	// "accepted"; a desynchronised session is abandoned instead.
	if n := c.br.Buffered(); n > 0 {
		return fmt.Errorf("%w: the server sent %d bytes nobody asked for; replies cannot be matched to commands", errReplySyntax, n)
	}
	line := verb
	if arg != "" {
		line += " " + arg
	}
	c.sent++
	if c.log != nil {
		c.log("C", line)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := io.WriteString(c.nc, line+"\r\n")
	return err
}

// readReply reads one complete reply within the per-step timeout: the
// deadline covers the whole reply, so a server dribbling out an endless
// multi-line banner is cut off like a silent one.
func (c *conn) readReply() (Reply, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	return readReply(c.br, c.log)
}

// readReply reads one reply from br with the shared reader
// (internal/smtpreply), bounded in line length, line count and total size.
func readReply(br *bufio.Reader, log func(dir, line string)) (Reply, error) {
	var onLine func(string)
	if log != nil {
		onLine = func(l string) { log("S", l) }
	}
	r, err := smtpreply.Read(br, replyLimits, onLine)
	switch {
	case err == nil:
		return Reply(r), nil
	case isTimeout(err):
		return Reply{}, errTimeout
	case err == io.EOF:
		return Reply{}, fmt.Errorf("connection closed by the server: %w", io.EOF)
	}
	return Reply{}, err
}

// cmd sends a command and reads its reply.
func (c *conn) cmd(verb, arg string) (Reply, error) {
	if err := c.write(verb, arg); err != nil {
		return Reply{}, err
	}
	return c.readReply()
}

// quit ends the session politely (RFC 5321 4.1.1.10) and closes the
// connection. After a timeout or a protocol error the stream cannot be
// trusted, so QUIT is sent without waiting for its reply.
func (c *conn) quit(wait bool) {
	if err := c.write("QUIT", ""); err == nil && wait {
		t := c.timeout
		if t > 2*time.Second {
			t = 2 * time.Second
		}
		c.timeout = t
		_, _ = c.readReply()
	}
	_ = c.nc.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dial connects to the first address that answers, each attempt bounded by
// timeout and ctx. The returned stop function detaches the context watch.
func dial(ctx context.Context, addrs []string, timeout time.Duration, dialFn func(ctx context.Context, network, addr string) (net.Conn, error)) (net.Conn, string, error) {
	d := net.Dialer{Timeout: timeout}
	if dialFn == nil {
		dialFn = d.DialContext
	}
	var errs []error
	for _, a := range addrs {
		dctx, cancel := context.WithTimeout(ctx, timeout)
		nc, err := dialFn(dctx, "tcp", a)
		cancel()
		if err == nil {
			return nc, a, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, "", errors.New("no address to connect to")
	}
	return nil, "", errors.Join(errs...)
}
