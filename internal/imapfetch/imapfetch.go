// Package imapfetch reads every message of an IMAP mailbox, read-only,
// and survives a connection that drops in the middle: it reconnects and
// goes on from the first UID it has not delivered, so each message is
// delivered once (RFC 3501 2.3.1.1: UIDs are stable while UIDVALIDITY is).
package imapfetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
)

// Config says where to read from.
type Config struct {
	// URL is imaps://USER@HOST[:PORT]/MAILBOX (TLS from the first byte,
	// port 993) or imap://USER@HOST[:PORT]/MAILBOX (STARTTLS required,
	// port 143). The mailbox defaults to INBOX.
	URL string
	// Password is USER's password. It never travels in clear: imap://
	// must offer STARTTLS.
	Password string
	// TLS is the TLS configuration (nil: system roots, the URL's host).
	TLS *tls.Config
	// Timeout bounds each IMAP command and the dial (default 60 s).
	Timeout time.Duration
	// Retries is how many times a dropped connection is re-established
	// (default 5), with a growing pause (Backoff, default 500 ms).
	Retries int
	Backoff time.Duration
	// BatchSize is how many messages one UID FETCH asks for (default 50).
	BatchSize int
	// MaxSize skips messages larger than this (reported as an error).
	MaxSize int64
}

// Message is one message read, or one that could not be.
type Message struct {
	Name string // "imap:INBOX/UID"
	UID  uint32
	Data []byte
	Err  error
}

// Stats says what the fetch did.
type Stats struct {
	Messages   int // delivered
	Reconnects int
}

type target struct {
	addr, user, mailbox, host string
	implicitTLS               bool
}

// ParseURL reads an imap:// or imaps:// URL. A password in it is refused:
// passwords come from the environment or a file, never the command line.
func ParseURL(raw string) (target, error) {
	var t target
	u, err := url.Parse(raw)
	if err != nil {
		return t, fmt.Errorf("--imap %q: %v", raw, err)
	}
	switch u.Scheme {
	case "imaps":
		t.implicitTLS = true
	case "imap":
	default:
		return t, fmt.Errorf("--imap %q: want imaps://USER@HOST/MAILBOX or imap://USER@HOST/MAILBOX", raw)
	}
	if u.User == nil || u.User.Username() == "" {
		return t, fmt.Errorf("--imap %q: no user (imaps://USER@HOST/MAILBOX)", raw)
	}
	if _, ok := u.User.Password(); ok {
		return t, fmt.Errorf("--imap: do not put the password in the URL; use DELIVERDOCTOR_IMAP_PASSWORD or --imap-password-file")
	}
	t.user = u.User.Username()
	t.host = u.Hostname()
	if t.host == "" {
		return t, fmt.Errorf("--imap %q: no host", raw)
	}
	port := u.Port()
	if port == "" {
		port = "143"
		if t.implicitTLS {
			port = "993"
		}
	}
	t.addr = net.JoinHostPort(t.host, port)
	t.mailbox = strings.TrimPrefix(u.Path, "/")
	if t.mailbox == "" {
		t.mailbox = "INBOX"
	}
	return t, nil
}

// ErrAuth is a login failure: retrying will not help.
var ErrAuth = errors.New("IMAP login failed")

// Fetch delivers every message of the mailbox to fn, in UID order, each
// once, reconnecting after a dropped connection. An error from fn stops
// it.
func Fetch(ctx context.Context, cfg Config, fn func(Message) error) (Stats, error) {
	var st Stats
	t, err := ParseURL(cfg.URL)
	if err != nil {
		return st, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 50
	}
	tlsCfg := cfg.TLS
	if tlsCfg == nil {
		tlsCfg = &tls.Config{}
	}
	tlsCfg = tlsCfg.Clone()
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = t.host
	}
	var (
		uids     []uint32 // to fetch, ascending
		validity uint32
		next     int // index into uids of the first not delivered
		failures int
	)
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		c, v, all, err := session(ctx, t, cfg, tlsCfg)
		if err == nil {
			if uids == nil || v != validity {
				// First session, or the mailbox was recreated: UIDs
				// changed meaning, start over (de-duplication by report id
				// keeps reports from counting twice).
				uids, validity, next = all, v, 0
			}
			// Cancelling ctx closes the connection, so no command outlives it.
			stop := context.AfterFunc(ctx, func() { c.Terminate() }) //nolint:errcheck
			err = fetchFrom(ctx, c, cfg, t, uids, &next, &st, fn)
			stop()
			c.Logout()    //nolint:errcheck // best effort
			c.Terminate() //nolint:errcheck
			if err == nil {
				return st, nil
			}
		}
		var stop *stopError
		if errors.As(err, &stop) {
			return st, stop.err
		}
		if errors.Is(err, ErrAuth) || ctx.Err() != nil {
			return st, err
		}
		failures++
		if failures > cfg.Retries {
			return st, fmt.Errorf("IMAP %s: giving up after %d reconnects: %w", t.addr, cfg.Retries, err)
		}
		st.Reconnects++
		select {
		case <-time.After(cfg.Backoff * time.Duration(failures)):
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
}

// stopError wraps an error from the caller's fn: not a connection problem.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }

