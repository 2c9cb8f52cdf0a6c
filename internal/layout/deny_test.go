package layout

import (
	"path"
	"strings"
	"testing"
)

// TestRootRefusal pins which app roots are refused: system and shared
// directories and everything under the tool's own state, whatever the
// spelling; an app's own directory, the default /opt/<app> included, is
// accepted.
func TestRootRefusal(t *testing.T) {
	refused := []string{
		"/", "//", "/var/lib", "/var//lib/", "/var/lib/.", "/var/log", "/usr/local",
		"/etc/systemd", "/etc/systemd/system", "/etc/systemd/system/im",
		"/var/lib/openim-deploy", "/var/lib/openim-deploy/im", "/var/lib/openim-deploy/im/x",
		"/home/ops", "/home/ops/", "/root", "/srv", "/opt", "/opt/", "/tmp", "/tmp/im",
		"/var/tmp/im", "/var/lib/dpkg", "/proc/1", "/run/im", "/usr", "/etc", "/home",
		"relative/path", "",
	}
	for _, root := range refused {
		if RootRefusal(root) == "" {
			t.Errorf("RootRefusal(%q) accepted it", root)
		}
	}
	accepted := []string{
		"/opt/openim", "/opt/openim/", "/srv/im", "/srv/shop", "/home/ops/im",
		"/usr/local/openim", "/var/lib/im", "/data/im", "/etc/openim",
	}
	for _, root := range accepted {
		if why := RootRefusal(root); why != "" {
			t.Errorf("RootRefusal(%q) = %q, want accepted", root, why)
		}
	}
}

// TestDeniedRootsCloseOverParents pins that every ancestor of a denied
// directory is denied too: a root above a shared directory would hold it.
func TestDeniedRootsCloseOverParents(t *testing.T) {
	all := append([]string{}, deniedTrees...)
	for d := range deniedRoots {
		all = append(all, d)
	}
	for _, d := range all {
		for p := d; p != "/"; p = path.Dir(p) {
			if RootRefusal(p) == "" {
				t.Errorf("%s is denied but its ancestor %s is accepted", d, p)
			}
		}
	}
}

// FuzzRootRefusal checks that spelling never changes the answer (trailing
// slashes, "//", "/."), and that no parent of a refused root is accepted:
// accepting it would hand the tool a directory holding a refused one.
func FuzzRootRefusal(f *testing.F) {
	for _, s := range []string{"/", "/var/lib", "/opt/openim", "/var/lib/openim-deploy/im.v2", "/home/ops", "/srv/im/data", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, root string) {
		refused := RootRefusal(root) != ""
		if !path.IsAbs(root) {
			if !refused {
				t.Fatalf("relative root %q accepted", root)
			}
			return
		}
		for _, variant := range []string{root + "/", root + "/.", strings.ReplaceAll(root, "/", "//"), path.Clean(root)} {
			if (RootRefusal(variant) != "") != refused {
				t.Fatalf("RootRefusal(%q) refused=%v but RootRefusal(%q) refused=%v", root, refused, variant, !refused)
			}
		}
		if refused {
			for p := path.Clean(root); p != "/"; p = path.Dir(p) {
				if RootRefusal(path.Dir(p)) == "" {
					t.Fatalf("%q is refused but its parent %q is accepted", root, path.Dir(p))
				}
			}
		}
	})
}
