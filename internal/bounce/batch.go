package bounce

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/deliverdoctor/deliverdoctor/internal/thp"
)

// Item is one message of a batch, parsed: Bounce, or Err when the message
// could not be read or parsed (never both).
type Item struct {
	Name      string
	Size      int64 // bytes of the message
	Truncated bool  // only the first part was read (Bounce.Notes say how much)
	Bounce    *Bounce
	Err       error
}

var errStopped = errors.New("stopped")

// ParseAll reads the messages of paths as ReadPaths does and parses them on
// a bounded pool of workers (0: one per CPU). fn sees every message in
// input order, so runs can be diffed; at most a few messages per worker
// are held at a time, so memory does not grow with the input. An error
// from fn stops the run and is returned; so is a path that cannot be
// opened.
func ParseAll(paths []string, stdin io.Reader, max int64, workers int, fn func(Item) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	warmUp()
	// Work moves in chunks of up to chunkSlots messages, so the hand-offs
	// between the reader, the workers and fn (a goroutine switch each) are
	// paid per chunk, not per message. The files of a directory are read
	// by the workers themselves (reading is a third of the work on a
	// Maildir, and serial in one reader); a small mbox among them is split
	// by its worker, and a file that turns out large is streamed by fn's
	// goroutine when its turn comes, through this same function, so
	// memory stays bounded.
	order := make(chan *chunk, 2*workers)
	work := make(chan *chunk, workers)
	stop := make(chan struct{})
	mem := newByteBudget(maxInFlight)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.parse(max, mem)
				close(c.done)
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		cur := newChunk()
		flush := func() error {
			if len(cur.slots) == 0 {
				return nil
			}
			c := cur
			cur = newChunk()
			select {
			case order <- c:
			case <-stop:
				return errStopped
			}
			work <- c
			return nil
		}
		add := func(sl slot) error {
			cur.slots = append(cur.slots, sl)
			cur.bytes += len(sl.in.Data)
			if len(cur.slots) >= chunkSlots || cur.bytes >= chunkBytes {
				return flush()
			}
			return nil
		}
		err := walkPaths(paths, stdin, max, func(in Input) error {
			mem.acquire(len(in.Data))
			return add(slot{in: in})
		}, func(path string) error {
			return add(slot{path: path})
		}, expectInput())
		if err == nil {
			err = flush()
		}
		close(order)
		close(work)
		readErr <- err
	}()
	var fnErr error
	emit := func(it Item) error {
		if fnErr == nil {
			if fnErr = fn(it); fnErr != nil {
				close(stop)
			}
		}
		return fnErr
	}
	for c := range order {
		<-c.done
		for _, sl := range c.slots {
			if fnErr != nil {
				break
			}
			if sl.stream {
				if err := ParseAll([]string{sl.path}, nil, max, workers, emit); err != nil && fnErr == nil {
					fnErr = err
					close(stop)
				}
				continue
			}
			for _, it := range sl.items {
				if emit(it) != nil {
					break
				}
			}
		}
	}
	wg.Wait()
	err := <-readErr
	if fnErr != nil {
		return fnErr
	}
	return err
}

// A batch of hundreds of messages, or megabytes of input, fills the heap
// past its first collection several times over (a message allocates about
// 18 KB), so its heap is served from transparent huge pages where the
// system allows it (package thp): on a virtual machine a 4 KB page fault
// costs about 12 µs, a fifth of a 1,380-message batch's CPU time. That is
// decided as soon as the walk knows the input is that large, before the
// workers have touched much of the heap; once per process. A smaller
// batch (one message) does not pay the forced collection it costs.
const (
	hugeHeapFiles = 256
	hugeHeapInput = 2 << 20
	hugeHeapBytes = 16 << 20
)

var (
	hugeHeapOnce sync.Once
	// reserveHugeHeap is thp.Reserve (a variable for the tests).
	reserveHugeHeap = func() { _ = thp.Reserve(hugeHeapBytes) }
)

// expectInput is ParseAll's walk's expect: it asks for the huge-page heap
// once the input seen coming crosses either size.
func expectInput() func(files int, bytes int64) {
	files, bytes := 0, int64(0)
	return func(f int, b int64) {
		files += f
		bytes += b
		if files >= hugeHeapFiles || bytes >= hugeHeapInput {
			hugeHeapOnce.Do(reserveHugeHeap)
		}
	}
}

// Chunk sizes: enough messages that a hand-off is rare, few enough bytes
// that the chunks in flight stay small.
const (
	chunkSlots = 32
	chunkBytes = 1 << 20
)

// chunk is consecutive inputs of a batch, parsed together by one worker.
type chunk struct {
	slots []slot
	bytes int
	done  chan struct{}
}

func newChunk() *chunk {
	return &chunk{slots: make([]slot, 0, chunkSlots), done: make(chan struct{})}
}

// slot is one input: a message already read (in), or a directory member
// the worker reads (path; a small mbox gives several items). Its results
// are items; stream says the file is too large to read whole, so the
// consumer streams it.
type slot struct {
	in     Input
	path   string
	items  []Item
	stream bool
}

