package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/cli"
	"github.com/openimsdk/openim-deploy/internal/lab"
	"github.com/openimsdk/openim-deploy/internal/probe"
)

// artifactStore is an artifact store in the test process, listening on
// the controller's address on the lab bridge, which every lab host
// reaches. It serves files by name and counts the requests for each;
// with token set it answers 401 to a request without that bearer token.
type artifactStore struct {
	base  string
	files map[string][]byte
	token string

	mu   sync.Mutex
	hits map[string]int
	auth []string // the Authorization header of every request
}

func newArtifactStore(t *testing.T, l *lab.Lab, files map[string][]byte, token string) *artifactStore {
	t.Helper()
	require.NotEmpty(t, l.ControllerAddress, "lab.json names the controller's address on the lab network")
	ln, err := net.Listen("tcp", net.JoinHostPort(l.ControllerAddress, "0"))
	require.NoError(t, err)
	s := &artifactStore{base: "http://" + ln.Addr().String(), files: files, token: token, hits: map[string]int{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		s.mu.Lock()
		s.hits[name]++
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		b, ok := s.files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *artifactStore) url(name string) string { return s.base + "/" + name }

func (s *artifactStore) requests() (map[string]int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hits := map[string]int{}
	for k, v := range s.hits {
		hits[k] = v
	}
	return hits, append([]string(nil), s.auth...)
}

// closedURL is a URL on the controller's lab address where nothing
// listens: the host's fetcher is refused at once.
func closedURL(t *testing.T, l *lab.Lab, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(l.ControllerAddress, "0"))
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr + "/" + name
}

// useArtifacts rewrites d's playbook so that each named binary is
// artifact(URL, SHA256[, OPTIONS]) instead of the local file.
func (d *deploy) useArtifacts(exprs map[string]string) {
	d.t.Helper()
	p := filepath.Join(d.dir, "playbook.hcl")
	src, err := os.ReadFile(p)
	require.NoError(d.t, err)
	pb := string(src)
	for name, expr := range exprs {
		re := regexp.MustCompile(`binary( *)= "\$\{var\.bin_dir\}/` + regexp.QuoteMeta(name) + `"`)
		require.Regexp(d.t, re, pb)
		pb = re.ReplaceAllLiteralString(pb, "binary = "+expr)
	}
	require.NoError(d.t, os.WriteFile(p, []byte(pb), 0o644))
}

// artifactExpr is artifact(url, "sha256:<sha>"[, options]) in HCL.
func artifactExpr(url, sha, options string) string {
	if options != "" {
		return fmt.Sprintf("artifact(%q, %q, %s)", url, "sha256:"+sha, options)
	}
	return fmt.Sprintf("artifact(%q, %q)", url, "sha256:"+sha)
}

// standinBinaries are the harness's binaries, all the stand-in.
var standinBinaries = []string{"check-component", "openim-rpc-user", "openim-api", "openim-crontask"}

// installFetcher installs tool (curl or wget) on host from the packages
// the controller's apt downloads (lab hosts have no network) when the
// host lacks it, and purges exactly the packages it installed in a
// cleanup. It skips the test when the packages cannot be fetched.
func installFetcher(t *testing.T, l *lab.Lab, host, tool string) {
	t.Helper()
	if out, err := l.Exec(t, host, "sh", "-c", "command -v "+tool); err == nil && strings.TrimSpace(out) != "" {
		return
	}
	pkgs := map[string][]string{
		"wget": {"wget", "libpsl5"},
		"curl": {"curl", "libcurl4", "libnghttp2-14", "librtmp1", "libssh2-1", "libpsl5", "libldap-2.5-0",
			"libbrotli1", "libsasl2-2", "libsasl2-modules-db"},
	}[tool]
	var missing []string
	for _, p := range pkgs {
		if out, err := l.Exec(t, host, "dpkg-query", "-W", "-f=${Status}", p); err != nil || !strings.Contains(out, "install ok installed") {
			missing = append(missing, p)
		}
	}
	dir := t.TempDir()
	get := exec.Command("apt-get", append([]string{"download"}, missing...)...)
	get.Dir = dir
	if out, err := get.CombinedOutput(); err != nil {
		t.Skipf("%s packages not available to the controller (%v): %s", tool, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	require.Len(t, debs, len(missing), "apt-get download %v", missing)
	h := l.Host(t, host)
	// Not /tmp: the host mounts its own tmpfs over the overlay's /tmp.
	stage := filepath.Join(h.Rootfs, "root", "oimtest-"+tool)
	require.NoError(t, os.MkdirAll(stage, 0o755))
	for _, deb := range debs {
		b, err := os.ReadFile(deb)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(stage, filepath.Base(deb)), b, 0o644))
	}
	out, err := l.Exec(t, host, "sh", "-c", `dpkg -i "$1"/*.deb; s=$?; rm -rf "$1"; exit $s`, "sh", "/root/oimtest-"+tool)
	require.NoError(t, err, out)
	t.Cleanup(func() {
		if out, err := l.Exec(t, host, append([]string{"dpkg", "-P"}, missing...)...); err != nil {
			t.Errorf("purge %v on %s: %v\n%s", missing, host, err, out)
		}
	})
}

func sha256Sum(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

func standinSHA(t *testing.T) ([]byte, string) {
	t.Helper()
	b, err := os.ReadFile(standinPath)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// TestArtifactNoFetcherIsRefused: a host with neither curl nor wget that
// an artifact is placed on is refused by pre-flight, by name, before any
// host is changed or the store is asked for anything.
func TestArtifactNoFetcherIsRefused(t *testing.T) {
	l := lab.Require(t)
	host := "lab-1"
	if out, _ := l.Exec(t, host, "sh", "-c", "command -v curl wget; true"); strings.TrimSpace(out) != "" {
		t.Skipf("%s has a fetcher already (%s): this test needs a host without", host, strings.TrimSpace(out))
	}
	body, sum := standinSHA(t)
	store := newArtifactStore(t, l, map[string][]byte{"openim-api": body}, "")
	d := fresh(t, l, "e2eart0", 22700, host)
	d.useArtifacts(map[string]string{"openim-api": artifactExpr(store.url("openim-api"), sum, "")})

	res := d.run("apply")
	require.Equal(t, cli.ExitPreflight, res.Code, res.Out)
	require.Contains(t, res.Out, "[lab-1] error: refused: fetch: neither curl nor wget found: the host fetches "+store.url("openim-api")+" itself")
	out, err := l.Exec(t, host, "sh", "-c", "ls -d /opt/e2eart0 2>&1; true")
	require.NoError(t, err)
	require.Contains(t, out, "No such file", "nothing was created on the host")
	hits, _ := store.requests()
	require.Empty(t, hits)
}

// TestArtifactPulled deploys a playbook whose every binary is an artifact
// in a store on the controller's lab address: each host fetches the
// stand-in itself, once (the other names link the same content), and
// every unit runs it; the controller sends kilobytes, far below one copy
// of the binary. A re-apply fetches nothing. Then a wrong SHA-256 fails
// the push before anything restarts, naming the URL and the hash the host
// got, and an unreachable store fails the same way, naming the URL.
func TestArtifactPulled(t *testing.T) {
	l := lab.Require(t)
	hosts := []string{"lab-1", "lab-2"}
	for _, h := range hosts {
		installFetcher(t, l, h, "wget")
	}
	body, sum := standinSHA(t)
	files := map[string][]byte{}
	exprs := map[string]string{}
	store := newArtifactStore(t, l, files, "")
	for _, name := range standinBinaries {
		files[name] = body
		exprs[name] = artifactExpr(store.url(name), sum, "")
	}
	d := fresh(t, l, "e2eart1", 22700, hosts...)
	d.useArtifacts(exprs)

	plan := d.run("plan")
	require.Equal(t, cli.ExitOK, plan.Code, plan.Out)
	require.Contains(t, plan.Out, "bin/check-component (fetched by the host from "+store.url("check-component")+")")
	hits, _ := store.requests()
	require.Empty(t, hits, "the plan downloads nothing: the hash is in the playbook")

	// The release also carries the readiness probes (the services have
	// tcp and http probes), which the controller does send: at most their
	// size, whatever the compression.
	var probeBytes int64
	bins, err := probe.Binaries()
	require.NoError(t, err)
	for _, b := range bins {
		probeBytes += b.Size
	}
	require.Less(t, probeBytes+int64(len(body)/20), int64(len(body)), "the bound still tells a sent binary apart")
	res, c := d.runCounted("apply")
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	require.Regexp(t, `\] release \S+: \d+ files sent \(\d+ bytes\), 1 fetched by the host, 3 already on the host`, res.Out)
	for _, h := range hosts {
		sent := c.Host(h).BytesSent.Load()
		t.Logf("%s: the controller sent %d bytes; the artifact is %d, the readiness probes %d", h, sent, len(body), probeBytes)
		require.Less(t, sent, probeBytes+int64(len(body)/20), "%s: the controller sent %d bytes, the binary is %d", h, sent, len(body))
		out, err := l.Exec(t, h, "sh", "-c", `for f in "$1"/current/bin/*; do sha256sum <"$f" | cut -d' ' -f1; stat -c %a "$f"; done`, "sh", "/opt/e2eart1")
		require.NoError(t, err, out)
		want := strings.Repeat(sum+" 755 ", len(standinBinaries))
		require.Equal(t, strings.Fields(want), strings.Fields(out), "every binary on %s is the stand-in, 0755", h)
		require.Empty(t, d.leftovers(h), "no temp file or partial release on %s", h)
		for _, st := range d.show(h, d.units()[1:]...) {
			require.Equal(t, "active", st["ActiveState"], "%s on %s", st["Id"], h)
		}
	}
	hits, _ = store.requests()
	require.Equal(t, map[string]int{"check-component": len(hosts)}, hits, "one download per host: the other names are the same content, linked")

	res = d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	require.Contains(t, res.Out, "Plan: no changes.")
	hits, _ = store.requests()
	require.Equal(t, len(hosts), hits["check-component"], "a converged host fetches nothing")

	before := map[string]string{}
	for _, h := range hosts {
		before[h] = d.fingerprint(h)
	}
	starts := d.starts()

	t.Run("wrong hash", func(t *testing.T) {
		wrong := strings.Repeat("0", 64)
		rewriteArtifact(t, d, store.url("openim-api"), sum, wrong)
		res := d.run("apply")
		require.Equal(t, cli.ExitError, res.Code, res.Out)
		require.Contains(t, res.Out, "fetch bin/openim-api from "+store.url("openim-api"))
		require.Contains(t, res.Out, "the host got a file with SHA-256 "+sum+", the playbook says "+wrong)
		for _, h := range hosts {
			require.Equal(t, before[h], d.fingerprint(h), "nothing changed on %s", h)
		}
		require.Equal(t, starts, d.starts(), "nothing restarted")
		rewriteArtifact(t, d, store.url("openim-api"), wrong, sum)
	})

	t.Run("unreachable store", func(t *testing.T) {
		gone := closedURL(t, l, "openim-api")
		other := strings.Repeat("1", 64) // on no host: it must be fetched
		rewriteArtifactURL(t, d, store.url("openim-api"), sum, gone, other)
		res := d.run("apply")
		require.Equal(t, cli.ExitError, res.Code, res.Out)
		require.Contains(t, res.Out, "fetch bin/openim-api from "+gone+": download failed")
		for _, h := range hosts {
			require.Equal(t, before[h], d.fingerprint(h), "nothing changed on %s", h)
		}
		require.Equal(t, starts, d.starts(), "nothing restarted")
		rewriteArtifactURL(t, d, gone, other, store.url("openim-api"), sum)
	})

	// Back to the store's artifact: the next apply converges and leaves no
	// partial release of the failed runs behind.
	res = d.run("apply")
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	for _, h := range hosts {
		require.Empty(t, d.leftovers(h), h)
	}
}

// rewriteArtifact changes the SHA-256 of the artifact at url in d's playbook.
func rewriteArtifact(t *testing.T, d *deploy, url, from, to string) {
	t.Helper()
	rewriteArtifactURL(t, d, url, from, url, to)
}

// rewriteArtifactURL replaces the URL and SHA-256 of artifact(url, from...)
// in d's playbook by toURL and to, options untouched.
func rewriteArtifactURL(t *testing.T, d *deploy, url, from, toURL, to string) {
	t.Helper()
	p := filepath.Join(d.dir, "playbook.hcl")
	src, err := os.ReadFile(p)
	require.NoError(t, err)
	old := fmt.Sprintf("artifact(%q, %q", url, "sha256:"+from)
	repl := fmt.Sprintf("artifact(%q, %q", toURL, "sha256:"+to)
	require.Contains(t, string(src), old)
	require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(src), old, repl, 1)), 0o644))
}

