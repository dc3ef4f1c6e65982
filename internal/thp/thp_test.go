package thp

import "testing"

func TestGodebugDisables(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"disablethp=1", true},
		{"disablethp=0", false},
		{"gctrace=1,disablethp=1", true},
		{"disablethp=1,gctrace=1", true},
		{"disablethp=1,disablethp=0", false}, // the last one wins
		{"disablethp=0,disablethp=1", true},
		{"xdisablethp=1", false},
		{"disablethp", false},
		{"disablethp=10", false},
		{",,disablethp=1,", true},
	} {
		if got := godebugDisables(tc.in); got != tc.want {
			t.Errorf("godebugDisables(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestReserveHonoursGodebug(t *testing.T) {
	t.Setenv("GODEBUG", "disablethp=1")
	if err := Reserve(4 << 20); err != errDisabled {
		t.Fatalf("Reserve with GODEBUG=disablethp=1: %v, want %v", err, errDisabled)
	}
}
