package sim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/layout"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// The write half of a simulated host, for tests only: the scripts and
// systemctl calls apply sends to change a host (prepare, upload,
// finalize, install, restart, record, switch, audit), answered by
// changing the host's State the way each script changes a real host, as
// far as the next gather can tell. Reads still go to the Interpreter, so
// a run that applied here is planned again from the same protocol.
//
// A hostSim is a target.Target of its own, in process: files "uploaded"
// land in State.Files, TCP probes reach a port while the unit that
// listens on it runs. Nothing goes through SSH or the network, so a whole
// apply runs inside a testing/synctest bubble, on fake time: health gates
// and stable windows pass without the test waiting for them.

// restartEvent is one (re)start call: when (bubble time), where, which
// units, in one systemctl call; or the units a start of Via (the app
// target) started because it wants them.
type restartEvent struct {
	At    time.Time
	Host  string
	Units []string
	Via   string
}

// hostSim simulates one host's write side and is its target.
type hostSim struct {
	h  *Host
	in *Interpreter
	s  *State

	mu       sync.Mutex
	dirs     map[string]bool // directories made empty (State keeps only files)
	nextPID  int
	restarts []restartEvent
	uploads  []string
	// clock, when set, stamps restart events (the bubble's time.Now).
	clock func() time.Time
}

func newHostSim(h *Host) *hostSim {
	return &hostSim{h: h, in: h.Interp, s: h.State, dirs: map[string]bool{}, nextPID: 5000, clock: time.Now}
}

var _ target.Target = (*hostSim)(nil)

func (w *hostSim) String() string { return w.h.Name + " (simulated in process)" }
func (w *hostSim) Name() string   { return w.h.Name }
func (w *hostSim) Close() error   { return nil }

// Run implements target.Target.
func (w *hostSim) Run(ctx context.Context, cmd target.Cmd) (target.Result, error) {
	stdin := cmd.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	code := w.run(ctx, cmd.Args, stdin, &out, &errb)
	res := target.Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	if code != 0 {
		return res, &target.ExitError{Host: w.h.Name, Cmd: cmd.String(), Code: code, Stderr: target.TailString(errb.Bytes())}
	}
	return res, nil
}

// Stream implements target.Target: apply streams nothing.
func (w *hostSim) Stream(context.Context, target.Cmd, io.Writer, io.Writer) error {
	return errors.New("sim: streaming is not simulated")
}

// WriteFile implements target.Target, as SFTP does: the parent directory
// must exist.
func (w *hostSim) WriteFile(ctx context.Context, p string, r io.Reader, _ fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if dir := path.Dir(p); !w.dirs[dir] && !w.s.isDir(dir) {
		return &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	w.s.Files[p] = data
	w.uploads = append(w.uploads, p)
	return nil
}

// ReadFile implements target.Target.
func (w *hostSim) ReadFile(_ context.Context, p string) ([]byte, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	b, ok := w.s.Files[p]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return bytes.Clone(b), nil
}

// Stat implements target.Target: "/" and the directories of the State
// (the SFTP probe asks for "/").
func (w *hostSim) Stat(_ context.Context, p string) (fs.FileInfo, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if b, ok := w.s.Files[p]; ok {
		return simInfo{name: path.Base(p), size: int64(len(b))}, nil
	}
	if p == "/" || w.s.isDir(p) {
		return simInfo{name: path.Base(p), dir: true}, nil
	}
	return nil, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
}

type simInfo struct {
	name string
	size int64
	dir  bool
}

func (i simInfo) Name() string { return i.name }
func (i simInfo) Size() int64  { return i.size }
func (i simInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i simInfo) ModTime() time.Time { return time.Time{} }
func (i simInfo) IsDir() bool        { return i.dir }
func (i simInfo) Sys() any           { return nil }

// DialContext implements target.Target for TCP health probes: a port
// accepts while a unit that listens on it runs.
func (w *hostSim) DialContext(_ context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	w.s.mu.Lock()
	open := slices.Contains(w.s.listening(), n)
	w.s.mu.Unlock()
	if !open {
		return nil, fmt.Errorf("dial %s %s: connect: connection refused", network, addr)
	}
	c, other := net.Pipe()
	_ = other.Close()
	return c, nil
}

// restartLog returns the (re)start calls so far.
func (w *hostSim) restartLog() []restartEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.restarts)
}

