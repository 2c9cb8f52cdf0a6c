package release

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeCurl and fakeWget stand in for the host's fetchers: they record
// their arguments (and, for curl -K -, their stdin) under $FAKE_FETCH_LOG
// and, as $FAKE_FETCH says, write $FAKE_BODY to their output file or fail
// as the real tool does when the store is unreachable.
const fakeCurl = `#!/bin/sh
printf '%s\n' "$*" >>"$FAKE_FETCH_LOG.args"
out=
while [ $# -gt 0 ]; do
	case $1 in
	-o) out=$2; shift ;;
	-K) if [ "$2" = - ]; then cat >>"$FAKE_FETCH_LOG.stdin"; fi; shift ;;
	esac
	shift
done
case $FAKE_FETCH in
ok) printf '%s' "$FAKE_BODY" >"$out" ;;
*) printf 'partial' >"$out"; echo "curl: (7) Failed to connect to store.example port 80 after 0 ms: Couldn't connect to server" >&2; exit 7 ;;
esac
`

const fakeWget = `#!/bin/sh
printf '%s\n' "$*" >>"$FAKE_FETCH_LOG.args"
out=
while [ $# -gt 0 ]; do
	case $1 in -O) out=$2; shift ;; esac
	shift
done
case $FAKE_FETCH in
ok) printf '%s' "$FAKE_BODY" >"$out" ;;
*) : >"$out"; echo "failed: Connection refused." >&2; exit 4 ;;
esac
`

// fetchPath makes a directory holding the tools fetch.sh and the command
// wrapper use, plus the given fakes, and makes it the whole PATH: a host
// with exactly these fetchers.
func fetchPath(t *testing.T, fakes map[string]string) {
	t.Helper()
	bin := t.TempDir()
	for _, name := range []string{"sh", "head", "sha256sum", "chmod", "mv", "rm", "cat"} {
		p, err := exec.LookPath(name)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(p, filepath.Join(bin, name)))
	}
	for name, script := range fakes {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755))
	}
	t.Setenv("PATH", bin)
	t.Setenv("FAKE_FETCH_LOG", filepath.Join(t.TempDir(), "log"))
}

// fetchHost is a Host with release id's partial directory prepared.
func fetchHost(t *testing.T) (Host, string) {
	t.Helper()
	h := newHost(t)
	id := "20261201-101500-000-ffff"
	require.NoError(t, os.MkdirAll(filepath.Join(h.PartialDir(id), "bin"), 0o755))
	return h, id
}

func logOf(t *testing.T, suffix string) string {
	b, err := os.ReadFile(os.Getenv("FAKE_FETCH_LOG") + suffix)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	return string(b)
}

// leftovers lists what is in the partial release's bin/ besides want.
func leftovers(t *testing.T, h Host, id string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(h.PartialDir(id), "bin"))
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

const storeURL = "http://store.example/openim/v3.8.3/openim-api"

// TestFetch pins fetch.sh on a real /bin/sh, against fake fetchers: the
// file is kept, with its mode, only when its SHA-256 is the one asked for;
// a mismatch names the hash got, a failed download the fetcher's message,
// a host without a fetcher says so; nothing else is ever left in the
// release, and curl is preferred.
func TestFetch(t *testing.T) {
	ctx := t.Context()
	body := "the openim-api binary"
	f := FetchFile{Rel: "bin/openim-api", URL: storeURL, SHA256: sha(body), Mode: 0o755}
	t.Setenv("FAKE_BODY", body)

	t.Run("curl", func(t *testing.T) {
		fetchPath(t, map[string]string{"curl": fakeCurl, "wget": fakeWget})
		t.Setenv("FAKE_FETCH", "ok")
		h, id := fetchHost(t)
		require.NoError(t, h.Fetch(ctx, id, f))
		dst := filepath.Join(h.PartialDir(id), "bin", "openim-api")
		got, err := os.ReadFile(dst)
		require.NoError(t, err)
		require.Equal(t, body, string(got))
		fi, err := os.Stat(dst)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
		require.Equal(t, []string{"openim-api"}, leftovers(t, h, id), "no temp file is left")
		args := logOf(t, ".args")
		require.Contains(t, args, "-fsSL --proto =http,https --proto-redir =http,https")
		require.True(t, strings.HasSuffix(strings.TrimSpace(args), " "+storeURL), args)
		require.NotContains(t, args, "-K", "no credentials, no config on stdin")
	})

	t.Run("wget when there is no curl", func(t *testing.T) {
		fetchPath(t, map[string]string{"wget": fakeWget})
		t.Setenv("FAKE_FETCH", "ok")
		h, id := fetchHost(t)
		require.NoError(t, h.Fetch(ctx, id, f))
		require.Equal(t, []string{"openim-api"}, leftovers(t, h, id))
		require.Contains(t, logOf(t, ".args"), "--tries=1")
	})

	t.Run("hash mismatch", func(t *testing.T) {
		for _, tool := range []string{"curl", "wget"} {
			fetchPath(t, map[string]string{tool: map[string]string{"curl": fakeCurl, "wget": fakeWget}[tool]})
			t.Setenv("FAKE_FETCH", "ok")
			t.Setenv("FAKE_BODY", "a binary from somewhere else")
			h, id := fetchHost(t)
			err := h.Fetch(ctx, id, f)
			require.ErrorIs(t, err, ErrHashMismatch, tool)
			require.ErrorContains(t, err, storeURL)
			require.ErrorContains(t, err, "SHA-256 "+sha("a binary from somewhere else")+", the playbook says "+f.SHA256)
			require.Empty(t, leftovers(t, h, id), "%s: nothing is kept", tool)
		}
	})

	t.Run("download failed", func(t *testing.T) {
		for tool, want := range map[string]string{"curl": "curl: (7) Failed to connect", "wget": "failed: Connection refused."} {
			fetchPath(t, map[string]string{tool: map[string]string{"curl": fakeCurl, "wget": fakeWget}[tool]})
			t.Setenv("FAKE_FETCH", "fail")
			h, id := fetchHost(t)
			err := h.Fetch(ctx, id, f)
			require.ErrorIs(t, err, ErrFetchFailed, tool)
			require.ErrorContains(t, err, "fetch bin/openim-api from "+storeURL+": download failed: "+want)
			require.Empty(t, leftovers(t, h, id), "%s: the partial download is removed", tool)
		}
	})

	t.Run("no fetcher", func(t *testing.T) {
		fetchPath(t, nil)
		h, id := fetchHost(t)
		err := h.Fetch(ctx, id, f)
		require.ErrorIs(t, err, ErrNoFetcher)
		require.ErrorContains(t, err, "neither curl nor wget found")
		require.Empty(t, leftovers(t, h, id))
	})
}

