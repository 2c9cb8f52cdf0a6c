package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

// The on-host scripts are recognised by what identifies each one, never by
// byte equality, so an edit to a script's body keeps the simulation
// answering it; a script that is no longer recognised fails loudly (exit
// 127, recorded in Unknown) instead of being answered with a guess.
const (
	factsMarker   = "@@openim-deploy-facts@@ " // osinfo's detect script: every section starts with it
	lockRCMarker  = "@@openim-deploy-lock-rc@@ "
	riderRCMarker = "@@openim-deploy-rider-rc@@ "
	gatherHeader  = "# gather.sh "   // internal/release/scripts/gather.sh usage line
	acquireSign   = "take took-over" // the lock's acquire script
	refreshSign   = `"$dir/expires.$id"`
	releaseSign   = `gone=$dir.released.$id`
	breakSign     = `gone=$dir.broken.`
	readSign      = `[ -d "$dir" ] || exit 4`
)

// Interpreter answers the commands the controller sends to one simulated
// host from its State. It is a targettest.Interpreter.
type Interpreter struct {
	State *State
	// Now is the host's clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	unknown []string
	scripts map[string]int
}

// Unknown returns the first line of every script or command the
// interpreter did not recognise, in arrival order.
func (in *Interpreter) Unknown() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.unknown...)
}

// Scripts counts the scripts answered, by kind ("detect", "lock+gather", ...).
func (in *Interpreter) Scripts() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := map[string]int{}
	for k, v := range in.scripts {
		out[k] = v
	}
	return out
}

func (in *Interpreter) count(kind string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.scripts == nil {
		in.scripts = map[string]int{}
	}
	in.scripts[kind]++
}

func (in *Interpreter) refuse(stderr io.Writer, what string) int {
	first, _, _ := strings.Cut(strings.TrimSpace(what), "\n")
	in.mu.Lock()
	in.unknown = append(in.unknown, first)
	in.mu.Unlock()
	fmt.Fprintf(stderr, "sim: not simulated: %s\n", first)
	return 127
}

func (in *Interpreter) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

var _ targettest.Interpreter = (*Interpreter)(nil).Run

// Run implements targettest.Interpreter.
func (in *Interpreter) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	args = stripSudo(args)
	if len(args) < 3 || args[0] != "sh" || args[1] != "-c" {
		return in.refuse(stderr, strings.Join(args, " "))
	}
	script, params := args[2], args[min(len(args), 4):]
	if script == target.ScriptWrapper {
		body, err := target.ReadScriptFrame(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "sh: %v\n", err)
			return 125
		}
		set, rest, _ := strings.Cut(body, "\n")
		if !strings.HasPrefix(set, "set --") {
			return in.refuse(stderr, body)
		}
		params, err = splitSet(strings.TrimPrefix(set, "set --"))
		if err != nil {
			fmt.Fprintf(stderr, "sh: %v\n", err)
			return 2
		}
		script = rest
	}
	if ctx.Err() != nil {
		return 137
	}
	out := outputs.Get().(*bytes.Buffer)
	defer outputs.Put(out)
	out.Reset()
	code := in.script(script, params, stdin, out, stderr)
	_, _ = stdout.Write(out.Bytes()) // the channel copies it into its packets
	return code
}

// outputs are the buffers commands' output is assembled in before it is
// written to the channel: a converged OpenIM host's read is about 40 KB,
// and a fleet's hosts answer it at once.
var outputs = sync.Pool{New: func() any {
	b := new(bytes.Buffer)
	b.Grow(64 << 10)
	return b
}}

// setLines caches the words of each "set --" line of a script frame: the
// hosts of a fleet receive the same few, and splitting one (shell
// quoting) is the simulation's cost, on the controller's cores.
var setLines sync.Map // string -> []string

func splitSet(line string) ([]string, error) {
	if v, ok := setLines.Load(line); ok {
		return slices.Clone(v.([]string)), nil
	}
	words, err := targettest.SplitWords(line)
	if err != nil {
		return nil, err
	}
	setLines.Store(line, words)
	return slices.Clone(words), nil
}