// session connects, logs in and selects the mailbox read-only, returning
// its UIDVALIDITY and UIDs.
func session(ctx context.Context, t target, cfg Config, tlsCfg *tls.Config) (*client.Client, uint32, []uint32, error) {
	d := &net.Dialer{Timeout: cfg.Timeout}
	var c *client.Client
	var err error
	if t.implicitTLS {
		c, err = client.DialWithDialerTLS(d, t.addr, tlsCfg)
	} else {
		c, err = client.DialWithDialer(d, t.addr)
		if err == nil {
			ok, _ := c.SupportStartTLS()
			if !ok {
				c.Terminate() //nolint:errcheck
				return nil, 0, nil, fmt.Errorf("%w: %s offers no STARTTLS; the password would travel in clear", ErrAuth, t.addr)
			}
			err = c.StartTLS(tlsCfg)
		}
	}
	if err != nil {
		if c != nil {
			c.Terminate() //nolint:errcheck
		}
		return nil, 0, nil, fmt.Errorf("IMAP %s: %w", t.addr, err)
	}
	c.Timeout = cfg.Timeout
	// A dropped connection is handled (and reported) here, not logged by
	// the library on stderr.
	c.ErrorLog = log.New(io.Discard, "", 0)
	if err := c.Login(t.user, cfg.Password); err != nil {
		c.Terminate() //nolint:errcheck
		return nil, 0, nil, fmt.Errorf("%w: %s as %s: %v", ErrAuth, t.addr, t.user, err)
	}
	mb, err := c.Select(t.mailbox, true)
	if err != nil {
		c.Terminate() //nolint:errcheck
		return nil, 0, nil, fmt.Errorf("%w: mailbox %q: %v", ErrAuth, t.mailbox, err)
	}
	var uids []uint32
	if mb.Messages > 0 {
		crit := imap.NewSearchCriteria()
		uids, err = c.UidSearch(crit)
		if err != nil {
			c.Terminate() //nolint:errcheck
			return nil, 0, nil, fmt.Errorf("IMAP UID SEARCH: %w", err)
		}
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	if uids == nil {
		uids = []uint32{}
	}
	return c, mb.UidValidity, uids, nil
}

// fetchFrom fetches uids[*next:] in batches, advancing *next past every
// message delivered, so a new session goes on where this one broke.
func fetchFrom(ctx context.Context, c *client.Client, cfg Config, t target, uids []uint32, next *int, st *Stats, fn func(Message) error) error {
	section := &imap.BodySectionName{Peek: true}
	items := []imap.FetchItem{imap.FetchUid, section.FetchItem()}
	for *next < len(uids) {
		end := min(*next+cfg.BatchSize, len(uids))
		batch := uids[*next:end]
		got := map[uint32]Message{}
		name := func(uid uint32) string { return fmt.Sprintf("imap:%s/%d", t.mailbox, uid) }
		// go-imap reads a literal whole into memory: ask the sizes first
		// and never fetch a message over the limit (RFC 3501 6.4.5
		// RFC822.SIZE).
		if cfg.MaxSize > 0 {
			sizes, err := fetchSizes(c, batch)
			if err != nil {
				return fmt.Errorf("IMAP UID FETCH RFC822.SIZE: %w", err)
			}
			var fit []uint32
			for _, uid := range batch {
				if n, ok := sizes[uid]; ok && int64(n) > cfg.MaxSize {
					got[uid] = Message{UID: uid, Name: name(uid), Err: fmt.Errorf("message of %d bytes is over the %d byte limit", n, cfg.MaxSize)}
					continue
				}
				fit = append(fit, uid)
			}
			batch = fit
		}
		ch := make(chan *imap.Message, 8)
		done := make(chan error, 1)
		if len(batch) == 0 {
			close(ch)
			done <- nil
		} else {
			set := new(imap.SeqSet)
			set.AddNum(batch...)
			go func() { done <- c.UidFetch(set, items, ch) }()
		}
		for m := range ch {
			msg := Message{UID: m.Uid, Name: name(m.Uid)}
			if r := m.GetBody(section); r != nil {
				limit := cfg.MaxSize
				if limit <= 0 {
					limit = 1 << 30
				}
				data, err := io.ReadAll(io.LimitReader(r, limit+1))
				switch {
				case err != nil:
					msg.Err = err
				case int64(len(data)) > limit:
					msg.Err = fmt.Errorf("message over the %d byte limit", limit)
				default:
					msg.Data = data
				}
			} else {
				continue // no body: an untagged FETCH for flags only
			}
			got[m.Uid] = msg
		}
		fetchErr := <-done
		// Deliver in UID order what arrived, up to the first gap: after a
		// drop the rest is asked again.
		for *next < end {
			uid := uids[*next]
			msg, ok := got[uid]
			if !ok {
				if fetchErr == nil {
					// The message was expunged meanwhile: nothing to read.
					*next++
					continue
				}
				break
			}
			if err := fn(msg); err != nil {
				return &stopError{err}
			}
			st.Messages++
			*next++
		}
		if fetchErr != nil {
			return fmt.Errorf("IMAP UID FETCH: %w", fetchErr)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// fetchSizes asks the RFC822.SIZE of uids.
func fetchSizes(c *client.Client, uids []uint32) (map[uint32]uint32, error) {
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	ch := make(chan *imap.Message, 16)
	done := make(chan error, 1)
	go func() { done <- c.UidFetch(set, []imap.FetchItem{imap.FetchUid, imap.FetchRFC822Size}, ch) }()
	sizes := map[uint32]uint32{}
	for m := range ch {
		sizes[m.Uid] = m.Size
	}
	return sizes, <-done
}
