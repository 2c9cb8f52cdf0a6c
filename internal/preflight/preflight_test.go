package preflight

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/osinfo"
)

var t0 = time.Unix(1700000000, 0)

func goodFacts() osinfo.Facts {
	return osinfo.Facts{
		Host:           "im-1",
		OS:             osinfo.OS{ID: "debian", PrettyName: "Debian GNU/Linux 12 (bookworm)", Family: osinfo.FamilyDebian},
		Machine:        "x86_64",
		Arch:           "amd64",
		Init:           osinfo.InitSystemd,
		InitEvidence:   "/run/systemd/system exists",
		SystemdVersion: 252,
		MachineID:      "aaaa",
		HostTime:       t0,
		Sent:           t0.Add(-100 * time.Millisecond),
		Received:       t0.Add(300 * time.Millisecond),
		MemTotal:       8 << 30,
		MemAvailable:   4 << 30,
		NofileSoft:     1024,
		NofileHard:     524288,
		NrOpen:         1048576,
		User:           "deploy",
		UID:            1000,
		Sudo:           osinfo.SudoOK,
		Listeners: []osinfo.Listener{
			{Addr: netip.MustParseAddr("0.0.0.0"), Port: 22},
			{Addr: netip.MustParseAddr("127.0.0.1"), Port: 10002},
			{Addr: netip.MustParseAddr("::"), Port: 10002},
		},
		DiskPath:      "/opt/openim",
		DiskMeasured:  "/opt",
		DiskMount:     "/",
		DiskAvailable: 10 << 30,
		Unknown:       map[string]string{},
	}
}

func goodReq() Requirements {
	return Requirements{
		Binaries: []Binary{
			{Path: "bin/openim-api", Size: 40 << 20, Format: FormatELF, Arch: "amd64"},
			{Path: "bin/openim-rpc-user", Size: 40 << 20, Format: FormatELF, Arch: "amd64"},
		},
		Root:      "/opt/openim",
		Ports:     []int{10001, 10003},
		NeedSudo:  true,
		MinNofile: 500000,
	}
}

