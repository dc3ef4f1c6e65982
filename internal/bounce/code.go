package bounce

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// Code is an RFC 3463 enhanced status code, class.subject.detail.
type Code struct {
	Class, Subject, Detail int
}

// String formats the code as "5.7.26".
func (c Code) String() string {
	if c.Class == 0 {
		return ""
	}
	// A code is printed several times per failure (knowledge-base keys,
	// the reply text's prefixes): the usual ones are printed once per
	// process.
	if k := classIndex(c.Class); k >= 0 && uint(c.Subject) < 10 && uint(c.Detail) < 100 {
		p := &codeStrings[k][c.Subject][c.Detail]
		if s := p.Load(); s != nil {
			return *s
		}
		s := c.format()
		p.Store(&s)
		return s
	}
	return c.format()
}

// codeStrings holds the printed codes of classes 2, 4 and 5 with a
// subject under 10 and a detail under 100, as they are first printed.
var codeStrings [3][10][100]atomic.Pointer[string]

func classIndex(class int) int {
	switch class {
	case 2:
		return 0
	case 4:
		return 1
	case 5:
		return 2
	}
	return -1
}

// format prints c (not fmt.Sprintf: it allocated more).
func (c Code) format() string {
	b := make([]byte, 0, 16)
	b = strconv.AppendInt(b, int64(c.Class), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(c.Subject), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(c.Detail), 10)
	return string(b)
}

// IsZero reports whether c is the zero value (no code).
func (c Code) IsZero() bool { return c.Class == 0 }

// Permanent reports a 5.x.x code (RFC 3463 3.1: permanent failure).
func (c Code) Permanent() bool { return c.Class == 5 }

// Transient reports a 4.x.x code (RFC 3463 3.1: persistent transient failure).
func (c Code) Transient() bool { return c.Class == 4 }

// Generic reports a code that carries only its class and subject (X.Y.0) or
// only its class (X.0.0): the detail says nothing more specific.
func (c Code) Generic() bool { return c.Detail == 0 }

// ParseCode parses an enhanced status code. RFC 3463 2: class is 2, 4 or 5;
// subject and detail are 1 to 3 digits without leading zeros ("0" alone is
// fine). Leading zeros are tolerated on input and normalised away.
func ParseCode(s string) (Code, error) {
	t := strings.TrimSpace(s)
	if strings.Count(t, ".") != 2 {
		return Code{}, fmt.Errorf("%q is not an enhanced status code (want class.subject.detail, like 5.7.26)", s)
	}
	// Cut, not Split: no slice per code read.
	var parts [3]string
	var rest string
	parts[0], rest, _ = strings.Cut(t, ".")
	parts[1], parts[2], _ = strings.Cut(rest, ".")
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 3 || strings.TrimLeft(p, "0123456789") != "" {
			return Code{}, fmt.Errorf("%q is not an enhanced status code (want class.subject.detail, like 5.7.26)", s)
		}
		n[i], _ = strconv.Atoi(p)
	}
	if len(parts[0]) != 1 || (n[0] != 2 && n[0] != 4 && n[0] != 5) {
		return Code{}, fmt.Errorf("%q: the class must be 2, 4 or 5 (RFC 3463 3.1)", s)
	}
	return Code{n[0], n[1], n[2]}, nil
}

// madeUp reports codes that some tools invent when a bounce has none:
// Sisimai's x.0.9xx ("5.0.911" for user unknown, ...). RFC 3463 defines no
// detail above 0 for subject 0, so treat them as "no code".
func (c Code) madeUp() bool { return c.Subject == 0 && c.Detail >= 900 }