// TestArtifactCredentials fetches from a store that wants a bearer token,
// given as a sensitive variable, logged in as a user with sudo (become):
// the host's curl, run as that user like the uploads, sends the token
// (read on stdin), the deploy runs, and the token is nowhere: not in the
// output, not in a file the tool wrote on the host (release, manifest,
// units, state). A wrong token fails the download, naming the URL.
func TestArtifactCredentials(t *testing.T) {
	l := lab.Require(t)
	host := "lab-3"
	installFetcher(t, l, host, "curl")
	const token = "e2e-st0re-t0ken-5ecret"
	// Another build than the local stand-ins the other units send, or the
	// plan would link it from them (same content) and fetch nothing.
	standin, _ := standinSHA(t)
	body := append(standin, "\x00built for the store"...)
	sum := hex.EncodeToString(sha256Sum(body))
	store := newArtifactStore(t, l, map[string][]byte{"openim-api": body}, token)
	d := fresh(t, l, "e2eart2", 22800, host)
	d.asUser("deploy")
	d.playbook = `variable "store_token" { sensitive = true }`
	d.writePlaybook()
	d.useArtifacts(map[string]string{"openim-api": artifactExpr(store.url("openim-api"), sum,
		`{ header = "Authorization: Bearer ${var.store_token}" }`)})
	t.Setenv("OPENIM_DEPLOY_VAR_store_token", token)

	res := d.run("apply", "-v")
	require.Equal(t, cli.ExitOK, res.Code, res.Out)
	require.Contains(t, res.Out, "[lab-3] fetched bin/openim-api from "+store.url("openim-api"))
	require.NotContains(t, res.Out, token)
	_, auth := store.requests()
	require.Equal(t, []string{"Bearer " + token}, auth)
	out, err := l.Exec(t, host, "sh", "-c", `grep -rlF -- "$1" /opt/e2eart2 /etc/systemd/system /var/lib/openim-deploy/e2eart2 2>/dev/null; true`, "sh", token)
	require.NoError(t, err, out)
	require.Empty(t, strings.TrimSpace(out), "the token is in no file on the host")
	for _, st := range d.show(host, "api@0.service") {
		require.Equal(t, "active", st["ActiveState"])
	}
	out, err = l.Exec(t, host, "stat", "-c", "%U %a", "/opt/e2eart2/current/bin/openim-api")
	require.NoError(t, err, out)
	require.Equal(t, "root 755", strings.TrimSpace(out), "fetched as the login user, root's once committed")

	t.Setenv("OPENIM_DEPLOY_VAR_store_token", "not-the-t0ken")
	rewriteArtifact(t, d, store.url("openim-api"), sum, strings.Repeat("2", 64))
	res = d.run("apply")
	require.Equal(t, cli.ExitError, res.Code, res.Out)
	require.Contains(t, res.Out, "fetch bin/openim-api from "+store.url("openim-api")+": download failed")
	require.Contains(t, res.Out, "401")
	require.NotContains(t, res.Out, "not-the-t0ken")
}