// uploaded returns every path written as SFTP would.
func (w *hostSim) uploaded() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.uploads)
}

// run answers one command: the write side here, everything else by the
// Interpreter (which records what it does not know).
func (w *hostSim) run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	args = stripSudo(args)
	if len(args) > 0 && args[0] == "systemctl" {
		var out bytes.Buffer
		code := w.systemctl(args[1:], &out, stderr)
		_, _ = stdout.Write(out.Bytes())
		return code
	}
	if len(args) >= 3 && args[0] == "sh" && args[1] == "-c" && args[2] != target.ScriptWrapper {
		var out bytes.Buffer
		if code, ok := w.script(args[2], args[min(len(args), 4):], stdin, &out, stderr); ok {
			_, _ = stdout.Write(out.Bytes())
			return code
		}
	}
	return w.in.Run(ctx, args, stdin, stdout, stderr)
}

// Marks of the write scripts: each one's usage line.
const (
	ownMark      = "# own.sh STATEDIR"
	prepareMark  = "# prepare.sh ROOT ID"
	finalizeMark = "# finalize.sh ROOT ID"
	installMark  = "# install.sh DIR APP"
	switchMark   = "# switch.sh ROOT ID"
	recordMark   = "# record.sh STATEDIR"
	auditMark    = "# audit.sh STATEDIR"
	cleanMark    = "# clean.sh ROOT"
	credsMark    = "# creds.sh STATEDIR DIR"
	restartMark  = `exec systemctl restart -- "$@"`
)

// script answers a write script; ok is false for a script it does not
// simulate, which then goes to the Interpreter. A composed program is
// answered part by part here, so its write parts (the audit line that
// rides on the lock's release) are simulated too.
func (w *hostSim) script(script string, args []string, stdin io.Reader, out *bytes.Buffer, stderr io.Writer) (int, bool) {
	if strings.HasPrefix(script, composedPrefix) {
		w.in.count("composed")
		return w.composed(script, args, out, stderr), true
	}
	var statedir string
	if strings.Contains(script, ownMark) {
		if len(args) == 0 {
			fmt.Fprintln(stderr, "own: no state directory")
			return 2, true
		}
		statedir, args = args[0], args[1:]
	}
	for _, s := range []struct {
		mark, kind string
		fn         func() int
	}{
		{prepareMark, "prepare", func() int { return w.prepare(statedir, args, stderr) }},
		{finalizeMark, "finalize", func() int { return w.finalize(args, stdin, stderr) }},
		{installMark, "install", func() int { return w.install(statedir, args, stdin, out, stderr) }},
		{switchMark, "switch", func() int { return w.switchCurrent(statedir, args, stderr) }},
		{recordMark, "record", func() int { return w.record(args, stderr) }},
		{auditMark, "audit", func() int { return w.audit(args, stderr) }},
		{cleanMark, "clean", func() int { return w.clean(args, stderr) }},
		{credsMark, "creds", func() int { return w.creds(args, stdin, stderr) }},
		{restartMark, "restart", func() int { return w.restart(args, stderr) }},
	} {
		if strings.Contains(script, s.mark) {
			w.in.count(s.kind)
			return s.fn(), true
		}
	}
	return 0, false
}