// TestFetchCredentials pins where credentials go: to curl on stdin, as a
// -K config line, never into its arguments; not to wget at all; and never
// into an error.
func TestFetchCredentials(t *testing.T) {
	ctx := t.Context()
	body := "the openim-api binary"
	header := `Authorization: Bearer s3cr3t"with\quotes`
	f := FetchFile{Rel: "bin/openim-api", URL: storeURL, SHA256: sha(body), Mode: 0o755, Header: header}
	t.Setenv("FAKE_BODY", body)

	fetchPath(t, map[string]string{"curl": fakeCurl})
	t.Setenv("FAKE_FETCH", "ok")
	h, id := fetchHost(t)
	require.NoError(t, h.Fetch(ctx, id, f))
	require.Equal(t, `header = "Authorization: Bearer s3cr3t\"with\\quotes"`+"\n", logOf(t, ".stdin"))
	args := logOf(t, ".args")
	require.Contains(t, args, " -K - "+storeURL)
	require.NotContains(t, args, "s3cr3t")

	t.Setenv("FAKE_FETCH", "fail")
	h, id = fetchHost(t)
	err := h.Fetch(ctx, id, f)
	require.ErrorIs(t, err, ErrFetchFailed)
	require.NotContains(t, err.Error(), "s3cr3t")

	fetchPath(t, map[string]string{"wget": fakeWget})
	t.Setenv("FAKE_FETCH", "ok")
	h, id = fetchHost(t)
	err = h.Fetch(ctx, id, f)
	require.ErrorIs(t, err, ErrNoFetcher, "wget cannot take credentials but on its command line")
	require.ErrorContains(t, err, "curl not found")
	require.NotContains(t, err.Error(), "s3cr3t")
	require.Empty(t, logOf(t, ".args"), "wget never ran")
}

// TestFetchRealTools runs fetch.sh with this machine's real curl and real
// wget (each alone on PATH; skipped when missing) against an HTTP server
// in the test: the file arrives byte for byte, curl sends the header it
// read from stdin, a 404 and a closed port fail the download, and a file
// with another hash is refused. It pins that the flags fetch.sh passes
// mean what it expects on the curl and GNU wget a Debian 12 host has.
func TestFetchRealTools(t *testing.T) {
	ctx := t.Context()
	body := strings.Repeat("openim-api ", 10000)
	var mu sync.Mutex
	var gotHeader []string
	headers := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return gotHeader
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotHeader = append(gotHeader, r.Header.Get("X-Store-Token"))
		mu.Unlock()
		switch r.URL.Path {
		case "/openim-api":
			_, _ = io.WriteString(w, body)
		case "/moved/openim-api":
			http.Redirect(w, r, "/openim-api", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + closed.Addr().String() + "/openim-api"
	require.NoError(t, closed.Close())

	for _, tool := range []string{"curl", "wget"} {
		t.Run(tool, func(t *testing.T) {
			real, err := exec.LookPath(tool)
			if err != nil {
				t.Skipf("no %s on this machine", tool)
			}
			fetchPath(t, map[string]string{tool: "#!/bin/sh\nexec " + real + " \"$@\"\n"})
			f := FetchFile{Rel: "bin/openim-api", URL: srv.URL + "/moved/openim-api", SHA256: sha(body), Mode: 0o755}
			if tool == "curl" {
				f.Header = "X-Store-Token: tok\"en"
			}
			mu.Lock()
			gotHeader = nil
			mu.Unlock()
			h, id := fetchHost(t)
			require.NoError(t, h.Fetch(ctx, id, f))
			got, err := os.ReadFile(filepath.Join(h.PartialDir(id), "bin", "openim-api"))
			require.NoError(t, err)
			require.Equal(t, body, string(got))
			if tool == "curl" {
				require.Equal(t, []string{`tok"en`, `tok"en`}, headers(), "the header, through the redirect on the same host")
			}

			f.Header = ""
			for _, url := range []string{srv.URL + "/missing/openim-api", closedURL} {
				f.URL = url
				h, id = fetchHost(t)
				require.ErrorIs(t, h.Fetch(ctx, id, f), ErrFetchFailed, url)
				require.Empty(t, leftovers(t, h, id))
			}

			f.URL, f.SHA256 = srv.URL+"/openim-api", sha("another build")
			h, id = fetchHost(t)
			err = h.Fetch(ctx, id, f)
			require.ErrorIs(t, err, ErrHashMismatch)
			require.ErrorContains(t, err, "SHA-256 "+sha(body))
			require.Empty(t, leftovers(t, h, id))
		})
	}
}