func (in *Interpreter) script(script string, args []string, stdin io.Reader, out *bytes.Buffer, stderr io.Writer) int {
	switch {
	case strings.HasPrefix(script, composedPrefix):
		// Checked first: a composed program holds the other scripts.
		in.count("composed")
		return in.composed(script, args, out, stderr)
	case strings.Contains(script, lockRCMarker):
		in.count("lock+rider")
		return in.acquireWithRider(script, args, stdin, out, stderr)
	case strings.Contains(script, factsMarker):
		in.count("detect")
		return in.detect(args, out)
	case strings.Contains(script, gatherHeader):
		in.count("gather")
		return in.gather(args, out, stderr)
	case strings.Contains(script, acquireSign):
		in.count("lock")
		return in.acquire(args, stdin, out)
	case strings.Contains(script, releaseSign):
		in.count("unlock")
		return in.release(args)
	case strings.Contains(script, refreshSign):
		in.count("refresh")
		return in.refresh(args)
	case strings.Contains(script, breakSign):
		in.count("break")
		return in.breakLock(args, out)
	case strings.Contains(script, readSign):
		in.count("read-lock")
		return in.readLock(args, out)
	}
	return in.refuse(stderr, script)
}

func stripSudo(args []string) []string {
	if len(args) == 0 || args[0] != "sudo" {
		return args
	}
	args = args[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		done := args[0] == "--"
		args = args[1:]
		if done {
			break
		}
	}
	return args
}

// composedPrefix starts a program made by target.Compose: each part is a
// shell function __openim_partN, then called in a subshell with its own
// slice of the arguments, its output followed by partRCMarker and its
// exit status.
const (
	composedPrefix = "__openim_part0() {\n"
	partRCMarker   = "@@openim-deploy-part-rc@@ "
)

// partCall is one "( __openim_partN "${1}" "${2}" ) </dev/null" line, or
// the last part's "( shift K; __openim_partN "$@" ) </dev/null".
var partCall = regexp.MustCompile(`(?m)^\((?: shift (\d+);)? __openim_part(\d+)((?: "\$\{\d+\}")*)( "\$@")? \) </dev/null$`)

var partArg = regexp.MustCompile(`"\$\{(\d+)\}"`)

// composedPart is one part of a composed program: its body, and which of
// the program's arguments it is called with.
type composedPart struct {
	body  string
	args  []int // 1-based argument numbers, for every part but the last
	shift int   // the last part: every argument after the first shift
	rest  bool  // this is the last part
}

// composedPrograms caches each composed program's parts by its text: every
// simulated host receives the same few programs, and splitting one up is
// the simulation's cost, which shares the benchmark's cores with the
// controller.
var composedPrograms sync.Map // string -> []composedPart (nil: refused)

// splitComposed splits a target.Compose program into its parts; nil when
// it is not one.
func splitComposed(script string) []composedPart {
	if v, ok := composedPrograms.Load(script); ok {
		return v.([]composedPart)
	}
	parts := parseComposed(script)
	composedPrograms.Store(script, parts)
	return parts
}

func parseComposed(script string) []composedPart {
	calls := partCall.FindAllStringSubmatch(script, -1)
	if len(calls) == 0 {
		return nil
	}
	parts := make([]composedPart, 0, len(calls))
	for i, c := range calls {
		start := fmt.Sprintf("__openim_part%d() {\n", i)
		end := fmt.Sprintf("\n}\n__openim_part%d() {\n", i+1)
		if i == len(calls)-1 {
			end = "\n}\n( "
		}
		_, body, ok := strings.Cut(script, start)
		body, _, ok2 := strings.Cut(body, end)
		if !ok || !ok2 || c[2] != strconv.Itoa(i) {
			return nil
		}
		p := composedPart{body: body}
		if c[4] != "" { // the last part: everything after the shift
			p.rest = true
			p.shift, _ = strconv.Atoi(c[1])
		} else {
			for _, m := range partArg.FindAllStringSubmatch(c[3], -1) {
				n, _ := strconv.Atoi(m[1])
				p.args = append(p.args, n)
			}
		}
		parts = append(parts, p)
	}
	return parts
}