// composed is Interpreter.composed with each part answered by script, or
// by the Interpreter when script does not simulate it.
func (w *hostSim) composed(script string, args []string, out *bytes.Buffer, stderr io.Writer) int {
	calls := partCall.FindAllStringSubmatch(script, -1)
	if len(calls) == 0 {
		return w.in.refuse(stderr, script)
	}
	for i, c := range calls {
		start := fmt.Sprintf("__openim_part%d() {\n", i)
		end := fmt.Sprintf("\n}\n__openim_part%d() {\n", i+1)
		if i == len(calls)-1 {
			end = "\n}\n( "
		}
		_, body, ok := strings.Cut(script, start)
		body, _, ok2 := strings.Cut(body, end)
		if !ok || !ok2 || c[2] != strconv.Itoa(i) {
			return w.in.refuse(stderr, script)
		}
		var partArgs []string
		if c[4] != "" {
			k, _ := strconv.Atoi(c[1])
			partArgs = args[min(k, len(args)):]
		} else {
			for _, m := range partArg.FindAllStringSubmatch(c[3], -1) {
				n, _ := strconv.Atoi(m[1])
				if n < 1 || n > len(args) {
					return w.in.refuse(stderr, script)
				}
				partArgs = append(partArgs, args[n-1])
			}
		}
		rc, ok := w.script(body, partArgs, strings.NewReader(""), out, stderr)
		if !ok {
			rc = w.in.script(body, partArgs, strings.NewReader(""), out, stderr)
		}
		fmt.Fprintf(out, "\n%s%d\n", partRCMarker, rc)
	}
	return 0
}

// own is own.sh's own(): paths appended to STATEDIR/owned, once each.
// s.mu must be held.
func (w *hostSim) own(statedir string, paths ...string) {
	rec := path.Join(statedir, "owned")
	have := map[string]bool{}
	for l := range strings.Lines(string(w.s.Files[rec])) {
		have[strings.TrimSuffix(l, "\n")] = true
	}
	b := w.s.Files[rec]
	for _, p := range paths {
		if !have[p] {
			have[p] = true
			b = append(b, p+"\n"...)
		}
	}
	w.s.Files[rec] = b
}

// exists reports whether p is a file, or a directory made or holding
// something. w.mu and s.mu must be held.
func (w *hostSim) exists(p string) bool {
	_, f := w.s.Files[p]
	return f || w.dirs[p] || w.s.isDir(p)
}

// removeTree deletes p and everything below it. w.mu and s.mu must be held.
func (w *hostSim) removeTree(p string) {
	for f := range w.s.Files {
		if f == p || strings.HasPrefix(f, p+"/") {
			delete(w.s.Files, f)
		}
	}
	for l := range w.s.Links {
		if l == p || strings.HasPrefix(l, p+"/") {
			delete(w.s.Links, l)
		}
	}
	for d := range w.dirs {
		if d == p || strings.HasPrefix(d, p+"/") {
			delete(w.dirs, d)
		}
	}
}

// partials returns the partial releases under root. w.mu and s.mu must be held.
func (w *hostSim) partials(root string) []string {
	rels := path.Join(root, "releases")
	var out []string
	seen := map[string]bool{}
	for _, n := range w.s.listDir(rels) {
		seen[n] = true
	}
	for d := range w.dirs {
		if path.Dir(d) == rels {
			seen[path.Base(d)] = true
		}
	}
	for n := range seen {
		if strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".partial") {
			out = append(out, path.Join(rels, n))
		}
	}
	slices.Sort(out)
	return out
}

// prepare is prepare.sh ROOT ID OWNER APPUSER DIR... [::link SRC DST MODE ...].
func (w *hostSim) prepare(statedir string, args []string, stderr io.Writer) int {
	if len(args) < 4 {
		fmt.Fprintln(stderr, "prepare: too few arguments")
		return 2
	}
	root, id := args[0], args[1]
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.exists(root) {
		w.own(statedir, root+"/releases")
	} else {
		w.own(statedir, root, root+"/releases")
	}
	w.dirs[root] = true
	w.dirs[root+"/releases"] = true
	for _, p := range w.partials(root) {
		w.removeTree(p)
	}
	if w.exists(path.Join(root, "releases", id)) {
		fmt.Fprintf(stderr, "release %s already exists\n", id)
		return 1
	}
	next := path.Join(root, "releases", "."+id+".partial")
	w.dirs[next] = true
	rest := args[4:]
	for len(rest) > 0 && rest[0] != "::link" {
		w.dirs[path.Join(next, rest[0])] = true
		rest = rest[1:]
	}
	if len(rest) > 0 {
		rest = rest[1:]
	}
	for ; len(rest) > 2; rest = rest[3:] {
		src, dst := path.Join(root, "releases", rest[0]), path.Join(next, rest[1])
		b, ok := w.s.Files[src]
		if !ok {
			fmt.Fprintf(stderr, "cp: cannot stat '%s': No such file or directory\n", src)
			return 1
		}
		w.s.Files[dst] = b
	}
	return 0
}

