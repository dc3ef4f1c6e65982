// Package state remembers what the last run found, so that a cron job can
// stay silent when nothing changed and say exactly what did when something
// appeared or disappeared.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/deliverdoctor/deliverdoctor/internal/findings"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// Version of the state file format.
const Version = 1

// Item is one remembered finding. Its key is ID plus title: the title holds
// the specifics ("SPF needs 14 lookups"), so a number changing is a change.
type Item struct {
	ID       string            `json:"id"`
	Severity findings.Severity `json:"severity"`
	Title    string            `json:"title"`
}

func (i Item) key() string { return i.ID + "\x00" + i.Title }

// Target is what was found for one target.
type Target struct {
	Status   findings.Status `json:"status"`
	Checked  time.Time       `json:"checked"`
	Findings []Item          `json:"findings"`
}

// State is the state file's content.
type State struct {
	Version int               `json:"version"`
	Targets map[string]Target `json:"targets"`

	// updated holds the targets this run recorded: Store merges only these
	// into the file as it is then, so concurrent runs (shards) keep each
	// other's targets.
	updated map[string]struct{}
}

// Load reads a state file; a missing file is an empty state (the first run).
func Load(path string) (*State, error) {
	st := &State{Version: Version, Targets: map[string]Target{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("state file %s is not valid JSON: %w", path, err)
	}
	if st.Version != Version {
		return nil, fmt.Errorf("state file %s has version %d, want %d", path, st.Version, Version)
	}
	if st.Targets == nil {
		st.Targets = map[string]Target{}
	}
	return st, nil
}

// Save writes the state as Store does; see there.
func (s *State) Save(path string) error {
	f, _, err := Open(path)
	if err != nil {
		return err
	}
	return f.Store(s)
}

// Remembered reports findings worth remembering: everything but info.
func itemsOf(r *report.Report) []Item {
	var items []Item
	for _, f := range r.Findings {
		if f.Severity == findings.SeverityInfo {
			continue
		}
		items = append(items, Item{ID: f.ID, Severity: f.Severity, Title: f.Title})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].key() < items[j].key() })
	return items
}

// Change is what differs for one target since the last run.
type Change struct {
	Target      string          `json:"target"`
	New         bool            `json:"new"` // not in the previous state
	Was, Now    findings.Status `json:"-"`
	Appeared    []Item          `json:"appeared,omitempty"`
	Disappeared []Item          `json:"disappeared,omitempty"`
}

// Update compares reports with the state, records them, and returns the
// targets whose findings changed. A target seen for the first time counts as
// changed only if it has findings. Targets not in reports are kept, so
// sharded or partial runs can share one file.
func (s *State) Update(reports []*report.Report, now time.Time) []Change {
	var changes []Change
	for _, r := range reports {
		items := itemsOf(r)
		prev, seen := s.Targets[r.Target]
		c := Change{Target: r.Target, New: !seen, Was: prev.Status, Now: r.Status}
		old := map[string]Item{}
		for _, it := range prev.Findings {
			old[it.key()] = it
		}
		cur := map[string]bool{}
		for _, it := range items {
			cur[it.key()] = true
			if _, ok := old[it.key()]; !ok {
				c.Appeared = append(c.Appeared, it)
			}
		}
		for _, it := range prev.Findings {
			if !cur[it.key()] {
				c.Disappeared = append(c.Disappeared, it)
			}
		}
		if len(c.Appeared) > 0 || len(c.Disappeared) > 0 {
			changes = append(changes, c)
		}
		s.Targets[r.Target] = Target{Status: r.Status, Checked: now.UTC(), Findings: items}
		if s.updated == nil {
			s.updated = map[string]struct{}{}
		}
		s.updated[r.Target] = struct{}{}
	}
	return changes
}

// Summary is a one-line description of changes, for a mail subject.
func Summary(changes []Change) string {
	var app, dis int
	for _, c := range changes {
		app += len(c.Appeared)
		dis += len(c.Disappeared)
	}
	switch {
	case len(changes) == 1:
		return fmt.Sprintf("%s changed: %d new, %d resolved", changes[0].Target, app, dis)
	default:
		return fmt.Sprintf("%d targets changed: %d new findings, %d resolved", len(changes), app, dis)
	}
}
