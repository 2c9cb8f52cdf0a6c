package osinfo

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// marker starts every section of the detect script's output.
const marker = "@@openim-deploy-facts@@ "

// detectScript prints one section per fact, each started by marker (see
// the script's header). It is a constant: its inputs, the path whose free
// disk is measured and the units whose state is wanted, arrive as
// positional parameters.
//
//go:embed scripts/detect.sh
var detectScript string

// DetectCmd returns the one command Detect runs: sh -c with the constant
// script, diskPath as $1 and units, whose systemd state is wanted in the
// same round trip, after it. It is ReadOnly.
func DetectCmd(diskPath string, units ...string) target.Cmd {
	if diskPath == "" {
		diskPath = "/"
	}
	args := []string{"sh", "-c", detectScript, "openim-deploy-facts", diskPath}
	return target.Cmd{Args: append(args, units...), ReadOnly: true}
}

// DetectPart is the detect script as one part of a program composed with
// target.Compose, for a caller that folds detection into another round
// trip (the lock's). Its output is parsed by ParseDetect.
func DetectPart(diskPath string) target.Part {
	cmd := DetectCmd(diskPath)
	return target.Part{Script: cmd.Args[2], Args: cmd.Args[4:]}
}

// Options tune Detect.
type Options struct {
	// DiskPath is where free disk is measured, normally the app root; its
	// nearest existing ancestor is what df sees. "" means "/".
	DiskPath string
	// Now is the controller clock; nil means time.Now.
	Now func() time.Time
	// Units are systemd units whose Id and ActiveState are read in the
	// same round trip ("systemctl show" output, in Facts.UnitShow), so a
	// caller that needs both facts and unit state opens one session.
	Units []string
}

// Detect gathers Facts from t in one round trip, with free disk measured
// under "/". See DetectWith.
func Detect(ctx context.Context, t target.Target) (Facts, error) {
	return DetectWith(ctx, t, Options{})
}

// DetectWith gathers Facts from t in one round trip (one sh -c command). It
// fails only when the command could not run or printed none of its
// sections; a fact that could not be read is listed in Facts.Unknown.
// Facts.SFTPChecked and SFTPError are left for the transport to fill.
func DetectWith(ctx context.Context, t target.Target, opts Options) (Facts, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cmd := DetectCmd(opts.DiskPath, opts.Units...)
	sent := now()
	res, err := t.Run(ctx, cmd)
	received := now()
	if err != nil {
		// The script ends with an echo, so a non-zero exit means sh itself
		// failed; keep what it printed in the error.
		return Facts{Host: t.Name()}, fmt.Errorf("detect facts: %w", err)
	}
	f, err := ParseDetect(res.Stdout, cmd.Args[4], sent, received)
	f.Host = t.Name()
	if err != nil {
		return f, fmt.Errorf("detect facts: %w", err)
	}
	return f, nil
}

// ErrNoSections means the detect output held none of the expected sections.
var ErrNoSections = errors.New("output has no sections: is /bin/sh a POSIX shell?")