// finalize is finalize.sh ROOT ID APPUSER [SRC DST ...] [::own PATH ...]
// [::check PATH ...] < MANIFEST: it checks the files sent against the
// manifest, as the script does, before renaming the release into place.
func (w *hostSim) finalize(args []string, stdin io.Reader, stderr io.Writer) int {
	if len(args) < 3 {
		fmt.Fprintln(stderr, "finalize: too few arguments")
		return 2
	}
	manifest, err := io.ReadAll(stdin)
	if err != nil {
		return 1
	}
	root, id := args[0], args[1]
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	next := path.Join(root, "releases", "."+id+".partial")
	if !w.exists(next) {
		fmt.Fprintf(stderr, "finalize: %s: No such file or directory\n", next)
		return 1
	}
	rest := args[3:]
	for len(rest) > 1 && rest[0] != "::own" && rest[0] != "::check" {
		b, ok := w.s.Files[path.Join(next, rest[0])]
		if !ok {
			fmt.Fprintf(stderr, "cp: cannot stat '%s'\n", path.Join(next, rest[0]))
			return 1
		}
		w.s.Files[path.Join(next, rest[1])] = b
		rest = rest[2:]
	}
	w.s.Files[path.Join(next, ".manifest")] = manifest
	if len(rest) > 0 && rest[0] == "::own" {
		for rest = rest[1:]; len(rest) > 0 && rest[0] != "::check"; rest = rest[1:] {
		}
	}
	if len(rest) > 1 && rest[0] == "::check" {
		want := map[string]string{}
		for l := range strings.Lines(string(manifest)) {
			if sum, rel, ok := strings.Cut(strings.TrimSuffix(l, "\n"), "  "); ok {
				want[rel] = sum
			}
		}
		for _, rel := range rest[1:] {
			sum := sha256.Sum256(w.s.Files[path.Join(next, rel)])
			if _, ok := w.s.Files[path.Join(next, rel)]; !ok || hex.EncodeToString(sum[:]) != want[rel] {
				fmt.Fprintln(stderr, "finalize: a file sent does not match its SHA-256 (truncated or corrupted upload)")
				return 3
			}
		}
	}
	final := path.Join(root, "releases", id)
	for f, b := range w.s.Files {
		if rel, ok := strings.CutPrefix(f, next+"/"); ok {
			delete(w.s.Files, f)
			w.s.Files[path.Join(final, rel)] = b
		}
	}
	for d := range w.dirs {
		if rel, ok := strings.CutPrefix(d, next); ok {
			delete(w.dirs, d)
			w.dirs[final+rel] = true
		}
	}
	return 0
}