// composed answers a target.Compose program part by part, each with the
// arguments its call line gives it, as the program runs them.
func (in *Interpreter) composed(script string, args []string, out *bytes.Buffer, stderr io.Writer) int {
	parts := splitComposed(script)
	if parts == nil {
		return in.refuse(stderr, script)
	}
	for _, p := range parts {
		var partArgs []string
		if p.rest {
			partArgs = args[min(p.shift, len(args)):]
		} else {
			for _, n := range p.args {
				if n < 1 || n > len(args) {
					return in.refuse(stderr, script)
				}
				partArgs = append(partArgs, args[n-1])
			}
		}
		rc := in.script(p.body, partArgs, strings.NewReader(""), out, stderr)
		fmt.Fprintf(out, "\n%s%d\n", partRCMarker, rc)
	}
	return 0
}

// acquireWithRider is lock.withRider's program: the acquire script's
// output and status after lockRCMarker, then, when the lock was taken, the
// rider's output and status after riderRCMarker.
func (in *Interpreter) acquireWithRider(script string, args []string, stdin io.Reader, out *bytes.Buffer, stderr io.Writer) int {
	if len(args) < 3 {
		fmt.Fprintln(stderr, "sim: lock: want dir, ttl and id")
		return 2
	}
	rc := in.acquire(args[:3], stdin, out)
	fmt.Fprintf(out, "\n%s%d\n", lockRCMarker, rc)
	if rc != 0 {
		return rc
	}
	// The rider is what withRider runs after "shift 3", in a subshell.
	_, rider, ok := strings.Cut(script, "\nshift 3\n(\n")
	if end := strings.LastIndex(rider, "\n) </dev/null\nprintf '\\n"+riderRCMarker); ok && end >= 0 {
		rider = rider[:end]
	} else {
		return in.refuse(stderr, script)
	}
	var rout bytes.Buffer
	riderRC := in.script(rider, args[3:], strings.NewReader(""), &rout, stderr)
	out.Write(rout.Bytes())
	fmt.Fprintf(out, "\n%s%d\n", riderRCMarker, riderRC)
	return 0
}

var errNoLease = errors.New("no lease")

// The lease lives in State.Files as the lock script keeps it on a host:
// <dir>/id, <dir>/expires and <dir>/info.
func (in *Interpreter) acquire(args []string, stdin io.Reader, out *bytes.Buffer) int {
	if len(args) < 3 {
		return 2
	}
	dir, id := args[0], args[2]
	ttl, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		return 2
	}
	info, err := io.ReadAll(stdin)
	if err != nil {
		return 1
	}
	now := in.now().Unix()
	s := in.State
	s.mu.Lock()
	defer s.mu.Unlock()
	verb := "acquired"
	if exp, ok := s.Files[dir+"/expires"]; ok {
		e, _ := strconv.ParseInt(strings.TrimSpace(string(exp)), 10, 64)
		if now <= e {
			s.showLocked(out, dir, now)
			return 75
		}
		verb = "took-over"
	}
	exp := now + ttl
	s.Files[dir+"/expires"] = []byte(strconv.FormatInt(exp, 10) + "\n")
	s.Files[dir+"/id"] = []byte(id + "\n")
	s.Files[dir+"/info"] = fmt.Appendf(nil, "%s\"acquired\":%d,\"expires\":%d}\n", strings.TrimRight(string(info), "\n"), now, exp)
	fmt.Fprintf(out, "%s\n%d\n%d\n", verb, now, exp)
	return 0
}

// showLocked is the scripts' show(): the host clock, expires, info.
func (s *State) showLocked(out *bytes.Buffer, dir string, now int64) {
	fmt.Fprintf(out, "%d\n", now)
	if e, ok := s.Files[dir+"/expires"]; ok {
		out.Write(e)
	} else {
		out.WriteString("\n")
	}
	out.Write(s.Files[dir+"/info"])
}

