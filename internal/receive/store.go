package receive

import "sync"

// Store keeps the latest reports in memory (for serve's API), newest
// last, at most Max of them.
type Store struct {
	Max int
	mu  sync.Mutex
	rs  []*Report
}

// Add records a report, dropping the oldest beyond Max (default 100).
func (s *Store) Add(r *Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	max := s.Max
	if max <= 0 {
		max = 100
	}
	s.rs = append(s.rs, r)
	if len(s.rs) > max {
		s.rs = append([]*Report(nil), s.rs[len(s.rs)-max:]...)
	}
}

// List returns the reports kept, oldest first.
func (s *Store) List() []*Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Report{}, s.rs...)
}
