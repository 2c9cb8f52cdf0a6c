package audit

import (
	"fmt"
	"strconv"
	"strings"
)

// AtLeast reports whether the semantic version have ("v0.52.0",
// "v0.59.1-0.2026...") is want or newer, comparing major, minor and patch.
// A pre-release of want counts as older than want.
func AtLeast(have, want string) (bool, error) {
	h, hpre, err := parseVersion(have)
	if err != nil {
		return false, err
	}
	w, _, err := parseVersion(want)
	if err != nil {
		return false, err
	}
	for i := range h {
		if h[i] != w[i] {
			return h[i] > w[i], nil
		}
	}
	return !hpre, nil
}

func parseVersion(v string) (nums [3]int, pre bool, err error) {
	s, ok := strings.CutPrefix(v, "v")
	if !ok {
		return nums, false, fmt.Errorf("version %q: no leading v", v)
	}
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		pre = s[i] == '-'
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nums, false, fmt.Errorf("version %q: want vMAJOR.MINOR.PATCH", v)
	}
	for i, p := range parts {
		if nums[i], err = strconv.Atoi(p); err != nil {
			return nums, false, fmt.Errorf("version %q: %w", v, err)
		}
	}
	return nums, pre, nil
}
