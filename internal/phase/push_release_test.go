package phase

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/preflight"
	"github.com/openimsdk/openim-deploy/internal/release"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// pushLog records, in one order, what a fake host was asked to do while
// a release is pushed: "prepare", "upload <path>", "finalize".
type pushLog struct {
	mu     sync.Mutex
	events []string
}

func (l *pushLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, s)
}

func (l *pushLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// pushHost is a fake that answers prepare.sh as the script does for what
// a test looks at (it creates the partial release and its directories,
// so uploads have somewhere to land) and finalize.sh, logging both and
// every file written.
func pushHost(name string, log *pushLog) *targettest.Fake {
	f := targettest.NewFake(name)
	f.OnFunc(targettest.Contains("# prepare.sh ROOT ID"), func(cmd target.Cmd) (target.Result, error) {
		args := cmd.Args[4:] // STATEDIR ROOT ID OWNER APPUSER DIR... ::link ...
		partial := path.Join(args[1], "releases", "."+args[2]+".partial")
		if err := f.MkdirAll(partial, 0o755); err != nil {
			return target.Result{}, err
		}
		for _, d := range args[5:] {
			if d == "::link" {
				break
			}
			if err := f.MkdirAll(path.Join(partial, d), 0o755); err != nil {
				return target.Result{}, err
			}
		}
		log.add("prepare")
		return target.Result{}, nil
	})
	f.OnFunc(targettest.Contains("# finalize.sh ROOT ID"), func(target.Cmd) (target.Result, error) {
		log.add("finalize")
		return target.Result{}, nil
	})
	f.SetWriteError(func(p string) error {
		log.add("upload " + p)
		return nil
	})
	return f
}

// coldPlans renders r and plans every host (each with its target set) as
// a cold one, nothing of the app there, as ComputePlan does.
func coldPlans(t *testing.T, r *Run) {
	t.Helper()
	require.NoError(t, Render{}.Run(t.Context(), r))
	for _, h := range r.Hosts {
		h.Actual = plan.Actual{}
	}
	require.NoError(t, ComputePlan{}.Run(t.Context(), r))
	for _, h := range r.Hosts {
		require.True(t, h.Plan.NewRelease, "%s: a cold host needs a release", h)
		require.NotEmpty(t, h.Plan.Uploads)
	}
}

// TestPushRelease_PrepareUploadFinalize: on a host that needs a new
// release, prepare comes first (naming the release and the directories
// it needs), every file of the plan's uploads then lands in the partial
// release with its content and mode, and finalize comes last, once,
// with the plan's manifest on stdin and every file sent listed for its
// one check.
func TestPushRelease_PrepareUploadFinalize(t *testing.T) {
	r, out := demoRun(t, "im-1")
	log := &pushLog{}
	f := pushHost("im-1", log)
	h := r.Hosts[0]
	h.Target = f
	coldPlans(t, r)
	hp := h.Plan

	require.NoError(t, PushRelease{}.Run(t.Context(), r))

	partial := path.Join("/opt/demo/releases", "."+hp.Release+".partial")
	events := log.all()
	require.Equal(t, "prepare", events[0])
	require.Equal(t, "finalize", events[len(events)-1])
	var uploads []string
	for _, e := range events[1 : len(events)-1] {
		p, ok := strings.CutPrefix(e, "upload ")
		require.True(t, ok, "only uploads between prepare and finalize: %q", e)
		uploads = append(uploads, strings.TrimPrefix(p, partial+"/"))
	}
	var want []string
	for _, a := range hp.Uploads {
		want = append(want, a.Rel)
	}
	require.ElementsMatch(t, want, uploads, "every file of the plan, once, into the partial release")

	files := f.Files()
	for _, a := range hp.Uploads {
		got := files[path.Join(partial, a.Rel)]
		content := a.Content
		if content == nil {
			var err error
			content, err = os.ReadFile(a.Local)
			require.NoError(t, err)
		}
		require.Equal(t, content, got.Data, a.Rel)
		require.Equal(t, a.Mode.Perm(), got.Mode.Perm(), a.Rel)
	}

	var prep, fin targettest.Call
	for _, c := range f.Calls() {
		switch {
		case strings.Contains(c.Line, "# prepare.sh ROOT ID"):
			prep = c
		case strings.Contains(c.Line, "# finalize.sh ROOT ID"):
			fin = c
		}
	}
	// prepare.sh after own.sh: STATEDIR ROOT ID OWNER APPUSER DIR... ::link
	require.Equal(t, []string{"/var/lib/openim-deploy/demo", "/opt/demo", hp.Release, "", ""}, prep.Cmd.Args[4:9])
	require.Equal(t, append(releaseDirs(hp), "::link"), prep.Cmd.Args[9:], "the release's directories; nothing to link on a cold host")
	// finalize.sh ROOT ID APPUSER [::own ...] ::check SENT...
	require.Equal(t, []string{"/opt/demo", hp.Release, ""}, fin.Cmd.Args[4:7])
	check := slices.Index(fin.Cmd.Args, "::check")
	require.Positive(t, check)
	require.ElementsMatch(t, want, fin.Cmd.Args[check+1:], "every file sent is checked against the manifest")
	require.Equal(t, string(release.Manifest(hp.Manifest).Encode()), string(fin.Stdin))
	targettest.NoUnexpected(t, f)

	o, _, n := h.Result()
	require.Equal(t, OutcomeChanged, o)
	require.Equal(t, 1, n)
	require.Contains(t, out.String(), "[im-1] release "+hp.Release+": ")
}

// noSFTP is a host whose sshd has no SFTP subsystem: every file operation
// fails, commands run.
type noSFTP struct{ *targettest.Fake }

var errNoSubsystem = errors.New("ssh: subsystem request failed")

func (noSFTP) Stat(context.Context, string) (fs.FileInfo, error) { return nil, errNoSubsystem }
func (noSFTP) WriteFile(context.Context, string, io.Reader, fs.FileMode) error {
	return errNoSubsystem
}

// TestPushRelease_NoSFTPRefusesBeforeAnyHostChanges: when one of the
// hosts with files to receive has no SFTP subsystem, it is refused, naming
// the cause, and the phase fails before any host is prepared or sent a
// byte: the others are left as they were, not half pushed.
func TestPushRelease_NoSFTPRefusesBeforeAnyHostChanges(t *testing.T) {
	r, out := demoRun(t, "im-1", "im-2", "im-3")
	log := &pushLog{}
	var fakes []*targettest.Fake
	for i, h := range r.Hosts {
		f := pushHost(h.Config.Name, log)
		fakes = append(fakes, f)
		h.Target = f
		if i == 1 {
			h.Target = noSFTP{f}
		}
	}
	coldPlans(t, r)

	err := PushRelease{}.Run(t.Context(), r)
	require.ErrorIs(t, err, preflight.ErrRefused)
	require.ErrorContains(t, err, "no host was changed")
	require.ErrorContains(t, err, "im-2: sftp: SFTP subsystem unavailable")
	require.Contains(t, out.String(), "[im-2] error: refused: sftp: SFTP subsystem unavailable: ssh: subsystem request failed")
	require.Empty(t, log.all(), "no host prepared or sent anything")
	for _, f := range fakes {
		require.Empty(t, f.Calls(), "%s: nothing ran", f.Name())
	}
	o, _, _ := r.Hosts[1].Result()
	require.Equal(t, OutcomeFailed, o)
	for _, i := range []int{0, 2} {
		o, _, n := r.Hosts[i].Result()
		require.Equal(t, OutcomeOK, o)
		require.Zero(t, n)
	}
}

// TestPushRelease_NothingToSendNeedsNoSFTP: a new release made only of
// files already on the host (linked, nothing uploaded) never opens SFTP,
// so a host without it is not refused: it is prepared and finalized.
func TestPushRelease_NothingToSendNeedsNoSFTP(t *testing.T) {
	r, _ := demoRun(t, "im-1")
	log := &pushLog{}
	f := pushHost("im-1", log)
	h := r.Hosts[0]
	h.Target = noSFTP{f}
	h.Plan = &plan.HostPlan{Host: "im-1", Release: "r2", NewRelease: true,
		Links:    []plan.Link{{From: r1 + "/bin/rpc", To: "bin/rpc", Mode: 0o755}},
		Manifest: map[string]string{"bin/rpc": strings.Repeat("a", 64)}}

	require.NoError(t, PushRelease{}.Run(t.Context(), r))
	require.Equal(t, []string{"prepare", "finalize"}, log.all())
	calls := f.Calls()
	require.Len(t, calls, 2)
	require.Equal(t, []string{"::link", r1 + "/bin/rpc", "bin/rpc", "755"}, calls[0].Cmd.Args[len(calls[0].Cmd.Args)-4:])
	require.Equal(t, []string{"/opt/demo", "r2", ""}, calls[1].Cmd.Args[4:], "nothing sent, nothing to check")
}

// TestPushRelease_FailedUploadNeverFinalizes: an upload that fails leaves
// the release partial on that host (finalize, which would rename it into
// place, is never sent) and fails the host; the other host's push goes
// on to completion.
func TestPushRelease_FailedUploadNeverFinalizes(t *testing.T) {
	r, out := demoRun(t, "im-1", "im-2")
	logs := []*pushLog{{}, {}}
	full := errors.New("no space left on device")
	var fakes []*targettest.Fake
	for i, h := range r.Hosts {
		f := pushHost(h.Config.Name, logs[i])
		fakes = append(fakes, f)
		h.Target = f
	}
	coldPlans(t, r)
	fakes[0].SetWriteError(func(p string) error {
		if strings.HasSuffix(p, "/bin/rpc") {
			return full
		}
		return nil
	})

	err := PushRelease{}.Run(t.Context(), r)
	require.ErrorIs(t, err, full)
	targettest.NotReceivedContains(t, fakes[0], "# finalize.sh")
	o, herr, n := r.Hosts[0].Result()
	require.Equal(t, OutcomeFailed, o)
	require.ErrorContains(t, herr, "upload bin/rpc: no space left on device")
	require.Zero(t, n)
	require.Contains(t, out.String(), "[im-1] error: push release: upload bin/rpc")
	require.Equal(t, "finalize", logs[1].all()[len(logs[1].all())-1], "the other host completes its release")
	o, _, _ = r.Hosts[1].Result()
	require.Equal(t, OutcomeChanged, o)
}

// TestPushRelease_CleansPartialsWithoutANewRelease: a host whose wanted
// release is already there but which holds partial releases of an
// interrupted run gets the clean script alone.
func TestPushRelease_CleansPartialsWithoutANewRelease(t *testing.T) {
	r, _ := demoRun(t, "im-1")
	f := targettest.NewFake("im-1")
	f.On(targettest.Contains("# clean.sh ROOT"), targettest.Reply{})
	r.Hosts[0].Target = f
	r.Hosts[0].Plan = &plan.HostPlan{Host: "im-1", Release: r1, CleanPartials: true}
	require.NoError(t, PushRelease{}.Run(t.Context(), r))
	require.Len(t, f.Calls(), 1)
	require.Equal(t, []string{"/opt/demo"}, f.Calls()[0].Cmd.Args[4:])
	targettest.NoUnexpected(t, f)
}
