package release

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/unit"
)

// TestGatherReportsForeignFiles: of the paths apply would write, gather
// reports every one that is there without this app's header (none,
// another app's, a look-alike), a symbolic link or a directory, with its
// first line; the app's own files, legacy headers and absent paths are not
// reported, and nothing is changed.
func TestGatherReportsForeignFiles(t *testing.T) {
	h := newHost(t)
	write := func(rel, content string) {
		p := filepath.Join(h.UnitDir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("x@.service", "[Unit]\nDescription=theirs\n")
	write("y@.service", "# Managed by openim-deploy (app=other): changes here are overwritten by the next apply.\n[Unit]\n")
	write("z.service", "# Managed by openim-deploy (app=demo-2): look-alike\n")
	write("ours@.service", demoHeader+"[Unit]\n")
	write("old.service", "# Managed by openim-deploy: changes here are overwritten by the next apply.\n")
	write("x@0.service.d/release.conf", "[Service]\nWorkingDirectory=/srv\n")
	write("empty.service", "")
	require.NoError(t, os.Symlink("/dev/null", filepath.Join(h.UnitDir, "masked.service")))
	require.NoError(t, os.MkdirAll(filepath.Join(h.UnitDir, "dir.target"), 0o755))
	before := hashTree(t, h.UnitDir)

	st, err := h.Gather(t.Context(), Request{
		Files: []string{"x@.service", "y@.service", "z.service", "ours@.service", "old.service",
			"x@0.service.d/release.conf", "empty.service", "masked.service", "dir.target", "absent.service"},
		ShowProperties: "Id",
	})
	require.NoError(t, err)
	require.Equal(t, []Foreign{
		{Rel: "x@.service", Kind: "file", What: "[Unit]"},
		{Rel: "y@.service", Kind: "file", What: "# Managed by openim-deploy (app=other): changes here are overwritten by the next apply."},
		{Rel: "z.service", Kind: "file", What: "# Managed by openim-deploy (app=demo-2): look-alike"},
		{Rel: "x@0.service.d/release.conf", Kind: "file", What: "[Service]"},
		{Rel: "empty.service", Kind: "file", What: ""},
		{Rel: "masked.service", Kind: "link", What: "/dev/null"},
		{Rel: "dir.target", Kind: "other"},
	}, st.Foreign)
	require.Equal(t, before, hashTree(t, h.UnitDir), "gather changes nothing")
}

// TestGatherReportsShadowedUnits: a unit file apply would install where
// none is yet, but a unit of that name is in a directory systemd also
// loads from (a package's nginx.service), is reported with the first such
// directory; drop-ins and names found nowhere are not.
func TestGatherReportsShadowedUnits(t *testing.T) {
	h := newHost(t)
	vendor, run := t.TempDir(), t.TempDir()
	h.ShadowDirs = []string{run, filepath.Join(t.TempDir(), "absent"), vendor}
	for _, p := range []string{filepath.Join(vendor, "nginx.service"), filepath.Join(run, "web@.service"), filepath.Join(vendor, "web@.service"),
		filepath.Join(vendor, "x@0.service.d", "release.conf")} {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("[Unit]\n"), 0o644))
	}
	require.NoError(t, os.Symlink("/dev/null", filepath.Join(vendor, "masked.target")))
	require.NoError(t, os.WriteFile(filepath.Join(h.UnitDir, "ours.service"), []byte(demoHeader), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(vendor, "ours.service"), []byte("[Unit]\n"), 0o644))

	st, err := h.Gather(t.Context(), Request{
		Files:          []string{"nginx.service", "web@.service", "masked.target", "x@0.service.d/release.conf", "api@.service", "ours.service"},
		ShowProperties: "Id",
	})
	require.NoError(t, err)
	require.Equal(t, []Foreign{
		{Rel: "nginx.service", Kind: "shadows", What: filepath.Join(vendor, "nginx.service")},
		{Rel: "web@.service", Kind: "shadows", What: filepath.Join(run, "web@.service")},
		{Rel: "masked.target", Kind: "shadows", What: filepath.Join(vendor, "masked.target")},
	}, st.Foreign, "the app's own file already in place is judged by its header alone")
}

