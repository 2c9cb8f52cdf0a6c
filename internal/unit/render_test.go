package unit

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(p, got, 0o644))
		return
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run go test ./internal/unit -update to create it")
	assert.Equal(t, string(want), string(got), "%s differs; review, then run with -update", p)
}

// TestRender_Golden pins the text of every file rendered for the OpenIM-like
// host, the secret env files and the instance list, and that no golden file
// is left over from a unit that is no longer rendered.
func TestRender_Golden(t *testing.T) {
	hp := openimPlacement()
	files, err := Render(openimApp(), hp)
	require.NoError(t, err)

	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		golden(t, f.Name, f.Content)
	}
	require.True(t, slices.IsSorted(names), "files not sorted: %v", names)
	for _, task := range hp.Tasks {
		if env := EnvFile(&task.Unit); env != nil {
			names = append(names, task.Name+".env")
			golden(t, task.Name+".env", env)
		}
	}
	for _, s := range hp.Services {
		if env := EnvFile(&s.Unit); env != nil {
			names = append(names, s.Name+".env")
			golden(t, s.Name+".env", env)
		}
	}
	names = append(names, "instances")
	golden(t, "instances", []byte(strings.Join(Instances(hp), "\n")+"\n"))

	if *update {
		return
	}
	onDisk, err := filepath.Glob(filepath.Join("testdata", "*.golden"))
	require.NoError(t, err)
	for i, p := range onDisk {
		onDisk[i] = strings.TrimSuffix(filepath.Base(p), ".golden")
	}
	slices.Sort(names)
	require.Equal(t, names, onDisk, "stale or missing golden files")
}

// TestRender_NoSecretsInUnits pins the security rule: secret values reach
// only the env file, never unit text, and a unit with secrets names its file.
func TestRender_NoSecretsInUnits(t *testing.T) {
	files, err := Render(openimApp(), openimPlacement())
	require.NoError(t, err)
	for _, f := range files {
		for _, s := range []string{mongoSecret, redisSecret, "m0ng0", "r3d1s"} {
			require.NotContains(t, string(f.Content), s, f.Name)
		}
	}
	byName := map[string]string{}
	for _, f := range files {
		byName[f.Name] = string(f.Content)
	}
	require.Contains(t, byName["openim-rpc-user@.service"], "\nEnvironmentFile=/opt/openim/current/env/openim-rpc-user.env\n")
	require.Contains(t, byName["check-component.service"], "\nEnvironmentFile=/opt/openim/current/env/check-component.env\n")
	require.NotContains(t, byName["openim-push@.service"], "EnvironmentFile=")
	require.Nil(t, EnvFile(&config.Unit{Name: "x"}))
}

// TestRender_Dependencies pins how depends_on becomes Requires=/After=: a
// service means all its instances on this host, a task its unit, and an
// edge to something placed only elsewhere is left to apply.
func TestRender_Dependencies(t *testing.T) {
	files, err := Render(openimApp(), openimPlacement())
	require.NoError(t, err)
	text := map[string]string{}
	for _, f := range files {
		text[f.Name] = string(f.Content)
	}
	push := text["openim-push@.service"]
	require.Contains(t, push, "\nWants=check-component.service\nAfter=check-component.service\n")
	require.Contains(t, push, "\nWants=openim-rpc-user@0.service\nAfter=openim-rpc-user@0.service\n")
	// Requires= would make systemd restart push whenever rpc-user restarts,
	// ungated and unplanned.
	require.NotContains(t, push, "Requires=")
	gw := text["openim-msggateway@.service"]
	require.NotContains(t, gw, "openim-rpc-msg")
	require.Contains(t, gw, "\nWants=check-component.service\n")
	require.Contains(t, text["openim.target"],
		"\nWants=openim-push@0.service openim-push@1.service openim-push@2.service openim-push@3.service "+
			"openim-push@4.service openim-push@5.service openim-push@6.service openim-push@7.service\n")
}