func TestCheckClean(t *testing.T) {
	if ps := Check(goodFacts(), goodReq(), time.Time{}); len(ps) != 0 {
		t.Errorf("problems on a good host: %v", ps)
	}
	if ps := Check(goodFacts(), Requirements{}, time.Time{}); len(ps) != 0 {
		t.Errorf("problems with no requirements: %v", ps)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		facts func(*osinfo.Facts)
		req   func(*Requirements)
		// want is "check severity substring"; only the listed problems may appear.
		want []string
	}{
		{"sysvinit", func(f *osinfo.Facts) {
			f.Init, f.InitEvidence = osinfo.InitSysV, "no /run/systemd/system; PID 1 is init; /etc/inittab present"
			f.SystemdVersion = 0
			f.Unknown["systemd"] = "systemctl --version printed nothing"
		}, nil, []string{"init error init system is sysvinit; openim-deploy needs systemd (no /run/systemd/system; PID 1 is init"}},
		{"openrc", func(f *osinfo.Facts) { f.Init = osinfo.InitOpenRC }, nil, []string{"init error init system is openrc"}},
		{"init unknown", func(f *osinfo.Facts) {
			f.Init = osinfo.InitUnknown
			f.Unknown["init"] = "section missing"
		}, nil, []string{"init error init system is unknown; openim-deploy needs systemd (section missing)"}},
		{"old systemd", func(f *osinfo.Facts) { f.SystemdVersion = 215 }, nil, []string{"systemd error systemd 215 is older than 219"}},
		{"centos 7 systemd", func(f *osinfo.Facts) { f.SystemdVersion = 219 }, nil, []string{"systemd warning systemd 219 is older than 230"}},
		{"custom min systemd", nil, func(r *Requirements) { r.MinSystemd = 255 }, []string{"systemd error systemd 252 is older than 255"}},
		{"systemd version unknown", func(f *osinfo.Facts) { f.Unknown["systemd"] = "x" }, nil, []string{"systemd warning systemd version not checked"}},
		{"unknown distro", func(f *osinfo.Facts) {
			f.OS = osinfo.OS{ID: "nixos", PrettyName: "NixOS", Family: osinfo.FamilyUnknown}
		}, nil, []string{"os warning \"NixOS\" (ID=nixos)"}},
		{"arch mismatch", func(f *osinfo.Facts) { f.Machine, f.Arch = "aarch64", "arm64" }, nil, []string{
			"arch error bin/openim-api is an ELF binary for amd64; host is aarch64 (arm64)",
			"arch error bin/openim-rpc-user is an ELF binary for amd64",
		}},
		{"readiness probe on an architecture without one", func(f *osinfo.Facts) { f.Machine, f.Arch = "s390x", "s390x" }, func(r *Requirements) {
			r.Binaries, r.ReadinessProbe = nil, true
		}, []string{"arch error no readiness probe is built for s390x (s390x)"}},
		{"readiness probe on arm64", func(f *osinfo.Facts) { f.Machine, f.Arch = "aarch64", "arm64" }, func(r *Requirements) {
			r.Binaries, r.ReadinessProbe = nil, true
		}, nil},
		{"arch unknown host", func(f *osinfo.Facts) { f.Machine, f.Arch = "sparc64", "" }, nil, []string{"arch warning machine \"sparc64\" has no GOARCH"}},
		{"script and macho", nil, func(r *Requirements) {
			r.Binaries = append(r.Binaries, Binary{Path: "bin/start.sh", Format: FormatScript}, Binary{Path: "bin/mac", Format: FormatMachO},
				Binary{Path: "bin/win.exe", Format: FormatPE}, Binary{Path: "bin/data", Format: FormatOther})
		}, []string{
			"arch warning bin/start.sh is a script", "arch error bin/mac is a macOS (Mach-O) executable; build it with GOOS=linux GOARCH=amd64",
			"arch error bin/win.exe is a Windows", "arch warning bin/data is not an ELF",
		}},
		{"glibc on alpine", func(f *osinfo.Facts) { f.OS.Family = osinfo.FamilyAlpine }, func(r *Requirements) {
			r.Binaries[0].Interp = "/lib64/ld-linux-x86-64.so.2"
		}, []string{"arch warning bin/openim-api is linked against glibc"}},
		{"disk full", func(f *osinfo.Facts) { f.DiskAvailable = 200 << 20 }, nil, []string{
			"disk error 200.0 MiB free under /opt/openim (filesystem /); a release needs 224.0 MiB (2 × 80.0 MiB of binaries + 0 B of files + 64.0 MiB margin)"}},
		{"disk just enough", func(f *osinfo.Facts) { f.DiskAvailable = 224 << 20 }, nil, nil},
		{"disk extra bytes", func(f *osinfo.Facts) { f.DiskAvailable = 224 << 20 }, func(r *Requirements) { r.ExtraBytes = 1 }, []string{"disk error"}},
		{"disk wrong path", func(f *osinfo.Facts) { f.DiskPath = "/" }, nil, []string{"disk warning free disk was measured under /, not under the app root /opt/openim"}},
		{"disk unknown", func(f *osinfo.Facts) { f.Unknown["disk"] = "df: not found" }, nil, []string{"disk warning free disk not checked: disk unknown (df: not found)"}},
		{"low memory", func(f *osinfo.Facts) { f.MemAvailable = 512 << 20 }, nil, []string{"memory error 512.0 MiB of memory available (MemAvailable, of 8.0 GiB); at least 1.0 GiB"}},
		{"memory check off", func(f *osinfo.Facts) { f.MemAvailable = 1 }, func(r *Requirements) { r.MinFreeMemory = -1 }, nil},
		{"memory custom", nil, func(r *Requirements) { r.MinFreeMemory = 5 << 30 }, []string{"memory error 4.0 GiB"}},
		{"sudo password", func(f *osinfo.Facts) { f.Sudo, f.SudoDetail = osinfo.SudoPassword, "sudo: a password is required" }, nil, []string{
			"sudo error sudo -n fails for deploy (password): sudo: a password is required; configure NOPASSWD"}},
		{"sudo missing", func(f *osinfo.Facts) { f.Sudo, f.SudoDetail = osinfo.SudoMissing, "sudo is not installed" }, nil, []string{"sudo error sudo -n fails for deploy (missing)"}},
		{"sudo not needed", func(f *osinfo.Facts) { f.Sudo = osinfo.SudoPassword }, func(r *Requirements) { r.NeedSudo = false }, nil},
		{"root needs no sudo", func(f *osinfo.Facts) { f.UID, f.User, f.Sudo = 0, "root", osinfo.SudoRoot }, nil, nil},
		{"sftp missing", func(f *osinfo.Facts) { f.SFTPChecked, f.SFTPError = true, "subsystem request failed" }, nil, []string{"sftp error SFTP subsystem unavailable: subsystem request failed"}},
		{"forwarding refused", func(f *osinfo.Facts) {
			f.ForwardingChecked, f.ForwardingError = true, "im-1: sshd refuses TCP forwarding"
		},
			func(r *Requirements) { r.NetworkProbes = true }, []string{"forwarding warning im-1: sshd refuses TCP forwarding: tcp/http health probes will run through a relay"}},
		{"forwarding refused, no probes", func(f *osinfo.Facts) { f.ForwardingChecked, f.ForwardingError = true, "refused" }, nil, nil},
		{"sftp not probed", func(f *osinfo.Facts) { f.SFTPError = "ignored" }, nil, nil},
		{"port taken", nil, func(r *Requirements) { r.Ports = []int{10001, 10002, 10002, 22} }, []string{
			"ports error port 10002 is already in use (listening on 127.0.0.1:10002, [::]:10002)", "ports error port 22 is already in use (listening on 0.0.0.0:22)"}},
		{"port owned", nil, func(r *Requirements) { r.Ports, r.OwnedPorts = []int{10002}, map[int]bool{10002: true} }, nil},
		{"ports unknown", func(f *osinfo.Facts) { f.Unknown["listen"] = "bad" }, nil, []string{"ports warning ports not checked"}},
		{"clock ahead", func(f *osinfo.Facts) { f.HostTime = t0.Add(10 * time.Second) }, nil, []string{"clock warning clock is at least 10s ahead of the controller's (host says 2023-11-14T22:13:30Z)"}},
		{"clock behind", func(f *osinfo.Facts) { f.HostTime = t0.Add(-10 * time.Second) }, nil, []string{"clock warning clock is at least 9s behind"}},
		{"clock just under a minute", func(f *osinfo.Facts) { f.HostTime = t0.Add(59 * time.Second) }, nil, []string{"clock warning clock is at least 5"}},
		{"clock a minute ahead", func(f *osinfo.Facts) { f.HostTime = t0.Add(62 * time.Second) }, nil, []string{"clock error clock is at least 1m"}},
		{"clock minutes behind", func(f *osinfo.Facts) { f.HostTime = t0.Add(-5 * time.Minute) }, nil, []string{"clock error clock is at least 4m59s behind"}},
		{"clock within", func(f *osinfo.Facts) { f.HostTime = t0.Add(5 * time.Second) }, nil, nil},
		{"clock custom", func(f *osinfo.Facts) { f.HostTime = t0.Add(3 * time.Second) }, func(r *Requirements) { r.MaxClockSkew = time.Second }, []string{"clock warning"}},
		{"clock unknown", func(f *osinfo.Facts) { f.Unknown["clock"] = "no output" }, nil, []string{"clock warning clock not checked"}},
		{"nofile", func(f *osinfo.Facts) { f.NrOpen = 65536 }, nil, []string{"nofile warning services need LimitNOFILE=500000 but fs.nr_open is 65536"}},
		{"nofile off", func(f *osinfo.Facts) { f.NrOpen = 1 }, func(r *Requirements) { r.MinNofile = 0 }, nil},
		{"cut short", func(f *osinfo.Facts) { f.Unknown["end"] = "cut" }, nil, []string{"facts warning fact gathering output was cut short"}},
		{"no fetcher", nil, func(r *Requirements) {
			r.Fetch = []string{"https://m.example/openim-api", "https://m.example/openim-push"}
		}, []string{
			"fetch error neither curl nor wget found: the host fetches https://m.example/openim-api and 1 more itself (artifact() in the playbook); install curl or wget"}},
		{"no fetcher, nothing to fetch", nil, nil, nil},
		{"wget fetches", func(f *osinfo.Facts) { f.Wget = "/usr/bin/wget" }, func(r *Requirements) { r.Fetch = []string{"https://m.example/openim-api"} }, nil},
		{"curl fetches with credentials", func(f *osinfo.Facts) { f.Curl = "/usr/bin/curl" }, func(r *Requirements) {
			r.Fetch, r.FetchAuth = []string{"https://m.example/openim-api"}, []string{"https://m.example/openim-api"}
		}, nil},
		{"wget cannot take credentials", func(f *osinfo.Facts) { f.Wget = "/usr/bin/wget" }, func(r *Requirements) {
			r.Fetch, r.FetchAuth = []string{"https://m.example/a", "https://m.example/b"}, []string{"https://m.example/b"}
		}, []string{"fetch error curl not found: the host fetches https://m.example/b with credentials, which only curl takes on stdin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, req := goodFacts(), goodReq()
			if tt.facts != nil {
				tt.facts(&f)
			}
			if tt.req != nil {
				tt.req(&req)
			}
			got := Check(f, req, time.Time{})
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), render(got))
			}
			for i, w := range tt.want {
				check, rest, _ := strings.Cut(w, " ")
				sev, sub, _ := strings.Cut(rest, " ")
				p := got[i]
				if p.Check != check || string(p.Severity) != sev || !strings.Contains(p.Message, sub) || p.Host != "im-1" {
					t.Errorf("problem %d = %s\nwant %s %s …%s…", i, p, check, sev, sub)
				}
			}
			if HasErrors(got) != (Err(got) != nil) {
				t.Errorf("HasErrors and Err disagree")
			}
		})
	}
}

