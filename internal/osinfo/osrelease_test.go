package osinfo

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseOSReleaseFixtures(t *testing.T) {
	tests := []struct {
		file, id, version, pretty string
		family                    Family
		like                      []string
	}{
		{"debian-12", "debian", "12", "Debian GNU/Linux 12 (bookworm)", FamilyDebian, nil},
		{"ubuntu-22.04", "ubuntu", "22.04", "Ubuntu 22.04.4 LTS", FamilyDebian, []string{"debian"}},
		{"ubuntu-24.04", "ubuntu", "24.04", "Ubuntu 24.04.1 LTS", FamilyDebian, []string{"debian"}},
		{"centos-7", "centos", "7", "CentOS Linux 7 (Core)", FamilyRHEL, []string{"rhel", "fedora"}},
		{"rhel-8", "rhel", "8.9", "Red Hat Enterprise Linux 8.9 (Ootpa)", FamilyRHEL, []string{"fedora"}},
		{"rhel-9", "rhel", "9.4", "Red Hat Enterprise Linux 9.4 (Plow)", FamilyRHEL, []string{"fedora"}},
		{"rocky-9", "rocky", "9.3", "Rocky Linux 9.3 (Blue Onyx)", FamilyRHEL, []string{"rhel", "centos", "fedora"}},
		{"alma-9", "almalinux", "9.4", "AlmaLinux 9.4 (Seafoam Ocelot)", FamilyRHEL, []string{"rhel", "centos", "fedora"}},
		{"fedora-40", "fedora", "40", "Fedora Linux 40 (Server Edition)", FamilyFedora, nil},
		{"amazon-2023", "amzn", "2023", "Amazon Linux 2023.5.20240722", FamilyAmazon, []string{"fedora"}},
		{"opensuse-leap-15.6", "opensuse-leap", "15.6", "openSUSE Leap 15.6", FamilySUSE, []string{"suse", "opensuse"}},
		{"opensuse-tumbleweed", "opensuse-tumbleweed", "20240801", "openSUSE Tumbleweed", FamilySUSE, []string{"opensuse", "suse"}},
		{"alpine-3.20", "alpine", "3.20.2", "Alpine Linux v3.20", FamilyAlpine, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "os-release", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			o, err := ParseOSRelease(b)
			if err != nil {
				t.Fatal(err)
			}
			if o.ID != tt.id || o.VersionID != tt.version || o.PrettyName != tt.pretty || o.Family != tt.family || !slices.Equal(o.IDLike, tt.like) {
				t.Errorf("got %+v", o)
			}
		})
	}
}

func TestParseOSReleaseSyntax(t *testing.T) {
	tests := []struct {
		name, in string
		want     OS
		wantErr  bool
	}{
		{"empty", "", OS{}, true},
		{"only comments", "# hi\n\n", OS{}, true},
		{"defaults", "VERSION_ID=1\n", OS{ID: "linux", Name: "Linux", VersionID: "1", PrettyName: "Linux 1", Family: FamilyUnknown}, false},
		{
			"quotes and escapes",
			"ID='my os'\nNAME=\"A \\\"quoted\\\" \\$name\"\nPRETTY_NAME=\"unterminated\nVERSION_ID=\"x\"y\"\nbad line\nlower=1\n",
			OS{ID: "my os", Name: `A "quoted" $name`, PrettyName: "A \"quoted\" $name", Family: FamilyUnknown}, false,
		},
		{"crlf and spaces", "ID=Debian\r\n  NAME = Debian  \r\n", OS{ID: "debian", Name: "Debian", PrettyName: "Debian", Family: FamilyDebian}, false},
		{"family from ID_LIKE", "ID=pop\nID_LIKE=\"ubuntu debian\"\n", OS{ID: "pop", IDLike: []string{"ubuntu", "debian"}, Name: "Linux", PrettyName: "Linux", Family: FamilyDebian}, false},
		{"unknown like", "ID=nixos\nID_LIKE=foo\nNAME=NixOS\n", OS{ID: "nixos", IDLike: []string{"foo"}, Name: "NixOS", PrettyName: "NixOS", Family: FamilyUnknown}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOSRelease([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr {
				return
			}
			if got.ID != tt.want.ID || got.Name != tt.want.Name || got.PrettyName != tt.want.PrettyName ||
				got.VersionID != tt.want.VersionID || got.Family != tt.want.Family || !slices.Equal(got.IDLike, tt.want.IDLike) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseOSRelease(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "os-release", "*"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("ID=\"a\\\"\nX='"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOSRelease(b)
		if err != nil {
			return
		}
		if o.ID == "" || o.Name == "" {
			t.Errorf("empty ID or Name: %+v", o)
		}
		switch o.Family {
		case FamilyDebian, FamilyRHEL, FamilyFedora, FamilyAmazon, FamilySUSE, FamilyAlpine, FamilyUnknown:
		default:
			t.Errorf("family %q", o.Family)
		}
	})
}
