package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/deliverdoctor/deliverdoctor/internal/check"
	"github.com/deliverdoctor/deliverdoctor/internal/profile"
	"github.com/deliverdoctor/deliverdoctor/internal/report"
)

// flagChoices are the values shell completion offers for flags that take
// one of a fixed set, on whichever command has them.
func flagChoices() map[string][]string {
	return map[string][]string{
		"format":   report.Formats(),
		"fail-on":  {"warn", "fail"},
		"checks":   check.Selectable(),
		"profile":  profile.Profiles,
		"provider": {"gmail", "microsoft", "yahoo", "icloud", "ses"},
		"lists":    {"major", "all"},
	}
}

// registerCompletions makes `deliverdoctor completion` scripts complete
// the values of the flags above (--format j<TAB> → json, jsonl). A
// comma-separated flag (--checks spf,dk<TAB>) completes its last item.
func registerCompletions(root *cobra.Command) {
	choices := flagChoices()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		// Before the command runs, Flags() holds only the command's own
		// non-persistent flags (the parents' are merged in when it
		// runs): the set LocalNonPersistentFlags would copy, at a cost
		// paid at every start.
		local, persistent := c.Flags(), c.PersistentFlags()
		for name, values := range choices {
			f := local.Lookup(name)
			if f == nil {
				f = persistent.Lookup(name)
			}
			if f == nil {
				continue
			}
			values := values
			list := f.Value.Type() == "stringSlice"
			_ = c.RegisterFlagCompletionFunc(name, func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				prefix := ""
				if list {
					if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
						prefix = toComplete[:i+1]
					}
				}
				var out []string
				for _, v := range values {
					if strings.HasPrefix(prefix+v, toComplete) {
						out = append(out, prefix+v)
					}
				}
				d := cobra.ShellCompDirectiveNoFileComp
				if list {
					d |= cobra.ShellCompDirectiveNoSpace
				}
				return out, d
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