func (in *Interpreter) leaseID(dir string) (string, error) {
	id, ok := in.State.Files[dir+"/id"]
	if !ok {
		return "", errNoLease
	}
	return strings.TrimSpace(string(id)), nil
}

func (in *Interpreter) release(args []string) int {
	if len(args) < 2 {
		return 2
	}
	s := in.State
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, err := in.leaseID(args[0]); err != nil || got != args[1] {
		return 3
	}
	for _, f := range []string{"id", "expires", "info"} {
		delete(s.Files, args[0]+"/"+f)
	}
	return 0
}

func (in *Interpreter) refresh(args []string) int {
	if len(args) < 3 {
		return 2
	}
	ttl, err := strconv.ParseInt(args[2], 10, 64)
	if err != nil {
		return 2
	}
	s := in.State
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, err := in.leaseID(args[0]); err != nil || got != args[1] {
		return 3
	}
	s.Files[args[0]+"/expires"] = []byte(strconv.FormatInt(in.now().Unix()+ttl, 10) + "\n")
	return 0
}

func (in *Interpreter) readLock(args []string, out *bytes.Buffer) int {
	if len(args) < 1 {
		return 2
	}
	s := in.State
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := in.leaseID(args[0]); err != nil {
		return 4
	}
	s.showLocked(out, args[0], in.now().Unix())
	return 0
}

func (in *Interpreter) breakLock(args []string, out *bytes.Buffer) int {
	if len(args) < 1 {
		return 2
	}
	s := in.State
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := in.leaseID(args[0]); err != nil {
		return 4
	}
	s.showLocked(out, args[0], in.now().Unix())
	for _, f := range []string{"id", "expires", "info"} {
		delete(s.Files, args[0]+"/"+f)
	}
	return 0
}