// TestRender_PassThroughOverrides pins that a pass-through key replaces the
// renderer's default in place instead of adding a second line, and that the
// start-limit keys land in [Unit], where systemd reads them.
func TestRender_PassThroughOverrides(t *testing.T) {
	files, err := Render(openimApp(), openimPlacement())
	require.NoError(t, err)
	var api string
	for _, f := range files {
		if f.Name == "openim-api@.service" {
			api = string(f.Content)
		}
	}
	require.Equal(t, 1, strings.Count(api, "TimeoutStopSec="))
	require.Contains(t, api, "\nTimeoutStopSec=30s\n")
	require.Equal(t, 1, strings.Count(api, "RestartSec="))
	require.Contains(t, api, "\nRestartSec=10s\n")
	unitSec := api[:strings.Index(api, "[Service]")]
	require.Contains(t, unitSec, "\nStartLimitBurst=20\n")
	require.Contains(t, api, "\nNice=5\n")
}

// TestRender_Errors pins that values which cannot be written safely are
// refused, and that the error never quotes a secret value.
func TestRender_Errors(t *testing.T) {
	svc := func(mod func(*config.Service)) config.HostPlacement {
		s := &config.Service{Unit: config.Unit{Name: "svc", Binary: "/b/svc"}, Instances: instances(1)}
		mod(s)
		return config.HostPlacement{Services: []*config.Service{s}}
	}
	tests := []struct {
		name string
		app  func(*config.App)
		hp   config.HostPlacement
		want string
	}{
		{"relative root", func(a *config.App) { a.Root = "opt/openim" }, svc(func(*config.Service) {}), "app root"},
		{"root with space", func(a *config.App) { a.Root = "/opt/open im" }, svc(func(*config.Service) {}), "app root"},
		{"bad app name", func(a *config.App) { a.Name = "open im" }, svc(func(*config.Service) {}), "app name"},
		{"bad user", func(a *config.App) { a.User = "a b" }, svc(func(*config.Service) {}), "app user"},
		{"bad service name", nil, svc(func(s *config.Service) { s.Name = "svc;rm" }), "not safe"},
		{"bad instance", nil, svc(func(s *config.Service) { s.Instances[0].Name = "a/b" }), "instance name"},
		{"bad binary", nil, svc(func(s *config.Service) { s.Binary = "/b/my bin" }), "binary name"},
		{"NUL in arg", nil, svc(func(s *config.Service) { s.Args = []string{"a\x00b"} }), "argument 1"},
		{"bad env name", nil, svc(func(s *config.Service) { s.Environment = map[string]string{"A-B": "x"} }), "A-B"},
		{"control in env", nil, svc(func(s *config.Service) { s.Environment = map[string]string{"A": "\x01"} }), "control"},
		{"secret name", nil, svc(func(s *config.Service) { s.SecretEnvironment = map[string]string{"1X": "hunter2"} }), "1X"},
		{"secret value", nil, svc(func(s *config.Service) { s.SecretEnvironment = map[string]string{"X": "hunter2\x00"} }), "NUL"},
		{"pass-through newline", nil, svc(func(s *config.Service) {
			s.Systemd = []config.KeyValue{{Key: "Nice", Value: "1\nExecStartPre=/bin/evil"}}
		}), "one line"},
		{"pass-through key", nil, svc(func(s *config.Service) { s.Systemd = []config.KeyValue{{Key: "a=b", Value: "1"}} }), "not a unit file key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := openimApp()
			if tc.app != nil {
				tc.app(&app)
			}
			_, err := Render(app, tc.hp)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

// TestInstances_PlaybookOrder pins that tasks and services interleave in
// playbook order and that values without positions keep tasks first.
func TestInstances_PlaybookOrder(t *testing.T) {
	require.Equal(t, []string{
		"check-free-memory.service", "openim-crontask@0.service", "check-component.service",
		"openim-rpc-user@0.service",
	}, Instances(openimPlacement())[:4])

	hp := config.HostPlacement{
		Services: []*config.Service{{Unit: config.Unit{Name: "s"}, Instances: instances(2)}},
		Tasks:    []*config.Task{{Unit: config.Unit{Name: "t"}}},
	}
	require.Equal(t, []string{"t.service", "s@0.service", "s@1.service"}, Instances(hp))
}

// TestNames pins the unit naming scheme apply, plan and the lab rely on.
func TestNames(t *testing.T) {
	require.Equal(t, "openim-push@3.service", InstanceName("openim-push", "3"))
	require.Equal(t, "openim-push@.service", TemplateName("openim-push"))
	require.Equal(t, "seq.service", TaskUnitName("seq"))
	require.Equal(t, "openim.target", TargetName("openim"))
}

// TestDropIn pins the per-instance release drop-in: every path names the
// release, the list settings are reset before they are set, and %i still
// reaches the instance.
func TestDropIn(t *testing.T) {
	p := openimPlacement()
	var push *config.Service
	for _, s := range p.Services {
		if s.Name == "openim-rpc-user" {
			push = s
		}
	}
	require.NotNil(t, push)
	got, err := DropIn(openimApp(), &push.Unit, true, "20261201-101500-000-abcd")
	require.NoError(t, err)
	text := string(got)
	require.True(t, strings.HasPrefix(text, Header("openim")))
	require.Contains(t, text, "\nWorkingDirectory=/opt/openim/releases/20261201-101500-000-abcd\n")
	require.Contains(t, text, "\nExecStart=\nExecStart=/opt/openim/releases/20261201-101500-000-abcd/bin/openim-rpc-user ")
	require.Contains(t, text, "\nEnvironmentFile=\nEnvironmentFile=/opt/openim/releases/20261201-101500-000-abcd/env/openim-rpc-user.env\n")
	require.NotContains(t, text, "/current")
	_, err = DropIn(openimApp(), &push.Unit, true, "../x")
	require.Error(t, err)
}

// TestDropInFromTemplate: the drop-in derived from a release's unit text
// is byte for byte the one DropIn renders for that release.
func TestDropInFromTemplate(t *testing.T) {
	files, err := Render(openimApp(), openimPlacement())
	require.NoError(t, err)
	for _, s := range openimPlacement().Services {
		var text []byte
		for _, f := range files {
			if f.Name == TemplateName(s.Name) {
				text = f.Content
			}
		}
		want, err := DropIn(openimApp(), &s.Unit, true, "r-1")
		require.NoError(t, err)
		got, err := DropInFromTemplate(openimApp(), text, "r-1")
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), s.Name)
	}
}

// TestRender_RemoteBinary: a binary the hosts fetch (artifact()) runs as
// bin/<last segment of its URL path>, in the unit and in the drop-in, the
// query string and the header nowhere in either.
func TestRender_RemoteBinary(t *testing.T) {
	s := &config.Service{Unit: config.Unit{Name: "api", Args: []string{"-c", "config"}, Remote: &config.RemoteBinary{
		URL: "https://mirror.example/openim/v3.8.3/openim-api?sig=abc", Name: "openim-api",
		SHA256: strings.Repeat("ab", 32), Header: "Authorization: Bearer hunter2",
	}}, Instances: instances(1)}
	files, err := Render(openimApp(), config.HostPlacement{Services: []*config.Service{s}})
	require.NoError(t, err)
	var text string
	for _, f := range files {
		if f.Name == TemplateName("api") {
			text = string(f.Content)
		}
	}
	require.Contains(t, text, "\nExecStart=/opt/openim/current/bin/openim-api -c config\n")
	drop, err := DropIn(openimApp(), &s.Unit, true, "r-1")
	require.NoError(t, err)
	require.Contains(t, string(drop), "\nExecStart=/opt/openim/releases/r-1/bin/openim-api -c config\n")
	for _, b := range []string{text, string(drop)} {
		require.NotContains(t, b, "sig=")
		require.NotContains(t, b, "hunter2")
	}
}

// TestDropIn_PinsReadinessProbe: a service whose unit waits for its health
// check runs the probe of the release it is pinned to, and reads that
// release's check file (relative to the pinned WorkingDirectory=), so a
// crash-restart on an old release never probes with a newer release's
// ports. A service that does not wait gets no ExecStartPost= at all.
func TestDropIn_PinsReadinessProbe(t *testing.T) {
	var user, api *config.Service
	for _, s := range openimPlacement().Services {
		switch s.Name {
		case "openim-rpc-user":
			user = s
		case "openim-api":
			api = s
		}
	}
	drop, err := DropIn(openimApp(), &user.Unit, true, "r-1")
	require.NoError(t, err)
	require.Contains(t, string(drop), "\nWorkingDirectory=/opt/openim/releases/r-1\n")
	require.Contains(t, string(drop), "\nExecStartPost=\nExecStartPost=/opt/openim/releases/r-1/probe/openim-probe.%a probe/openim-rpc-user.json %i\n")
	drop, err = DropIn(openimApp(), &api.Unit, true, "r-1")
	require.NoError(t, err)
	require.NotContains(t, string(drop), "ExecStartPost")
	require.Equal(t, 47*time.Second, StartTimeout(user), "30 polls 1.5 s apart plus a 2 s probe, whole seconds")
}
