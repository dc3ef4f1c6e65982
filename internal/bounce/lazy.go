package bounce

import (
	"regexp"
	"sync"
)

// lazyRE is a regular expression compiled on first use. Every command of
// the binary initialises this package, and most never read a bounce, so the
// package-level expressions must not cost start-up time (issue 18: `explain`
// in well under 50 ms). TestLazyCompile proves they all compile.
type lazyRE struct {
	expr string
	once sync.Once
	re   *regexp.Regexp
}

var lazyAll []*lazyRE

// lazyRegexp registers expr; only at package initialisation.
func lazyRegexp(expr string) *lazyRE {
	l := &lazyRE{expr: expr}
	lazyAll = append(lazyAll, l)
	return l
}

func (l *lazyRE) Regexp() *regexp.Regexp {
	l.once.Do(func() { l.re = compileRE(l.expr) })
	return l.re
}

func (l *lazyRE) String() string             { return l.expr }
func (l *lazyRE) MatchString(s string) bool  { return l.Regexp().MatchString(s) }
func (l *lazyRE) FindString(s string) string { return l.Regexp().FindString(s) }
func (l *lazyRE) FindStringSubmatch(s string) []string {
	return l.Regexp().FindStringSubmatch(s)
}
func (l *lazyRE) FindAllString(s string, n int) []string {
	return l.Regexp().FindAllString(s, n)
}
func (l *lazyRE) FindAllStringIndex(s string, n int) [][]int {
	return l.Regexp().FindAllStringIndex(s, n)
}
func (l *lazyRE) ReplaceAllString(s, repl string) string {
	return l.Regexp().ReplaceAllString(s, repl)
}