func (c *chunk) parse(max int64, mem *byteBudget) {
	buf := readBufs.Get().(*[]byte)
	defer readBufs.Put(buf)
	for i := range c.slots {
		sl := &c.slots[i]
		if sl.path == "" {
			sl.items = []Item{parseItem(sl.in)}
			mem.release(len(sl.in.Data))
			sl.in.Data = nil
			continue
		}
		ok, _ := readSmallFile(sl.path, max, buf, func(in Input) error {
			sl.items = append(sl.items, parseItem(in))
			return nil
		})
		sl.stream = !ok
	}
}

// readBufs are the workers' file buffers: a file is parsed before the
// next is read into the same buffer, so a run of small files allocates no
// buffer per file (a tenth of a Maildir run's allocation, and heap that a
// short process pays for in page faults).
var readBufs = sync.Pool{New: func() any { return new([]byte) }}

func parseItem(in Input) Item {
	it := Item{Name: in.Name, Size: in.Size, Truncated: in.Truncated}
	it.Bounce, it.Err = ParseInput(in)
	return it
}

// maxInFlight bounds the bytes of messages read but not yet parsed: with
// a few messages per worker in flight, a mailbox of large messages would
// otherwise hold several times DefaultMaxSize (issue 18: memory flat,
// RSS <= 100 MB, whatever the mailbox).
const maxInFlight = 12 << 20

// byteBudget is a counting semaphore on bytes; one message larger than
// the whole budget still goes through, alone.
type byteBudget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	used  int
	limit int
}

func newByteBudget(limit int) *byteBudget {
	b := &byteBudget{limit: limit}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *byteBudget) acquire(n int) {
	b.mu.Lock()
	for b.used > 0 && b.used+n > b.limit {
		b.cond.Wait()
	}
	b.used += n
	b.mu.Unlock()
}

func (b *byteBudget) release(n int) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// Record is one failed recipient of a batch: the jsonl contract of
// docs/contracts.md (file, recipient, action, status, reply_code, hard, category,
// ses_type, ses_subtype, smtp_command, remote_mta, diagnostic) and more.
type Record struct {
	File        string `json:"file"`
	Recipient   string `json:"recipient"`
	Action      string `json:"action"` // suppress, retry, fix-setup
	Status      string `json:"status"`
	ReplyCode   *int   `json:"reply_code"`
	Hard        bool   `json:"hard"`
	Category    string `json:"category"`
	SESType     string `json:"ses_type"`
	SESSubtype  string `json:"ses_subtype"`
	SMTPCommand string `json:"smtp_command"`
	RemoteMTA   string `json:"remote_mta"`
	Diagnostic  string `json:"diagnostic"`

	DSNAction    string   `json:"dsn_action"`
	Permanent    bool     `json:"permanent"`
	SMTPReject   bool     `json:"smtp_reject"`
	Origin       string   `json:"origin,omitempty"`
	Provider     string   `json:"provider,omitempty"`
	Meaning      string   `json:"meaning"`
	Checks       []string `json:"checks"`
	Kind         string   `json:"kind"`
	SenderDomain string   `json:"sender_domain,omitempty"`
	Date         string   `json:"date,omitempty"`
}

// NewRecord makes the record of one failure of b, read from file.
func NewRecord(file string, b *Bounce, f *Failure) Record {
	r := Record{File: file, Recipient: decodeAddress(f.Recipient), Action: f.Disposition, Status: f.Status, Hard: f.Hard,
		Category: f.Category, SESType: f.SESType, SESSubtype: f.SESSubtype, SMTPCommand: f.Command,
		RemoteMTA: f.RemoteMTA, Diagnostic: f.Diagnostic, DSNAction: f.DSNAction, Permanent: f.Permanent,
		SMTPReject: f.SMTPReject(), Origin: f.Origin, Provider: f.Provider, Meaning: f.Meaning, Checks: f.Checks,
		Kind: b.Kind, SenderDomain: b.SenderDomain, Date: f.LastAttempt}
	if r.Date == "" {
		r.Date = b.Date
	}
	if f.ReplyCode != 0 {
		n := f.ReplyCode
		r.ReplyCode = &n
	}
	if r.Checks == nil {
		r.Checks = []string{}
	}
	return r
}

// maxProblems bounds the problems a Summary lists (all are counted).
const maxProblems = 100

// Summary aggregates a batch: counts, bounce rate and the suppression
// list. Add every Item in order, then Finish.
type Summary struct {
	Schema     string `json:"schema"`
	Messages   int    `json:"messages"`
	Bounces    int    `json:"bounces"`     // messages reporting at least one failed recipient
	NotBounces int    `json:"not_bounces"` // delivery notices, feedback reports, auto-replies
	NoData     int    `json:"no_bounce_data"`
	// Unreadable: messages that could not be read or parsed; Incomplete:
	// messages read only in part (over a size limit or a recipient cap).
	Unreadable  int            `json:"unreadable"`
	Incomplete  int            `json:"incomplete"`
	Failures    int            `json:"failures"`   // failed (or delayed) recipient reports
	Recipients  int            `json:"recipients"` // distinct addresses that failed permanently or were given up on
	Hard        int            `json:"hard"`
	Soft        int            `json:"soft"`
	Delayed     int            `json:"delayed"`
	ByCategory  map[string]int `json:"by_category"`
	ByAction    map[string]int `json:"by_action"`
	ByDomain    map[string]int `json:"by_domain"`
	Sent        int            `json:"sent,omitempty"`
	BounceRate  *float64       `json:"bounce_rate_percent,omitempty"`
	RateWarning string         `json:"rate_warning,omitempty"`
	Problems    []string       `json:"problems,omitempty"`
	// MoreProblems counts problems past the first maxProblems.
	MoreProblems int      `json:"more_problems,omitempty"`
	Records      []Record `json:"records"`

	keep     bool
	failed   map[string]bool
	suppress map[string]Record
}

