// The release drop-in: its path and the release it pins.

package plan

import (
	"path"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/layout"
)

// dropInSuffix ends the path of every release drop-in, relative to the
// unit directory: the plan's one spelling of release.DropInPath, kept in
// step with it by a test, so the pure plan package need not import release.
const dropInSuffix = ".d/release.conf"

// dropInPath is the release drop-in of unit ("x@0.service.d/release.conf").
func dropInPath(unit string) string { return unit + dropInSuffix }

// PinnedRelease returns the release a drop-in pins its unit to: the last
// element of its WorkingDirectory= when that is ".../releases/<id>", else
// "".
func PinnedRelease(dropIn []byte) string {
	id := ""
	for line := range strings.SplitSeq(string(dropIn), "\n") {
		wd, ok := strings.CutPrefix(strings.TrimSpace(line), "WorkingDirectory=")
		if !ok {
			continue
		}
		wd = strings.TrimSuffix(strings.TrimSpace(wd), "/")
		if path.Base(path.Dir(wd)) == "releases" && layout.ValidReleaseID(path.Base(wd)) {
			id = path.Base(wd)
		} else {
			id = ""
		}
	}
	return id
}

// DropInUnit is the unit a release drop-in path belongs to
// ("x@0.service.d/release.conf" -> "x@0.service").
func DropInUnit(rel string) string { return strings.TrimSuffix(rel, dropInSuffix) }