// install is install.sh DIR APP [RELOAD [UNIT...] [::show UNIT...]] < RECORDS.
func (w *hostSim) install(statedir string, args []string, stdin io.Reader, out *bytes.Buffer, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "install: too few arguments")
		return 2
	}
	dir, app := args[0], args[1]
	type put struct {
		rel  string
		data []byte
	}
	var puts []put
	var dels []string
	br := bufio.NewReader(stdin)
	for {
		line, err := br.ReadString('\n')
		if line == "" && err != nil {
			break
		}
		f := strings.Fields(line)
		if len(f) != 5 {
			fmt.Fprintf(stderr, "install: bad record %q\n", line)
			return 2
		}
		rel := f[4]
		if rel == "" || strings.HasPrefix(rel, "/") || slices.Contains(strings.Split(rel, "/"), "..") {
			fmt.Fprintf(stderr, "install: refusing path '%s'\n", rel)
			return 2
		}
		switch f[0] {
		case "put":
			size, err := strconv.Atoi(f[2])
			if err != nil {
				return 2
			}
			data := make([]byte, size)
			if n, _ := io.ReadFull(br, data); n != size {
				fmt.Fprintf(stderr, "install: %s: received %d bytes of %d\n", rel, n, size)
				return 3
			}
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f[3] {
				fmt.Fprintln(stderr, "install: sha256 mismatch")
				return 3
			}
			puts = append(puts, put{rel, data})
		case "del":
			dels = append(dels, rel)
		default:
			fmt.Fprintf(stderr, "install: unknown record '%s'\n", f[0])
			return 2
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	// Nothing is replaced or removed that is not the app's.
	var rels []string
	for _, p := range puts {
		rels = append(rels, p.rel)
	}
	for _, rel := range append(rels, dels...) {
		p := path.Join(dir, rel)
		if to, ok := w.s.Links[p]; ok {
			fmt.Fprintf(stderr, "install: %s exists and was not written by openim-deploy for app %s (a link to %s): refusing to replace it\n", p, app, to)
			return 5
		}
		if b, ok := w.s.Files[p]; ok {
			first, _, _ := strings.Cut(string(b), "\n")
			if other, ok := unit.ParseHeader(first); !ok || (other != "" && other != app) {
				fmt.Fprintf(stderr, "install: %s exists and was not written by openim-deploy for app %s (first line: %q): refusing to replace it\n", p, app, first)
				return 5
			}
		}
	}
	var owned []string
	for _, p := range puts {
		dst := path.Join(dir, p.rel)
		if strings.Contains(p.rel, "/") {
			owned = append(owned, path.Dir(dst))
		}
		owned = append(owned, dst)
	}
	if len(owned) > 0 {
		w.own(statedir, owned...)
	}
	for _, p := range puts {
		w.s.Files[path.Join(dir, p.rel)] = p.data
	}
	for _, rel := range dels {
		delete(w.s.Files, path.Join(dir, rel))
	}
	rest := args[2:]
	if len(rest) == 0 || rest[0] != "reload" {
		return 0
	}
	rest = rest[1:]
	var enable []string
	for len(rest) > 0 && rest[0] != "::show" {
		enable, rest = append(enable, rest[0]), rest[1:]
	}
	if len(enable) > 0 {
		if code := w.enable(dir, app, enable, stderr); code != 0 {
			return 4
		}
	}
	if len(rest) > 1 {
		w.s.systemctlShow(out, []string{"Id", "NeedDaemonReload"}, rest[1:])
	}
	return 0
}

// unitFileOf is the unit file that defines name: its template for an
// instance.
func unitFileOf(name string) string {
	if base, inst, ok := strings.Cut(name, "@"); ok && strings.TrimSuffix(inst, ".service") != "" {
		return base + "@.service"
	}
	return name
}

// enable is "systemctl enable --no-reload -- UNITS" in dir, with the
// links "WantedBy=<app>.target" makes. s.mu must be held.
func (w *hostSim) enable(dir, app string, units []string, stderr io.Writer) int {
	for _, u := range units {
		text, ok := w.s.Files[path.Join(dir, unitFileOf(u))]
		if !ok {
			fmt.Fprintf(stderr, "Failed to enable unit: Unit file %s does not exist.\n", u)
			return 1
		}
		st := w.s.Units[u]
		if st.ActiveState == "" {
			st.ActiveState, st.SubState = "inactive", "dead"
		}
		st.UnitFileState = "enabled"
		w.s.Units[u] = st
		if wantedBy(text, app+".target") {
			w.s.Links[path.Join(dir, app+".target.wants", u)] = "../" + unitFileOf(u)
		}
	}
	return 0
}

// restart is "systemctl reset-failed -- UNITS; exec systemctl restart --
// UNITS" (and a task's plain "systemctl restart -- UNIT").
func (w *hostSim) restart(units []string, stderr io.Writer) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	dir := layout.UnitDir
	for _, u := range units {
		if _, ok := w.s.Files[path.Join(dir, unitFileOf(u))]; !ok {
			fmt.Fprintf(stderr, "Failed to restart %s: Unit %s not found.\n", u, u)
			return 5
		}
	}
	w.restarts = append(w.restarts, restartEvent{At: w.clock(), Host: w.h.Name, Units: slices.Clone(units)})
	var failed []string
	for _, u := range units {
		if !w.startLocked(u) {
			failed = append(failed, u)
		}
	}
	for _, u := range failed {
		fmt.Fprintf(stderr, "Job for %s failed because the control process exited with error code.\n", u)
	}
	if len(failed) > 0 {
		return 1
	}
	return 0
}