// ParseDetect turns the output of the detect script into Facts. diskPath,
// sent and received are recorded as given. It is pure; Detect uses it.
func ParseDetect(out []byte, diskPath string, sent, received time.Time) (Facts, error) {
	f := Facts{DiskPath: diskPath, Sent: sent, Received: received, Unknown: map[string]string{}}
	secs := splitSections(out)
	if len(secs) == 0 {
		return f, ErrNoSections
	}
	unknown := func(sec string, format string, args ...any) { f.Unknown[sec] = fmt.Sprintf(format, args...) }
	section := func(name string) ([]byte, bool) {
		b, ok := secs[name]
		if !ok {
			unknown(name, "section missing from output (script cut short)")
			return nil, false
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			unknown(name, "no output")
			return nil, false
		}
		return b, true
	}

	if b, ok := section("os"); ok {
		if o, err := ParseOSRelease(b); err != nil {
			unknown("os", "%v", err)
		} else {
			f.OS = o
		}
	}
	if b, ok := section("uname"); ok {
		kv := parseKV(b)
		f.Hostname, f.Kernel, f.Machine = kv["node"], kv["release"], kv["machine"]
		f.Arch = GOARCH(f.Machine)
	}
	f.Init = InitUnknown
	if b, ok := secs["init"]; ok {
		f.Init, f.InitEvidence = decideInit(parseKV(b))
	} else {
		unknown("init", "section missing from output (script cut short)")
	}
	if b, ok := secs["systemd"]; ok && len(strings.TrimSpace(string(b))) > 0 {
		f.SystemdVersionLine = firstLine(b)
		if v, err := ParseSystemdVersion(f.SystemdVersionLine); err != nil {
			unknown("systemd", "%v", err)
		} else {
			f.SystemdVersion = v
		}
	} else {
		unknown("systemd", "systemctl --version printed nothing")
	}
	if b, ok := section("machine-id"); ok {
		id := firstLine(b)
		if id == "uninitialized" {
			unknown("machine-id", "/etc/machine-id is uninitialized")
		} else {
			f.MachineID = id
		}
	}
	if b, ok := section("clock"); ok {
		if s, err := strconv.ParseInt(firstLine(b), 10, 64); err != nil {
			unknown("clock", "date +%%s printed %q", firstLine(b))
		} else {
			f.HostTime = time.Unix(s, 0)
		}
	}
	if b, ok := section("memory"); ok {
		var err error
		if f.MemTotal, f.MemAvailable, err = parseMeminfo(b); err != nil {
			unknown("memory", "%v", err)
		}
	}
	if b, ok := section("nofile"); ok {
		kv := parseKV(b)
		var errs []error
		for _, p := range []struct {
			key string
			dst *int64
		}{{"soft", &f.NofileSoft}, {"hard", &f.NofileHard}, {"nr_open", &f.NrOpen}} {
			n, err := parseLimit(kv[p.key])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.key, err))
			}
			*p.dst = n
		}
		if len(errs) > 0 {
			unknown("nofile", "%v", errors.Join(errs...))
		}
	}
	if b, ok := section("user"); ok {
		kv := parseKV(b)
		f.User = kv["name"]
		uid, err := strconv.Atoi(kv["uid"])
		if err != nil || f.User == "" {
			unknown("user", "id printed %q", strings.TrimSpace(string(b)))
		}
		f.UID = uid
	}
	if b, ok := section("sudo"); ok {
		word, detail, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		switch word {
		case "root":
			f.Sudo = SudoRoot
		case "ok":
			f.Sudo = SudoOK
		case "missing":
			f.Sudo, f.SudoDetail = SudoMissing, "sudo is not installed"
		default:
			f.Sudo, f.SudoDetail = SudoFailed, strings.TrimSpace(detail)
			if strings.Contains(detail, "password") {
				f.Sudo = SudoPassword
			}
		}
	}
	if b, ok := secs["listen"]; ok {
		ls, err := ParseProcNetTCP(b)
		if err != nil {
			unknown("listen", "%v", err)
		}
		f.Listeners = ls
	} else {
		unknown("listen", "section missing from output (script cut short)")
	}
	if b, ok := section("disk"); ok {
		rest := string(b)
		if first, after, ok := strings.Cut(rest, "\n"); ok && strings.HasPrefix(first, "path ") {
			f.DiskMeasured, rest = strings.TrimPrefix(first, "path "), after
		}
		if d, err := parseDF([]byte(rest)); err != nil {
			unknown("disk", "%v", err)
		} else {
			f.DiskMount, f.DiskTotal, f.DiskAvailable = d.Mount, d.Total, d.Available
		}
	}
	if b, ok := secs["units"]; ok {
		f.UnitShow = bytes.Clone(b) // kept: not a slice of the whole read
	}
	if b, ok := secs["gzip"]; ok {
		f.Gzip = firstLine(b)
	}
	if b, ok := secs["curl"]; ok {
		f.Curl = firstLine(b)
	}
	if b, ok := secs["wget"]; ok {
		f.Wget = firstLine(b)
	}
	if _, ok := secs["end"]; !ok {
		unknown("end", "output was cut short")
	}
	return f, nil
}

// splitSections cuts the script output at marker lines.
func splitSections(out []byte) map[string][]byte {
	// Each section is the lines between its marker and the next, so a
	// slice of out: nothing is copied.
	secs := map[string][]byte{}
	var name string
	start := 0
	for pos := 0; pos < len(out); {
		next := len(out)
		if i := bytes.IndexByte(out[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		if n, ok := bytes.CutPrefix(out[pos:next], []byte(marker)); ok {
			if name != "" {
				secs[name] = out[start:pos]
			}
			name, start = strings.TrimSpace(string(n)), next
		}
		pos = next
	}
	if name != "" {
		secs[name] = out[start:]
	}
	return secs
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