// NewSummary starts a summary; keepRecords keeps every record in Records
// (for outputs written at the end; a streamed output passes false).
func NewSummary(schema string, keepRecords bool) *Summary {
	return &Summary{Schema: schema, ByCategory: map[string]int{}, ByAction: map[string]int{}, ByDomain: map[string]int{},
		Records: []Record{}, keep: keepRecords, failed: map[string]bool{}, suppress: map[string]Record{}}
}

func (s *Summary) problem(format string, a ...any) {
	if len(s.Problems) < maxProblems {
		s.Problems = append(s.Problems, fmt.Sprintf(format, a...))
	} else {
		s.MoreProblems++
	}
}

// Add counts one message and returns its records (one per failed or
// delayed recipient).
func (s *Summary) Add(it Item) []Record {
	s.Messages++
	if it.Err != nil {
		s.Unreadable++
		s.problem("%s: could not be read: %v", it.Name, it.Err)
		return nil
	}
	b := it.Bounce
	if b.Truncated {
		s.Incomplete++
		for _, n := range b.Notes {
			if strings.Contains(n, "not read") || strings.Contains(n, "were read") {
				s.problem("%s: %s", it.Name, n)
			}
		}
	}
	switch b.Kind {
	case KindNotBounce:
		s.NotBounces++
		return nil
	case KindUnknown:
		s.NoData++
		s.problem("%s: no bounce data found", it.Name)
		return nil
	}
	var out []Record
	for i := range b.Failures {
		fl := &b.Failures[i]
		switch fl.DSNAction {
		case "delivered", "relayed", "expanded":
			continue
		}
		if out == nil {
			s.Bounces++
			out = make([]Record, 0, len(b.Failures)-i)
		}
		rec := NewRecord(it.Name, b, fl)
		s.Failures++
		s.ByCategory[rec.Category]++
		s.ByAction[rec.Action]++
		if d := fl.Domain(); d != "" {
			s.ByDomain[d]++
		} else {
			s.ByDomain["(unknown)"]++
		}
		switch {
		case fl.DSNAction == "delayed":
			s.Delayed++
		case fl.Hard:
			s.Hard++
		default:
			s.Soft++
		}
		if rec.Recipient != "" && (fl.DSNAction != "delayed" || rec.Hard) {
			key := AddressKey(rec.Recipient) // once: it allocates
			if fl.DSNAction != "delayed" {
				s.failed[key] = true
			}
			if rec.Hard {
				s.suppress[key] = rec // the latest report wins
			}
		}
		if s.keep {
			s.Records = append(s.Records, rec)
		}
		out = append(out, rec)
	}
	if out == nil {
		out = []Record{}
	}
	return out
}

// Finish computes the bounce rate when sent messages are known: above
// warnRate percent it sets RateWarning (the problem is then most likely
// on the sending side, not in the list) and returns true.
func (s *Summary) Finish(sent int, warnRate float64) bool {
	s.Recipients = len(s.failed)
	if sent <= 0 {
		return false
	}
	rate := 100 * float64(s.Recipients) / float64(sent)
	s.Sent, s.BounceRate = sent, &rate
	if rate <= warnRate {
		return false
	}
	s.RateWarning = fmt.Sprintf("%.1f%% of the %d messages sent bounced (%d recipients), more than %.0f%%: with this many bounces the problem is most likely on the sending side (authentication, blocklists, reputation), not with the addresses - look at the top categories and run deliverdoctor check on your domain",
		rate, sent, s.Recipients, warnRate)
	return true
}

// Suppression returns the hard-bounced addresses to stop mailing, one
// record per address (the latest report), sorted by address. The address
// is written as AddressKey gives it: the domain in lower case, the local
// part as it was (RFC 5321 2.4: only the receiving host may fold it).
func (s *Summary) Suppression() []Record {
	keys := make([]string, 0, len(s.suppress))
	for k := range s.suppress {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Record, 0, len(keys))
	for _, k := range keys {
		r := s.suppress[k]
		r.Recipient = k
		out = append(out, r)
	}
	return out
}

// AddressKey is an address with its domain in lower case and its local
// part unchanged: "John.Doe@Example.COM" -> "John.Doe@example.com".
func AddressKey(addr string) string {
	addr = strings.Trim(addr, "<> ")
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i+1] + strings.ToLower(addr[i+1:])
	}
	return addr
}
