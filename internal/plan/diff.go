// UnitDiff and the short forms of hashes and sizes the plan prints.

package plan

import (
	"fmt"

	"github.com/pmezard/go-difflib/difflib"
)

// UnitDiff returns a unified diff of a unit file; old nil means a new file.
func UnitDiff(name string, old, cur []byte) string {
	from := "/dev/null"
	if old != nil {
		from = "a/" + name
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(old)),
		B:        difflib.SplitLines(string(cur)),
		FromFile: from,
		ToFile:   "b/" + name,
		Context:  2,
	})
	if err != nil {
		return ""
	}
	return text
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
