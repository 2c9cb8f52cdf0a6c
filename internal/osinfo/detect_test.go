package osinfo

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/local"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "detect", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func addrs(ls []Listener) []string {
	var out []string
	for _, l := range ls {
		out = append(out, netip.AddrPortFrom(l.Addr, uint16(l.Port)).String())
	}
	return out
}

func TestDetect(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	tests := []struct {
		fixture, diskPath string
		check             func(t *testing.T, f Facts)
	}{
		{"debian-systemd.txt", "/opt/openim", func(t *testing.T, f Facts) {
			if f.OS.ID != "debian" || f.OS.Family != FamilyDebian || f.Kernel != "6.1.0-18-amd64" || f.Arch != "amd64" || f.Hostname != "im-1" {
				t.Errorf("os/uname: %+v", f)
			}
			if f.Init != InitSystemd || f.SystemdVersion != 252 || f.InitEvidence != "/run/systemd/system exists" {
				t.Errorf("init: %s %d %q", f.Init, f.SystemdVersion, f.InitEvidence)
			}
			if f.MachineID != "0f1e2d3c4b5a69788796a5b4c3d2e1f0" || !f.HostTime.Equal(t0) {
				t.Errorf("machine-id/clock: %q %v", f.MachineID, f.HostTime)
			}
			if f.MemTotal != 4025000*1024 || f.MemAvailable != 3000000*1024 {
				t.Errorf("memory: %d %d", f.MemTotal, f.MemAvailable)
			}
			if f.NofileSoft != 1024 || f.NofileHard != 524288 || f.NrOpen != 1048576 {
				t.Errorf("nofile: %d %d %d", f.NofileSoft, f.NofileHard, f.NrOpen)
			}
			if f.User != "deploy" || f.UID != 1000 || f.Sudo != SudoOK {
				t.Errorf("user: %q %d %q", f.User, f.UID, f.Sudo)
			}
			want := []string{"0.0.0.0:22", "127.0.0.1:25", "127.0.0.1:10002", "[::]:22"}
			if got := addrs(f.Listeners); !slices.Equal(got, want) {
				t.Errorf("listeners = %q, want %q", got, want)
			}
			if f.DiskPath != "/opt/openim" || f.DiskMeasured != "/opt" || f.DiskMount != "/" || f.DiskAvailable != 14444588*1024 || f.DiskTotal != 20509264*1024 {
				t.Errorf("disk: %+v", f)
			}
			if len(f.Unknown) != 0 {
				t.Errorf("unknown: %v", f.Unknown)
			}
		}},
		{"debian-sysvinit.txt", "", func(t *testing.T, f Facts) {
			if f.Init != InitSysV || f.InitEvidence != "no /run/systemd/system; PID 1 is init; /etc/inittab present" {
				t.Errorf("init: %s %q", f.Init, f.InitEvidence)
			}
			if f.Known("systemd") || f.Known("machine-id") || !f.Known("clock") {
				t.Errorf("unknown: %v", f.Unknown)
			}
			if f.Sudo != SudoRoot || f.UID != 0 || f.DiskPath != "/" {
				t.Errorf("user/disk: %+v", f)
			}
		}},
		{"alpine-openrc.txt", "/", func(t *testing.T, f Facts) {
			if f.OS.Family != FamilyAlpine || f.Init != InitOpenRC || f.Arch != "arm64" {
				t.Errorf("os/init: %+v", f)
			}
			if f.Sudo != SudoMissing || len(f.Listeners) != 0 || !f.Known("listen") {
				t.Errorf("sudo/listen: %+v", f)
			}
			if f.DiskAvailable != 5500000*1024 || f.MemAvailable != 200000*1024 {
				t.Errorf("disk/mem: %+v", f)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			fk := targettest.NewFake("im-1")
			fk.On(targettest.HasPrefix("sh -c "), targettest.Reply{Stdout: fixture(t, tt.fixture)})
			clock := t0.Add(-time.Second)
			now := func() time.Time { clock = clock.Add(time.Second); return clock }
			f, err := DetectWith(context.Background(), fk, Options{DiskPath: tt.diskPath, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if f.Host != "im-1" || !f.Sent.Equal(t0) || !f.Received.Equal(t0.Add(time.Second)) {
				t.Errorf("host/sent/received: %q %v %v", f.Host, f.Sent, f.Received)
			}
			calls := fk.Calls()
			if len(calls) != 1 {
				t.Fatalf("%d round trips, want 1: %q", len(calls), fk.Commands())
			}
			c := calls[0].Cmd
			wantPath := tt.diskPath
			if wantPath == "" {
				wantPath = "/"
			}
			if !c.ReadOnly || c.Sudo || len(c.Args) != 5 || c.Args[2] != detectScript || c.Args[4] != wantPath {
				t.Errorf("command: %+v", c)
			}
			tt.check(t, f)
		})
	}
}

func TestDetectPathIsAnArgument(t *testing.T) {
	fk := targettest.NewFake("im-1")
	fk.On(targettest.HasPrefix("sh -c "), targettest.Reply{Stdout: fixture(t, "debian-systemd.txt")})
	evil := "/opt/$(reboot); `reboot` 'x"
	if _, err := DetectWith(context.Background(), fk, Options{DiskPath: evil}); err != nil {
		t.Fatal(err)
	}
	c := fk.Calls()[0].Cmd
	if c.Args[4] != evil || strings.Contains(c.Args[2], "reboot") {
		t.Errorf("path interpolated: %q", c.Args)
	}
}

func TestDetectErrors(t *testing.T) {
	ctx := context.Background()
	fk := targettest.NewFake("im-1")
	fk.On(targettest.HasPrefix("sh -c "), targettest.Reply{Code: 127, Stderr: "sh: not found"})
	_, err := Detect(ctx, fk)
	if _, ok := errors.AsType[*target.ExitError](err); !ok {
		t.Errorf("exit: %v", err)
	}

	fk.On(targettest.HasPrefix("sh -c "), targettest.Reply{Stdout: "Welcome to my shell\n"})
	if _, err := Detect(ctx, fk); !errors.Is(err, ErrNoSections) {
		t.Errorf("no sections: %v", err)
	}

	full := fixture(t, "debian-systemd.txt")
	cut := full[:strings.Index(full, marker+"memory")]
	fk.On(targettest.HasPrefix("sh -c "), targettest.Reply{Stdout: cut})
	f, err := Detect(ctx, fk)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{"memory", "nofile", "user", "sudo", "listen", "disk", "end"} {
		if f.Known(sec) {
			t.Errorf("section %s known in cut output", sec)
		}
	}
	if !f.Known("clock") || f.OS.ID != "debian" {
		t.Errorf("sections before the cut lost: %v", f.Unknown)
	}
}

// TestDetectReadsUnitsInTheSameRoundTrip pins the folded round trip: the
// units follow the disk path as arguments of the one script, which runs
// "systemctl show" on exactly them and returns its records in UnitShow.
func TestDetectReadsUnitsInTheSameRoundTrip(t *testing.T) {
	bin := t.TempDir()
	fakeSystemctl := "#!/bin/sh\n[ \"$1 $2 $3 $4\" = 'show -p Id,ActiveState --' ] || exit 9\nshift 4\nfor u; do printf 'Id=%s\\nActiveState=active\\n\\n' \"$u\"; done\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	f, err := DetectWith(context.Background(), local.New("im-1", ""), Options{DiskPath: t.TempDir(), Units: []string{"api@0.service", "x$(reboot).service"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "Id=api@0.service\nActiveState=active\n\nId=x$(reboot).service\nActiveState=active\n\n"
	if string(f.UnitShow) != want {
		t.Errorf("UnitShow = %q, want %q", f.UnitShow, want)
	}
	f, err = DetectWith(context.Background(), local.New("im-1", ""), Options{DiskPath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if f.UnitShow != nil || f.DiskMeasured == "" {
		t.Errorf("without units: UnitShow = %q, DiskMeasured = %q", f.UnitShow, f.DiskMeasured)
	}
}

// TestSplitSections: a section is every line after its marker up to the
// next marker (or the end, with or without a last newline); text before
// the first marker belongs to none, an empty section is there and empty.
func TestSplitSections(t *testing.T) {
	m := marker
	out := []byte("noise\n" + m + "a\nA1\nA2\n" + m + " empty \n" + m + "b\nB1\n\n" + m + "c\nlast")
	got := splitSections(out)
	want := map[string]string{"a": "A1\nA2\n", "empty": "", "b": "B1\n\n", "c": "last"}
	if len(got) != len(want) {
		t.Fatalf("sections %q, want %q", got, want)
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || string(g) != w {
			t.Errorf("section %q = %q (%v), want %q", name, g, ok, w)
		}
	}
}
