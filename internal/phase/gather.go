package phase

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/systemd"
	"github.com/openimsdk/openim-deploy/internal/target"
)

// Gather reads each host's current state without changing anything: the
// current release and its file hashes, the installed unit files, and
// systemd's view of every unit. Two round trips per host.
type Gather struct{}

// Title implements Phase.
func (Gather) Title() string { return "Gather state" }

// Run implements Phase.
func (Gather) Run(ctx context.Context, r *Run) error {
	lay := layout.Layout{Root: r.Config.Playbook.App.Root}
	local := NewLocalFiles()
	return r.EachHost(ctx, func(ctx context.Context, h *Host) error {
		d, err := BuildDesired(r.Config, h.Placement, local)
		if err != nil {
			h.Fail(OutcomeFailed, err)
			return err
		}
		h.Desired = d
		a, err := gatherActual(ctx, target.ReadOnly(h.Target), lay, d, h.Config.Become)
		if err != nil {
			h.Fail(OutcomeFailed, err)
			return fmt.Errorf("gather state: %w", err)
		}
		h.Actual = a
		return nil
	})
}

// gatherScript prints the current release, the sha256 of every file in it
// and each named unit file with its length. It is a constant: paths arrive
// as positional parameters, never inside the script text.
const gatherScript = `root=$1; shift
cur=$(readlink "$root/current" 2>/dev/null) && printf 'release %s\n' "${cur##*/}"
printf '::files\n'
if [ -d "$root/current/" ]; then
  (cd "$root/current/" && find . -type f -exec sha256sum {} + 2>/dev/null)
fi
printf '::units\n'
for f in "$@"; do
  if [ -f "$f" ]; then
    printf 'unit %s %s\n' "$f" "$(wc -c < "$f" | tr -d ' ')"
    cat "$f"
  fi
done
`

func gatherActual(ctx context.Context, t target.Target, lay layout.Layout, d plan.Desired, sudo bool) (plan.Actual, error) {
	args := []string{"sh", "-c", gatherScript, "sh", lay.Root}
	for _, uf := range d.UnitFiles {
		args = append(args, layout.UnitPath(uf.Name))
	}
	// Secret environment files are root-only, so hashing them needs sudo.
	res, err := t.Run(ctx, target.Cmd{Args: args, Sudo: sudo, ReadOnly: true})
	if err != nil {
		return plan.Actual{}, err
	}
	a, err := parseGather(res.Stdout)
	if err != nil {
		return a, err
	}
	names := []string{d.Target}
	for _, u := range d.Units {
		names = append(names, u.Names...)
	}
	states, err := systemd.Show(ctx, t, names...)
	if err != nil {
		return a, err
	}
	a.Units = map[string]plan.UnitState{}
	for i, st := range states {
		name := st.ID
		if name == "" && i < len(names) {
			name = names[i]
		}
		a.Units[name] = unitState(st)
	}
	return a, nil
}

func unitState(st systemd.UnitState) plan.UnitState {
	return plan.UnitState{Active: st.Active(), Enabled: st.Enabled(), Failed: st.ActiveState == "failed"}
}

// parseGather parses gatherScript's output.
func parseGather(out []byte) (plan.Actual, error) {
	a := plan.Actual{Files: map[string]string{}, UnitFiles: map[string][]byte{}}
	section := ""
	for len(out) > 0 {
		line, rest, _ := bytes.Cut(out, []byte("\n"))
		out = rest
		s := string(line)
		switch {
		case s == "::files" || s == "::units":
			section = s
		case section == "" && strings.HasPrefix(s, "release "):
			a.Release = strings.TrimPrefix(s, "release ")
		case section == "::files":
			sum, rel, ok := strings.Cut(s, "  ")
			if !ok || len(sum) != 64 {
				continue // sha256sum escapes odd names with a leading backslash: not ours
			}
			a.Files[strings.TrimPrefix(rel, "./")] = sum
		case section == "::units" && strings.HasPrefix(s, "unit "):
			fields := strings.Fields(s)
			if len(fields) != 3 {
				return a, fmt.Errorf("gather: bad unit header %q", s)
			}
			n, err := strconv.Atoi(fields[2])
			if err != nil || n > len(out) {
				return a, fmt.Errorf("gather: bad unit length in %q", s)
			}
			name := fields[1][strings.LastIndexByte(fields[1], '/')+1:]
			a.UnitFiles[name] = append([]byte(nil), out[:n]...)
			out = out[n:]
		}
	}
	return a, nil
}
