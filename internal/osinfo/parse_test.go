package osinfo

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestGOARCH(t *testing.T) {
	for in, want := range map[string]string{
		"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
		"ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "loongarch64": "loong64",
		"x86_64\n": "amd64", "sparc64": "",
	} {
		if got := GOARCH(in); got != want {
			t.Errorf("GOARCH(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSystemdVersion(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"systemd 252 (252.22-1~deb12u1)", 252},
		{"systemd 219", 219},
		{"systemd 255 (255.4-1ubuntu8)", 255},
		{"systemd 256~rc3 (256~rc3-1)", 256},
		{"systemd", 0},
		{"bash: systemctl: not found", 0},
		{"systemd x", 0},
		{"", 0},
	}
	for _, tt := range tests {
		got, err := ParseSystemdVersion(tt.in)
		if got != tt.want || (err != nil) != (tt.want == 0) {
			t.Errorf("ParseSystemdVersion(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		name, in     string
		total, avail int64
		wantErr      bool
	}{
		{"modern", "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\n", 1000 << 10, 600 << 10, false},
		{"old kernel", "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 200 kB\n", 1000 << 10, 350 << 10, false},
		{"no total", "MemFree: 1 kB\n", 0, 0, true},
		{"no free", "MemTotal: 1 kB\n", 0, 0, true},
		{"garbage", "MemTotal: x kB\nnope\n", 0, 0, true},
	}
	for _, tt := range tests {
		total, avail, err := parseMeminfo([]byte(tt.in))
		if total != tt.total || avail != tt.avail || (err != nil) != tt.wantErr {
			t.Errorf("%s: %d %d %v", tt.name, total, avail, err)
		}
	}
}

func TestParseLimit(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, " 524288\n": 524288, "unlimited": math.MaxInt64, "": -1, "-1": -1, "x": -1} {
		got, err := parseLimit(in)
		if want == -1 {
			if err == nil {
				t.Errorf("parseLimit(%q) = %d, want error", in, got)
			}
			continue
		}
		if got != want || err != nil {
			t.Errorf("parseLimit(%q) = %d, %v", in, got, err)
		}
	}
}

func TestParseDF(t *testing.T) {
	tests := []struct {
		name, in string
		want     dfResult
		wantErr  bool
	}{
		{"gnu", "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda 264212084 12675044 82826220 14% /\n", dfResult{"/", 264212084 << 10, 82826220 << 10}, false},
		{"spaces", "Filesystem 1024-blocks Used Available Capacity Mounted on\nmy fs 100 50 40 56% /mnt/my data\n", dfResult{"/mnt/my data", 100 << 10, 40 << 10}, false},
		{"busybox", "Filesystem           1024-blocks    Used Available Capacity Mounted on\n/dev/vda3 7937920 2000000 5500000 27% /\n", dfResult{"/", 7937920 << 10, 5500000 << 10}, false},
		{"error", "df: /x: No such file or directory\n", dfResult{}, true},
		{"header only", "Filesystem 1024-blocks Used Available Capacity Mounted on\n", dfResult{}, true},
		{"bad numbers", "h\nfs a b c 1% /\n", dfResult{}, true},
	}
	for _, tt := range tests {
		got, err := parseDF([]byte(tt.in))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: %+v, %v", tt.name, got, err)
		}
	}
}

func TestParseProcNetTCP(t *testing.T) {
	in := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   100        0 12346 1 0000000000000000 100 0 0 10 0
   2: 0B00E70A:0016 0100E70A:D2F0 01 00000000:00000000 02:0009F6B1 00000000     0        0 12347 4 0000000000000000 20 4 31 10 -1
   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
B80D01200000000000000000010000000:0050
`
	if _, err := ParseProcNetTCP([]byte(in)); err == nil {
		t.Error("odd-length address accepted")
	}
	in = in[:len(in)-len("B80D01200000000000000000010000000:0050\n")] + "B80D0120000000000000000001000000:0050\n"
	got, err := ParseProcNetTCP([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0.0.0.0:8080", "127.0.0.1:3306", "[::1]:8081", "[2001:db8::1]:80"}
	if g := addrs(got); !slices.Equal(g, want) {
		t.Errorf("got %q, want %q", g, want)
	}
	if _, err := ParseProcNetTCP([]byte("0100007F:XYZ\n")); err == nil {
		t.Error("bad port accepted")
	}
}

func TestDecideInit(t *testing.T) {
	tests := []struct {
		name string
		kv   map[string]string
		want InitSystem
	}{
		{"systemd", map[string]string{"run-systemd": "", "pid1": "systemd"}, InitSystemd},
		{"systemd installed, not booted", map[string]string{"pid1": "bash", "sbin-init": "/lib/systemd/systemd"}, InitUnknown},
		{"openrc runtime", map[string]string{"run-openrc": "", "inittab": "", "pid1": "init"}, InitOpenRC},
		{"openrc-init", map[string]string{"pid1": "openrc-init"}, InitOpenRC},
		{"openrc installed", map[string]string{"openrc": "", "pid1": "init"}, InitOpenRC},
		{"sysvinit", map[string]string{"inittab": "", "pid1": "init"}, InitSysV},
		{"sysvinit link", map[string]string{"sbin-init": "/lib/sysvinit/init", "pid1": "init"}, InitSysV},
		{"container", map[string]string{"pid1": "sleep"}, InitUnknown},
		{"nothing", map[string]string{}, InitUnknown},
	}
	for _, tt := range tests {
		if got, ev := decideInit(tt.kv); got != tt.want || ev == "" {
			t.Errorf("%s: %s (%q), want %s", tt.name, got, ev, tt.want)
		}
	}
}

func TestParseDetectSudo(t *testing.T) {
	tests := []struct {
		body   string
		want   SudoStatus
		detail string
	}{
		{"ok", SudoOK, ""},
		{"root", SudoRoot, ""},
		{"missing", SudoMissing, "sudo is not installed"},
		{"fail sudo: a password is required", SudoPassword, "sudo: a password is required"},
		{"fail sudo: sorry, you must have a tty to run sudo", SudoFailed, "sudo: sorry, you must have a tty to run sudo"},
	}
	for _, tt := range tests {
		out := marker + "sudo\n" + tt.body + "\n" + marker + "end\n"
		f, err := ParseDetect([]byte(out), "/", time.Time{}, time.Time{})
		if err != nil || f.Sudo != tt.want || f.SudoDetail != tt.detail {
			t.Errorf("%q: %q %q %v", tt.body, f.Sudo, f.SudoDetail, err)
		}
	}
}
