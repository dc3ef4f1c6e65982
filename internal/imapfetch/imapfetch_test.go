package imapfetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/backend/memory"
	"github.com/emersion/go-imap/server"

	"github.com/deliverdoctor/deliverdoctor/internal/testpki"
)

// startServer runs a go-imap server over TLS on loopback, its INBOX
// holding n messages besides the backend's own first one.
func startServer(t *testing.T, n int) (addr string, pool *tls.Config) {
	t.Helper()
	be := memory.New()
	u, err := be.Login(nil, "username", "password")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := u.GetMailbox("INBOX")
	for i := range n {
		body := fmt.Sprintf("From: r@example.net\r\nSubject: report %d\r\nMessage-ID: <%d@x>\r\n\r\n%s\r\n", i, i, bytes.Repeat([]byte("x"), 2000))
		if err := mb.(*memory.Mailbox).CreateMessage(nil, time.Now(), bytes.NewBufferString(body)); err != nil {
			t.Fatal(err)
		}
	}
	ca := testpki.NewCA(t)
	cert := ca.Issue(t, testpki.Leaf{Names: []string{"127.0.0.1", "localhost"}})
	l, err := tls.Listen("tcp", "127.0.0.1:0", testpki.ServerConfig(cert))
	if err != nil {
		t.Fatal(err)
	}
	s := server.New(be)
	go s.Serve(l) //nolint:errcheck
	t.Cleanup(func() { s.Close() })
	return l.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
}

// cutProxy forwards to addr; the first connections (cut of them) are
// closed after limit bytes from the server: a dropped connection mid-fetch.
func cutProxy(t *testing.T, addr string, cut int, limit int64) (string, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c) //nolint:errcheck
				if int(n) <= cut {
					io.CopyN(c, up, limit) //nolint:errcheck
					return
				}
				io.Copy(c, up) //nolint:errcheck
			}()
		}
	}()
	return l.Addr().String(), &conns
}

func TestFetchAll(t *testing.T) {
	addr, tc := startServer(t, 30)
	var got []uint32
	st, err := Fetch(context.Background(), Config{URL: "imaps://username@" + addr + "/INBOX", Password: "password", TLS: tc, BatchSize: 7},
		func(m Message) error {
			if m.Err != nil {
				t.Errorf("%s: %v", m.Name, m.Err)
			}
			got = append(got, m.UID)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 31 || st.Messages != 31 || st.Reconnects != 0 {
		t.Errorf("got %d messages, stats %+v", len(got), st)
	}
}

// TestResumeAfterDrop: the connection is cut mid-fetch twice; every
// message still arrives exactly once, in UID order.
func TestResumeAfterDrop(t *testing.T) {
	addr, tc := startServer(t, 40)
	proxy, conns := cutProxy(t, addr, 2, 30000)
	seen := map[uint32]int{}
	var order []uint32
	st, err := Fetch(context.Background(), Config{URL: "imaps://username@" + proxy + "/INBOX", Password: "password", TLS: tc,
		BatchSize: 10, Backoff: time.Millisecond, Timeout: 5 * time.Second},
		func(m Message) error {
			if m.Err != nil || !bytes.Contains(m.Data, []byte("Subject:")) {
				t.Errorf("%s: %v %q", m.Name, m.Err, m.Data)
			}
			seen[m.UID]++
			order = append(order, m.UID)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 41 || st.Reconnects != 2 || conns.Load() != 3 {
		t.Errorf("%d distinct messages, stats %+v, %d connections", len(seen), st, conns.Load())
	}
	for uid, n := range seen {
		if n != 1 {
			t.Errorf("UID %d delivered %d times", uid, n)
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Errorf("out of order at %d: %v", i, order)
		}
	}
}

// TestSizeLimit: a message over MaxSize is an error row and its body is
// never fetched; the others arrive.
func TestSizeLimit(t *testing.T) {
	addr, tc := startServer(t, 5)
	var ok, tooBig int
	_, err := Fetch(context.Background(), Config{URL: "imaps://username@" + addr, Password: "password", TLS: tc, MaxSize: 1000},
		func(m Message) error {
			if m.Err != nil {
				tooBig++
			} else {
				ok++
			}
			return nil
		})
	// The backend's own first message is small; the 5 made here are 2 kB.
	if err != nil || ok != 1 || tooBig != 5 {
		t.Errorf("err %v, %d read, %d too big", err, ok, tooBig)
	}
}

func TestLoginFailureIsNotRetried(t *testing.T) {
	addr, tc := startServer(t, 1)
	proxy, conns := cutProxy(t, addr, 0, 0)
	_, err := Fetch(context.Background(), Config{URL: "imaps://username@" + proxy, Password: "wrong", TLS: tc, Backoff: time.Millisecond}, func(Message) error { return nil })
	if !errors.Is(err, ErrAuth) || conns.Load() != 1 {
		t.Errorf("err %v after %d connections", err, conns.Load())
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, addr, mailbox string
		bad               bool
	}{
		{"imaps://dmarc@mail.example.com/INBOX", "mail.example.com:993", "INBOX", false},
		{"imaps://dmarc@mail.example.com", "mail.example.com:993", "INBOX", false},
		{"imap://dmarc@[::1]:1143/Reports/DMARC", "[::1]:1143", "Reports/DMARC", false},
		{"imaps://dmarc:secret@mail.example.com/", "", "", true},
		{"imaps://mail.example.com/", "", "", true},
		{"https://dmarc@mail.example.com/", "", "", true},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && (got.addr != tt.addr || got.mailbox != tt.mailbox)) {
			t.Errorf("%s: %+v %v", tt.in, got, err)
		}
	}
}