func render(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\t" + p.String() + "\n")
	}
	return b.String()
}

func TestClockSkew(t *testing.T) {
	s := time.Second
	tests := []struct {
		name                 string
		host, sent, received time.Time
		want                 time.Duration
	}{
		{"same second", t0, t0, t0.Add(s / 2), 0},
		{"truncation", t0, t0.Add(900 * time.Millisecond), t0.Add(950 * time.Millisecond), 0},
		{"ahead", t0.Add(7 * s), t0, t0.Add(s), 6 * s},
		{"behind", t0.Add(-7 * s), t0, t0.Add(s), -6 * s},
		{"slow round trip hides skew", t0.Add(7 * s), t0, t0.Add(10 * s), 0},
		{"swapped", t0.Add(7 * s), t0.Add(s), t0, 6 * s},
		{"no window: now", t0.Add(7 * s), time.Time{}, time.Time{}, 7 * s},
	}
	for _, tt := range tests {
		if got := ClockSkew(tt.host, tt.sent, tt.received, t0); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	f := goodFacts()
	f.Sent, f.Received, f.HostTime = time.Time{}, time.Time{}, t0.Add(-20*s)
	if ps := Check(f, Requirements{}, t0); len(ps) != 1 || ps[0].Check != CheckClock || !strings.Contains(ps[0].Message, "19s behind") {
		t.Errorf("now fallback: %v", ps)
	}
}

func TestCheckFleet(t *testing.T) {
	mk := func(host, id string) osinfo.Facts {
		f := goodFacts()
		f.Host, f.MachineID = host, id
		return f
	}
	none := mk("im-0", "")
	none.Unknown["machine-id"] = "/etc/machine-id is uninitialized"
	facts := map[string]osinfo.Facts{
		"im-4": mk("im-4", "bbbb"), "im-1": mk("im-1", "aaaa"), "im-3": mk("im-3", "aaaa"),
		"im-2": mk("im-2", "aaaa"), "im-0": none,
	}
	got := CheckFleet(facts)
	want := []string{
		"im-0: warning: machine-id: machine-id unknown (/etc/machine-id is uninitialized); uniqueness not checked",
		"im-1: warning: machine-id: machine-id aaaa is also the machine-id of im-2, im-3 (cloned image?)",
		"im-2: warning: machine-id: machine-id aaaa is also the machine-id of im-1, im-3",
		"im-3: warning: machine-id: machine-id aaaa is also the machine-id of im-1, im-2",
	}
	if len(got) != len(want) {
		t.Fatalf("got:\n%s", render(got))
	}
	for i := range want {
		if !strings.HasPrefix(got[i].String(), want[i]) {
			t.Errorf("%d: %s\nwant %s", i, got[i], want[i])
		}
	}
	if ps := CheckFleet(map[string]osinfo.Facts{"a": mk("a", "1"), "b": mk("b", "2")}); len(ps) != 0 {
		t.Errorf("unique fleet: %v", ps)
	}
	// A fleet cloned from one image is deployable: warnings only.
	if err := Err(got); err != nil {
		t.Errorf("Err of duplicate machine-ids = %v, want nil (a warning)", err)
	}
	// --strict refuses the same fleet, every warning named.
	strict := Strict(got)
	err := Err(strict)
	if !errors.Is(err, ErrRefused) || strings.Count(err.Error(), "refused by --strict") != len(want) {
		t.Errorf("strict Err = %v", err)
	}
	if got[1].Severity != SeverityWarning {
		t.Error("Strict changed its input")
	}
}

// TestSeverities pins the table: what makes the deploy fail
// refuses the host, what only concerns the operator warns, and --strict
// refuses both.
func TestSeverities(t *testing.T) {
	for name, tc := range map[string]struct {
		facts func(*osinfo.Facts)
		req   func(*Requirements)
		sev   Severity
	}{
		"no systemd": {func(f *osinfo.Facts) {
			f.Init, f.InitEvidence, f.SystemdVersion = osinfo.InitSysV, "no /run/systemd/system", 0
			f.Unknown["systemd"] = "systemctl --version printed nothing"
		}, nil, SeverityError},
		"wrong arch":         {func(f *osinfo.Facts) { f.Arch, f.Machine = "arm64", "aarch64" }, nil, SeverityError},
		"no space":           {func(f *osinfo.Facts) { f.DiskAvailable = 1 << 20 }, nil, SeverityError},
		"no sudo":            {func(f *osinfo.Facts) { f.Sudo, f.SudoDetail = osinfo.SudoMissing, "sudo is not installed" }, nil, SeverityError},
		"clock skew 30s":     {func(f *osinfo.Facts) { f.HostTime = t0.Add(30 * time.Second) }, nil, SeverityWarning},
		"low nofile ceiling": {func(f *osinfo.Facts) { f.NrOpen = 1024 }, nil, SeverityWarning},
	} {
		t.Run(name, func(t *testing.T) {
			f, req := goodFacts(), goodReq()
			tc.facts(&f)
			if tc.req != nil {
				tc.req(&req)
			}
			got := Check(f, req, time.Time{})
			if len(got) == 0 {
				t.Fatal("no problem found")
			}
			for _, p := range got {
				if p.Severity != tc.sev {
					t.Errorf("%s, want severity %s", p, tc.sev)
				}
			}
			if (Err(got) != nil) != (tc.sev == SeverityError) {
				t.Errorf("Err = %v for severity %s", Err(got), tc.sev)
			}
			if Err(Strict(got)) == nil {
				t.Error("--strict did not refuse")
			}
		})
	}
}

// TestCredentials: a host with secrets and systemd older than 250 is
// warned about (files as fallback) by default, refused when the playbook
// asks for credentials; a new one, or no secrets, says nothing.
func TestCredentials(t *testing.T) {
	old := goodFacts()
	old.SystemdVersion = 247
	for _, tc := range []struct {
		name string
		f    osinfo.Facts
		need CredsNeed
		want string
	}{
		{"new preferred", goodFacts(), CredsPreferred, ""},
		{"new required", goodFacts(), CredsRequired, ""},
		{"old none", old, CredsNone, ""},
		{"old preferred", old, CredsPreferred, "warning: credentials: systemd 247 has no encrypted credentials (systemd-creds, 250 or newer): this host's secrets are delivered as 0600 root files"},
		{"old required", old, CredsRequired, `error: credentials: systemd 247 has no encrypted credentials (systemd-creds, 250 or newer) and the playbook says secret_delivery = "credential"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := goodReq()
			req.Credentials = tc.need
			var got []string
			for _, p := range Check(tc.f, req, tc.f.HostTime) {
				if p.Check == CheckCreds {
					got = append(got, p.String())
				}
			}
			if tc.want == "" {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			require.Contains(t, got[0], tc.want)
		})
	}
	require.True(t, SupportsCredentials(goodFacts()))
	require.False(t, SupportsCredentials(old))
}