// TestInstallRefusesForeignFiles: install.sh replaces or removes a file
// only when its header is the app's; a file without it (or another app's,
// or a symbolic link) makes it exit 5 having installed and removed nothing,
// the file byte-identical and no temp file left behind.
func TestInstallRefusesForeignFiles(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		put  func(p string)
		del  bool
	}{
		{"no header", func(p string) { require.NoError(t, os.WriteFile(p, []byte("[Unit]\nDescription=theirs\n"), 0o644)) }, false},
		{"another app", func(p string) {
			require.NoError(t, os.WriteFile(p, []byte("# Managed by openim-deploy (app=other): x\n[Unit]\n"), 0o644))
		}, false},
		{"symlink", func(p string) { require.NoError(t, os.Symlink("/dev/null", p)) }, false},
		{"removal of no header", func(p string) { require.NoError(t, os.WriteFile(p, []byte("[Unit]\n"), 0o644)) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t)
			tc.put(filepath.Join(h.UnitDir, "x@.service"))
			before := hashTree(t, h.UnitDir)
			f := File{Rel: "x@.service", Content: []byte(demoHeader + "[Service]\n"), Delete: tc.del}
			err := h.Install(ctx, []File{{Rel: "new@.service", Content: []byte(demoHeader)}, f})
			require.ErrorIs(t, err, ErrForeignFile)
			require.ErrorContains(t, err, filepath.Join(h.UnitDir, "x@.service")+" exists and was not written by openim-deploy for app demo")
			require.Equal(t, before, hashTree(t, h.UnitDir), "nothing installed, removed or left behind")
		})
	}
	// The app's own file, and one from before apps were named, are replaced.
	h := newHost(t)
	for _, old := range []string{demoHeader + "[Unit]\n", "# Managed by openim-deploy: old\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(h.UnitDir, "x@.service"), []byte(old), 0o644))
		require.NoError(t, h.Install(ctx, []File{{Rel: "x@.service", Content: []byte(demoHeader + "[Service]\n")}}))
		got, err := os.ReadFile(filepath.Join(h.UnitDir, "x@.service"))
		require.NoError(t, err)
		require.Equal(t, demoHeader+"[Service]\n", string(got))
	}
}

// hashTree maps every entry under dir to its kind and content's hash.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			to, err := os.Readlink(p)
			out[rel] = "link " + to
			return err
		case fi.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			out[rel] = fmt.Sprintf("file %x", sha256.Sum256(b))
			return err
		}
		return nil
	}))
	return out
}

// headerLines are first lines near the header's edges, for the twin test
// and the fuzz corpus.
var headerLines = []string{
	"# Managed by openim-deploy (app=demo): changes here are overwritten by the next apply.",
	"# Managed by openim-deploy (app=demo)",
	"# Managed by openim-deploy (app=demo",
	"# Managed by openim-deploy (app=demo-2): x",
	"# Managed by openim-deploy (app=de mo): x",
	"# Managed by openim-deploy (app=): x",
	"# Managed by openim-deploy (app=-x): x",
	"# Managed by openim-deploy (app=.x)",
	"# Managed by openim-deploy (app=a.b_c-d)",
	"# Managed by openim-deploy (app=a*)",
	"# Managed by openim-deploy (app=a)b)",
	"# Managed by openim-deploy (app=\xc3\xa9)",
	"# Managed by openim-deploy: changes here are overwritten by the next apply.",
	"# Managed by openim-deploy:",
	"# Managed by openim-deploy",
	"# Managed by openim-deploy. Secret values: keep this file 0600 root.",
	" # Managed by openim-deploy (app=demo)",
	"# managed by openim-deploy (app=demo)",
	"[Unit]",
	"",
	"# Managed by openim-deploy (app=demo)\r",
	"# Managed by openim-deploy (app=demo\\)",
	"# Managed by openim-deploy (app=$(reboot))",
	"# Managed by openim-deploy (app=[a-z])",
}

// TestHeaderTwins: header.sh's header_app and unit.ParseHeader read every
// line alike (the sh one guards install.sh and gather.sh on the host, the
// Go one explains refusals): the table above, and mutations of it.
func TestHeaderTwins(t *testing.T) {
	lines := append([]string(nil), headerLines...)
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab-_.)( :=\\*?[]$'\"\t\r\x01\x7f\xc3\xa9#")
	for range 400 {
		l := []byte(headerLines[rng.IntN(len(headerLines))])
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(l) + 1)
			switch rng.IntN(3) {
			case 0: // insert
				l = append(l[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, l[i:]...)...)
			case 1: // delete
				if i < len(l) {
					l = append(l[:i], l[i+1:]...)
				}
			default: // cut
				l = l[:i]
			}
		}
		lines = append(lines, string(l))
	}
	var in bytes.Buffer
	for _, l := range lines {
		in.WriteString(l + "\n")
	}
	sh := headerFunc + `LC_ALL=C; export LC_ALL
while IFS= read -r l; do
	if header_app "$l"; then printf 'yes %s\n' "$hdr_app"; else echo no; fi
done`
	cmd := exec.Command("sh", "-c", sh)
	cmd.Stdin = &in
	out, err := cmd.Output()
	require.NoError(t, err)
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, got, len(lines))
	for i, l := range lines {
		want := "no"
		if app, ok := unit.ParseHeader(l); ok {
			want = "yes " + app
		}
		require.Equal(t, strings.TrimRight(want, " "), strings.TrimRight(got[i], " "), "line %q", l)
	}
}

// TestParseGatherForeign: a foreign line keeps the whole first line,
// blanks included, and an empty one.
func TestParseGatherForeign(t *testing.T) {
	st, err := ParseGather([]byte("foreign x@.service file # my own  unit \nforeign a.target other\nforeign b.service file \nforeign c.service link /dev/null\n"))
	require.NoError(t, err)
	require.Equal(t, []Foreign{
		{Rel: "x@.service", Kind: "file", What: "# my own  unit "},
		{Rel: "a.target", Kind: "other"},
		{Rel: "b.service", Kind: "file"},
		{Rel: "c.service", Kind: "link", What: "/dev/null"},
	}, st.Foreign)
}