// startLocked (re)starts unit u, whose unit file exists, and reports
// whether it came up: a task runs and stays active (RemainAfterExit), a
// service gets a new main process in the directory its drop-in pins, and
// fails when that directory is not there. w.mu and s.mu must be held.
func (w *hostSim) startLocked(u string) bool {
	text := w.s.Files[path.Join(layout.UnitDir, unitFileOf(u))]
	st := w.s.Units[u]
	delete(w.s.Procs, st.MainPID)
	st.MainPID = 0
	defer func() { w.s.Units[u] = st }()
	if directive(text, "Type") == "oneshot" {
		st.ActiveState, st.SubState = "active", "exited"
		return true
	}
	wd := directive(w.s.Files[path.Join(layout.UnitDir, u+".d", "release.conf")], "WorkingDirectory")
	if wd != "" && !w.exists(wd) {
		st.ActiveState, st.SubState = "failed", "failed"
		return false
	}
	w.nextPID++
	st.ActiveState, st.SubState, st.MainPID = "active", "running", w.nextPID
	w.s.Procs[st.MainPID] = wd
	return true
}

// start is "systemctl start -- UNITS": each unit not active starts, and
// so does every unit its Wants= name that is not (the app target starts
// every unit of the app), as one more event in the log.
func (w *hostSim) start(units []string, stderr io.Writer) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	for _, u := range units {
		if _, ok := w.s.Files[path.Join(layout.UnitDir, unitFileOf(u))]; !ok {
			fmt.Fprintf(stderr, "Failed to start %s: Unit %s not found.\n", u, u)
			return 5
		}
	}
	var wanted []string
	for _, u := range units {
		for _, v := range directives(w.s.Files[path.Join(layout.UnitDir, unitFileOf(u))], "Wants") {
			for _, n := range strings.Fields(v) {
				if w.s.Units[n].ActiveState != "active" && !slices.Contains(wanted, n) {
					wanted = append(wanted, n)
				}
			}
		}
		if st := w.s.Units[u]; st.ActiveState != "active" {
			if strings.HasSuffix(u, ".target") {
				st.ActiveState, st.SubState = "active", "active"
				w.s.Units[u] = st
			} else if !w.startLocked(u) {
				fmt.Fprintf(stderr, "Job for %s failed because the control process exited with error code.\n", u)
				return 1
			}
		}
	}
	if len(wanted) > 0 {
		w.restarts = append(w.restarts, restartEvent{At: w.clock(), Host: w.h.Name, Units: wanted, Via: strings.Join(units, " ")})
		for _, n := range wanted {
			if _, ok := w.s.Files[path.Join(layout.UnitDir, unitFileOf(n))]; ok {
				w.startLocked(n)
			}
		}
	}
	return 0
}

// systemctl answers the systemctl calls apply makes without a script.
func (w *hostSim) systemctl(args []string, out *bytes.Buffer, stderr io.Writer) int {
	switch {
	case len(args) >= 4 && args[0] == "show" && args[1] == "-p" && args[3] == "--":
		w.in.count("systemctl show")
		w.s.mu.Lock()
		defer w.s.mu.Unlock()
		w.s.systemctlShow(out, strings.Split(args[2], ","), args[4:])
		return 0
	case len(args) == 1 && args[0] == "daemon-reload":
		w.in.count("systemctl daemon-reload")
		return 0
	case len(args) >= 3 && args[1] == "--":
		w.in.count("systemctl " + args[0])
		units := args[2:]
		switch args[0] {
		case "restart":
			return w.restart(units, stderr)
		case "start":
			return w.start(units, stderr)
		case "reset-failed":
			return 0
		}
	}
	return w.in.refuse(stderr, "systemctl "+strings.Join(args, " "))
}