// gather answers gather.sh ROOT APP UNITDIR STATEDIR PROPS AUDIT LEDGER SHADOWDIRS NFILES
// FILE... UNIT... by walking State as the script walks the host's
// filesystem.
func (in *Interpreter) gather(args []string, out *bytes.Buffer, stderr io.Writer) int {
	if len(args) < 8 {
		fmt.Fprintln(stderr, "gather: too few arguments")
		return 2
	}
	root, app, unitdir, statedir, props := args[0], args[1], args[2], args[3], args[4]
	auditLines, err := strconv.Atoi(args[5])
	if err != nil {
		fmt.Fprintln(stderr, "gather: bad audit count")
		return 2
	}
	// args[6] (LEDGER) asks for the release ledger, which simulated hosts
	// do not keep: nothing to print.
	nfiles, err := strconv.Atoi(args[8])
	if err != nil || nfiles > len(args)-9 {
		fmt.Fprintln(stderr, "gather: bad file count")
		return 2
	}
	shadowDirs := strings.FieldsFunc(args[7], func(r rune) bool { return r == ':' })
	files, units := args[9:9+nfiles], args[9+nfiles:]
	s := in.State
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.isDir(root) {
		fmt.Fprintf(out, "realroot %s\n", root) // no symlinks in a simulated host
	}
	if cur, ok := s.Links[path.Join(root, "current")]; ok {
		fmt.Fprintf(out, "current %s\n", path.Base(cur))
	}
	rels := path.Join(root, "releases")
	for _, id := range s.listDir(rels) {
		d := path.Join(rels, id)
		if !s.isDir(d) {
			continue
		}
		if strings.HasPrefix(id, ".") {
			if strings.HasSuffix(id, ".partial") {
				fmt.Fprintf(out, "partial %s\n", id)
			}
			continue
		}
		fmt.Fprintf(out, "manifest %s\n", id)
		for line := range bytes.Lines(s.Files[path.Join(d, ".manifest")]) {
			out.WriteString("m ")
			out.Write(line)
		}
	}
	// The script's three globs, each sorted, in this order.
	names := s.listDir(unitdir)
	var candidates []string
	for _, n := range names {
		if strings.HasSuffix(n, ".service") && s.Files[path.Join(unitdir, n)] != nil {
			candidates = append(candidates, n)
		}
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".target") && s.Files[path.Join(unitdir, n)] != nil {
			candidates = append(candidates, n)
		}
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".service.d") && s.Files[path.Join(unitdir, n, "release.conf")] != nil {
			candidates = append(candidates, n+"/release.conf")
		}
	}
	managed := "# Managed by openim-deploy (app=" + app + ")"
	for _, rel := range candidates {
		if bytes.HasPrefix(firstLine(s.Files[path.Join(unitdir, rel)]), []byte(managed)) {
			fmt.Fprintf(out, "owned %s\n", rel)
		}
	}
	for _, n := range s.listDir(path.Join(unitdir, app+".target.wants")) {
		fmt.Fprintf(out, "wants %s\n", n)
	}
	for _, n := range s.listDir(path.Join(statedir, "ran")) {
		if rec, ok := s.Files[path.Join(statedir, "ran", n)]; ok {
			fmt.Fprintf(out, "ran %s %s\n", n, strings.TrimRight(string(rec), "\n"))
		}
	}
	if key, ok := s.Files[path.Join(statedir, release.CredKeyName)]; ok {
		fmt.Fprintf(out, "credkey %s\n", strings.TrimRight(string(key), "\n"))
	}
	if log, ok := s.Files[path.Join(statedir, "audit.log")]; ok && auditLines > 0 {
		lines := strings.SplitAfter(strings.TrimSuffix(string(log), "\n"), "\n")
		for _, l := range lines[max(0, len(lines)-auditLines):] {
			out.WriteString("audit " + strings.TrimSuffix(l, "\n") + "\n")
		}
	}
	// Requested files that are there without the app's header.
	for _, f := range files {
		p := path.Join(unitdir, f)
		if to, ok := s.Links[p]; ok {
			fmt.Fprintf(out, "foreign %s link %s\n", f, to)
		} else if b, ok := s.Files[p]; ok {
			first := string(firstLine(b))
			if other, ok := unit.ParseHeader(first); !ok || (other != "" && other != app) {
				fmt.Fprintf(out, "foreign %s file %s\n", f, first)
			}
		} else if !strings.Contains(f, "/") {
			for _, d := range shadowDirs {
				if _, ok := s.Files[path.Join(d, f)]; ok {
					fmt.Fprintf(out, "foreign %s shadows %s\n", f, path.Join(d, f))
					break
				}
			}
		}
	}
	// "wc -c" of the requested files that exist, then their bytes.
	type file struct {
		name string
		b    []byte
	}
	var have []file
	total := 0
	for _, f := range files {
		if b, ok := s.Files[path.Join(unitdir, f)]; ok {
			have = append(have, file{f, b})
			total += len(b)
		}
	}
	if len(have) > 0 {
		out.WriteString("sizes\n")
		for _, f := range have {
			out.WriteString(strconv.Itoa(len(f.b)))
			out.WriteByte(' ')
			out.WriteString(f.name)
			out.WriteByte('\n')
		}
		if len(have) > 1 {
			fmt.Fprintf(out, "%d total\n", total)
		}
		out.WriteString("endsizes\n")
		for _, f := range have {
			out.Write(f.b)
		}
	}
	if len(units) > 0 {
		out.WriteString("show\n")
		start := out.Len()
		s.systemctlShow(out, strings.Split(props, ","), units)
		b := out.Bytes()
		out.Truncate(start + len(bytes.TrimRight(b[start:], "\n")))
		out.WriteString("\nendshow\n")
		for _, u := range units {
			if pid := s.Units[u].MainPID; pid != 0 {
				fmt.Fprintf(out, "pid %d %s\n", pid, s.Procs[pid])
			}
		}
	}
	return 0
}

// systemctlShow prints "systemctl show -p PROPS -- UNITS": one record per
// unit, blank-line separated; a unit systemd does not know is not-found.
func (s *State) systemctlShow(out *bytes.Buffer, props, units []string) {
	for i, name := range units {
		if i > 0 {
			out.WriteString("\n")
		}
		u, known := s.Units[name]
		for _, p := range props {
			out.WriteString(p)
			out.WriteByte('=')
			out.WriteString(showValue(name, p, u, known))
			out.WriteByte('\n')
		}
	}
}

