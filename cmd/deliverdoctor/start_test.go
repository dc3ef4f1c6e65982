package main

import (
	"bytes"
	"strings"
	"testing"
)

// Each constructor in commands builds the command its entry names.
func TestCommandNamesInStep(t *testing.T) {
	for i, c := range commands {
		cmd := c.build(&App{IO: &IO{}})
		if cmd.Name() != c.name || len(cmd.Aliases) > 0 {
			t.Errorf("commands[%d] builds %q (aliases %v), its entry says %q", i, cmd.Name(), cmd.Aliases, c.name)
		}
	}
}

// A command line run on the root with only its command says what it says
// on the whole tree: help, usage errors and flag suggestions.
func TestRootForSameAsWholeTree(t *testing.T) {
	exec := func(full bool, args []string) (string, string, error) {
		var out, errb bytes.Buffer
		app := &App{IO: &IO{In: strings.NewReader(""), Out: &out, Err: &errb, Env: func(string) string { return "" }}}
		root := rootFor(app, args)
		if full {
			root = newRootCmd(app)
		}
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(&errb)
		err := root.Execute()
		return out.String(), errb.String(), err
	}
	var lines [][]string
	for _, c := range commands {
		lines = append(lines, []string{c.name, "--help"}, []string{c.name, "--formt", "json"})
	}
	lines = append(lines, []string{"explain"}, []string{"dkim", "verify", "--help"}, []string{"reports", "--help"})
	for _, args := range lines {
		o1, e1, err1 := exec(false, args)
		o2, e2, err2 := exec(true, args)
		if o1 != o2 || e1 != e2 || (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Errorf("%v: one command and the whole tree differ:\n%s%s%v\n----\n%s%s%v", args, o1, e1, err1, o2, e2, err2)
		}
		if len(rootFor(&App{IO: &IO{}}, args).Commands()) != 1 {
			t.Errorf("%v: built more than its command", args)
		}
	}
	// Anything else gets every command: the root's help lists them all.
	for _, args := range [][]string{nil, {"--help"}, {"help"}, {"--offline", "check"}, {"chekc"}, {"__complete", "ch"}} {
		if n := len(rootFor(&App{IO: &IO{}}, args).Commands()); n != len(commands) {
			t.Errorf("%v: %d commands, want all %d", args, n, len(commands))
		}
	}
}