// record is record.sh STATEDIR TASK FINGERPRINT.
func (w *hostSim) record(args []string, stderr io.Writer) int {
	if len(args) != 3 {
		fmt.Fprintln(stderr, "record: want STATEDIR TASK FINGERPRINT")
		return 2
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.Files[path.Join(args[0], "ran", args[1])] = []byte(args[2] + "\n")
	return 0
}

// audit is audit.sh STATEDIR LINE [LEDGERLINE...].
func (w *hostSim) audit(args []string, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "audit: want STATEDIR LINE")
		return 2
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	log := path.Join(args[0], "audit.log")
	w.s.Files[log] = append(w.s.Files[log], args[1]+"\n"...)
	for _, l := range args[2:] {
		ledger := path.Join(args[0], "ledger")
		w.s.Files[ledger] = append(w.s.Files[ledger], l+"\n"...)
	}
	return 0
}

// clean is clean.sh ROOT.
func (w *hostSim) clean(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "clean: want ROOT")
		return 2
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	for _, p := range w.partials(args[0]) {
		w.removeTree(p)
	}
	return 0
}

// switchCurrent is switch.sh ROOT ID KEEP LEDGERLINE UNITDIR
// [PROTECTED...] [::retire RETIRED...]: current, the ledger line, the
// prune, and the retired releases no drop-in pins.
func (w *hostSim) switchCurrent(statedir string, args []string, stderr io.Writer) int {
	if len(args) < 4 {
		fmt.Fprintln(stderr, "switch: too few arguments")
		return 2
	}
	root, id, line := args[0], args[1], args[3]
	keep, err := strconv.Atoi(args[2])
	if err != nil {
		return 2
	}
	if len(args) < 5 {
		fmt.Fprintln(stderr, "switch: no UNITDIR")
		return 2
	}
	unitDir, protected := args[4], args[5:]
	var retired []string
	if i := slices.Index(protected, "::retire"); i >= 0 {
		protected, retired = protected[:i], protected[i+1:]
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.own(statedir, root+"/current")
	w.s.Links[path.Join(root, "current")] = "releases/" + id
	ledger := path.Join(statedir, "ledger")
	w.s.Files[ledger] = append(w.s.Files[ledger], line+"\n"...)
	var ids []string
	for _, n := range w.s.listDir(path.Join(root, "releases")) {
		if !strings.HasPrefix(n, ".") && w.exists(path.Join(root, "releases", n)) {
			ids = append(ids, n)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	for i, d := range ids {
		if i < keep || d == id || slices.Contains(protected, d) {
			continue
		}
		w.removeTree(path.Join(root, "releases", d))
	}
	for _, d := range retired {
		dir := path.Join(root, "releases", d)
		if d == id || !w.exists(dir) {
			continue
		}
		pinned := false
		for p, b := range w.s.Files {
			if strings.HasPrefix(p, unitDir+"/") && strings.HasSuffix(p, ".d/release.conf") &&
				slices.Contains(strings.Split(string(b), "\n"), "WorkingDirectory="+dir) {
				pinned = true
			}
		}
		if !pinned {
			w.removeTree(dir)
		}
	}
	return 0
}

// creds is creds.sh STATEDIR DIR < RECORDS: it stores a new key and
// writes each credential as a stand-in for its encryption (the name and
// the plaintext's length, never the plaintext).
func (w *hostSim) creds(args []string, stdin io.Reader, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "creds: want STATEDIR DIR")
		return 2
	}
	r := bufio.NewReader(stdin)
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			fmt.Fprintln(stderr, "creds: input cut short")
			return 3
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && f[0] == "end":
			return 0
		case len(f) == 2 && f[0] == "key":
			p := path.Join(args[0], "credential.key")
			if _, ok := w.s.Files[p]; ok {
				fmt.Fprintln(stderr, "creds: key appeared")
				return 2
			}
			w.s.Files[p] = []byte(f[1] + "\n")
		case len(f) == 4 && f[0] == "cred":
			n, err := strconv.Atoi(f[2])
			if err != nil || n < 0 {
				return 2
			}
			if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
				fmt.Fprintln(stderr, "creds: input cut short")
				return 3
			}
			w.s.Files[path.Join(args[1], f[3])] = []byte("sim-credential " + f[1] + " " + f[2] + "\n")
		default:
			fmt.Fprintf(stderr, "creds: bad record %q\n", line)
			return 2
		}
	}
}