// showValue is property p of unit name as systemctl show prints it (an
// unknown property, or one not simulated, is empty).
func showValue(name, p string, u Unit, known bool) string {
	switch p {
	case "Id":
		return name
	case "LoadState":
		if known {
			return "loaded"
		}
		return "not-found"
	case "ActiveState":
		if known {
			return u.ActiveState
		}
		return "inactive"
	case "SubState":
		if known {
			return u.SubState
		}
		return "dead"
	case "Result":
		if known && u.ActiveState == "failed" {
			return "exit-code"
		}
		return "success"
	case "NRestarts":
		return "0"
	case "MainPID":
		if known {
			return strconv.Itoa(u.MainPID)
		}
		return "0"
	case "ExecMainStatus":
		if known && u.ActiveState == "failed" {
			return "1"
		}
		return "0"
	case "ExecMainStartTimestampMonotonic":
		if known && u.MainPID != 0 {
			return "1000000"
		}
		return "0"
	case "ExecMainStartTimestamp":
		if known && u.MainPID != 0 {
			return "Tue 2026-12-01 00:00:00 UTC"
		}
		return ""
	case "NeedDaemonReload":
		return "no"
	case "UnitFileState":
		if known {
			return u.UnitFileState
		}
		return ""
	}
	return ""
}

// firstLine is b up to its first newline.
func firstLine(b []byte) []byte {
	first, _, _ := bytes.Cut(b, []byte("\n"))
	return first
}

// unameMachine is "uname -m" on a host of each Go architecture: the
// simulated hosts are of the controller's, like the stand-in binaries.
var unameMachine = map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "riscv64": "riscv64", "ppc64le": "ppc64le", "s390x": "s390x"}

// detect answers osinfo's detect script ($1 the disk path, then units):
// a Debian 12 host under systemd 252, logged in as root, with the
// instances' ports listening.
func (in *Interpreter) detect(args []string, out *bytes.Buffer) int {
	disk := "/"
	if len(args) > 0 {
		disk = args[0]
	}
	s := in.State
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := func(name string) { out.WriteString(factsMarker + name + "\n") }
	sec("os")
	out.WriteString("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n")
	sec("uname")
	fmt.Fprintf(out, "node sim\nrelease 6.1.0-28-%s\nmachine %s\n", runtime.GOARCH, unameMachine[runtime.GOARCH])
	sec("init")
	out.WriteString("run-systemd\npid1 systemd\nsbin-init /lib/systemd/systemd\n")
	sec("systemd")
	out.WriteString("systemd 252 (252.33-1~deb12u1)\n")
	sec("machine-id")
	out.WriteString(s.MachineID + "\n")
	sec("clock")
	fmt.Fprintf(out, "%d\n", in.now().Unix())
	sec("memory")
	out.WriteString("MemTotal:       16384000 kB\nMemFree:         8192000 kB\nMemAvailable:   12288000 kB\nBuffers:          102400 kB\nCached:          2048000 kB\n")
	sec("nofile")
	out.WriteString("soft 1048576\nhard 1048576\nnr_open 1048576\n")
	sec("user")
	out.WriteString("uid 0\nname root\n")
	sec("sudo")
	out.WriteString("root\n")
	sec("listen")
	out.WriteString("0100007F:0016\n") // sshd
	for _, p := range s.listening() {
		fmt.Fprintf(out, "00000000:%04X\n", p)
	}
	sec("disk")
	d := disk
	for d != "/" && !s.isDir(d) {
		d = path.Dir(d)
	}
	fmt.Fprintf(out, "path %s\nFilesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda1        102400000 20480000  81920000      20%% /\n", d)
	if len(args) > 1 {
		sec("units")
		s.systemctlShow(out, []string{"Id", "ActiveState"}, args[1:])
	}
	sec("end")
	return 0
}
