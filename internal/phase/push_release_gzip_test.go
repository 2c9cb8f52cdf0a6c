package phase

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/osinfo"
	"github.com/openimsdk/openim-deploy/internal/plan"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
	"github.com/openimsdk/openim-deploy/internal/ui"
)

// gzipFake is a Fake host that answers target.StageFilesGzip's command the
// way the real script does: it decompresses stdin (the files' gzip members
// one after the other), cuts it into the files by their sizes and installs
// them. missing makes it answer as a host without gzip (exit 3). wire
// counts the compressed bytes it received.
type gzipFake struct {
	*targettest.Fake
	wire int64
}

func newGzipFake(t *testing.T, name string, missing bool) *gzipFake {
	g := &gzipFake{Fake: targettest.NewFake(name)}
	for _, d := range []string{"/r/bin", "/r/config", "/r/env"} {
		require.NoError(t, g.MkdirAll(d, 0o755))
	}
	g.OnFunc(targettest.Contains("openim-deploy-gz"), func(cmd target.Cmd) (target.Result, error) {
		if missing {
			return target.Result{}, &target.ExitError{Cmd: cmd.String(), Code: 3, Stderr: "gzip or dd not found"}
		}
		// Args: sh -c SCRIPT $0 N (dst mode size)...
		n, err := strconv.Atoi(cmd.Args[4])
		require.NoError(t, err)
		raw, err := io.ReadAll(cmd.Stdin)
		require.NoError(t, err)
		g.wire += int64(len(raw))
		zr, err := gzip.NewReader(bytes.NewReader(raw)) // multistream: every member
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		for i := range n {
			dst, modeS, sizeS := cmd.Args[5+3*i], cmd.Args[6+3*i], cmd.Args[7+3*i]
			size, err := strconv.Atoi(sizeS)
			require.NoError(t, err)
			mode, err := strconv.ParseUint(modeS, 8, 32)
			require.NoError(t, err)
			g.AddFile(dst, plain[:size], fs.FileMode(mode))
			plain = plain[size:]
		}
		require.Empty(t, plain, "the stream holds exactly the files")
		return target.Result{}, nil
	})
	return g
}

// send stages h's uploads under /r as pushRelease does, with z.
func send(t *testing.T, r *Run, h *Host, z *gzipUploads) int64 {
	t.Helper()
	_, wire, err := sendFiles(t.Context(), r, h, h.Plan.Uploads, "/r", nil, z)
	require.NoError(t, err)
	return wire
}

// artifact describes a local file as the plan would.
func artifact(t *testing.T, rel string, content []byte) plan.Artifact {
	p := filepath.Join(t.TempDir(), filepath.Base(rel))
	require.NoError(t, os.WriteFile(p, content, 0o755))
	h := sha256.Sum256(content)
	return plan.Artifact{Rel: rel, SHA256: hex.EncodeToString(h[:]), Size: int64(len(content)), Mode: 0o755, Local: p}
}

func contentArtifact(rel string, content []byte) plan.Artifact {
	h := sha256.Sum256(content)
	return plan.Artifact{Rel: rel, SHA256: hex.EncodeToString(h[:]), Size: int64(len(content)), Mode: 0o640, Content: content}
}

// binaryLike is n bytes that compress about as a Go binary does.
func binaryLike(n int) []byte {
	var b bytes.Buffer
	noise := make([]byte, 48)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "runtime.gopanic %d main.(*server).handle\n", i%97)
		_, _ = rand.Read(noise)
		b.Write(noise)
	}
	return b.Bytes()[:n]
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// gzipHostRun is a run over hosts whose facts say whether they have gzip.
func gzipHostRun(out io.Writer, withGzip ...bool) (*Run, []*Host) {
	r := &Run{Out: ui.New(out, ui.Options{})}
	var hosts []*Host
	for i, gz := range withGzip {
		h := &Host{Config: &config.Host{Name: fmt.Sprintf("h%d", i+1)}, Plan: &plan.HostPlan{}}
		if gz {
			h.Facts = osinfo.Facts{Gzip: "/usr/bin/gzip"}
		}
		hosts = append(hosts, h)
	}
	return r, hosts
}

// TestUploadAutoCompressesLargeBinaries pins what "auto" sends gzipped: a
// large file that compresses well goes on one exec session, compressed
// once however many hosts receive it; a small file and a large one that
// does not compress go over SFTP as they are.
func TestUploadAutoCompressesLargeBinaries(t *testing.T) {
	bin := artifact(t, "bin/api", binaryLike(2<<20))
	conf := artifact(t, "config/c.yml", []byte("x: 1\n"))
	noise := artifact(t, "bin/packed", random(2<<20))
	z := newGzipUploads(config.CompressAuto)
	defer z.Close()
	r, hosts := gzipHostRun(io.Discard, true, true)
	for _, h := range hosts {
		g := newGzipFake(t, h.Config.Name, false)
		h.Target, h.Plan.Uploads = g, []plan.Artifact{bin, conf, noise}
		hz := z.forHost(t.Context(), r, h)
		require.NotNil(t, hz)
		send(t, r, h, hz)
		files := g.Files()
		require.Equal(t, binaryLikeOf(t, bin), files["/r/bin/api"].Data)
		require.Equal(t, os.FileMode(0o755), files["/r/bin/api"].Mode.Perm())
		require.Len(t, g.Calls(), 1, "only the binary goes on an exec session")
		require.Less(t, g.wire, bin.Size*3/4)
		require.Contains(t, files, "/r/config/c.yml")
		require.Contains(t, files, "/r/bin/packed")
	}
	require.Len(t, z.copies, 2, "one compressed copy of the binary, one refusal for the noise")
	entries, err := os.ReadDir(z.dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the binary was compressed once for both hosts")
}

func binaryLikeOf(t *testing.T, a plan.Artifact) []byte {
	b, err := os.ReadFile(a.Local)
	require.NoError(t, err)
	return b
}

// TestUploadAlwaysAndNever: "always" sends every file gzipped, generated
// content included (streamed, never written to the controller's disk);
// "never" sends everything over SFTP.
func TestUploadAlwaysAndNever(t *testing.T) {
	small := artifact(t, "config/c.yml", []byte("x: 1\n"))
	env := contentArtifact("env/api.env", []byte("SECRET=s3cr3t\n"))
	for _, tt := range []struct {
		mode  config.Compress
		execs int
	}{{config.CompressAlways, 1}, {config.CompressNever, 0}} {
		t.Run(string(tt.mode), func(t *testing.T) {
			z := newGzipUploads(tt.mode)
			defer z.Close()
			r, hosts := gzipHostRun(io.Discard, true)
			g := newGzipFake(t, "h1", false)
			hosts[0].Target, hosts[0].Plan.Uploads = g, []plan.Artifact{small, env}
			send(t, r, hosts[0], z.forHost(t.Context(), r, hosts[0]))
			require.Len(t, g.Calls(), tt.execs, "every file on one exec session, or none")
			require.Equal(t, "SECRET=s3cr3t\n", string(g.Files()["/r/env/api.env"].Data))
			require.Equal(t, os.FileMode(0o640), g.Files()["/r/env/api.env"].Mode.Perm())
			require.NotContains(t, z.copies, env.SHA256, "generated content is never written to the controller's disk")
		})
	}
}

// TestUploadHostWithoutGzip: a host whose facts show no gzip gets every
// file over SFTP, with one note; a host whose facts said gzip but whose
// script found none (exit 3) gets the file over SFTP too.
func TestUploadHostWithoutGzip(t *testing.T) {
	bin := artifact(t, "bin/api", binaryLike(2<<20))
	z := newGzipUploads(config.CompressAlways)
	defer z.Close()
	var out bytes.Buffer
	r, hosts := gzipHostRun(&out, false, true)
	g := newGzipFake(t, "h1", false)
	lacking := newGzipFake(t, "h2", true)
	hosts[0].Target, hosts[0].Plan.Uploads = g, []plan.Artifact{bin}
	hosts[1].Target, hosts[1].Plan.Uploads = lacking, []plan.Artifact{bin}

	hz := z.forHost(t.Context(), r, hosts[0])
	require.Nil(t, hz)
	require.Equal(t, bin.Size, send(t, r, hosts[0], hz))
	require.Empty(t, g.Calls())
	require.Contains(t, g.Files(), "/r/bin/api")
	require.Equal(t, 1, strings.Count(out.String(), "no gzip on the host"), out.String())

	require.Equal(t, bin.Size, send(t, r, hosts[1], z.forHost(t.Context(), r, hosts[1])))
	require.Len(t, lacking.Calls(), 1)
	require.Equal(t, binaryLikeOf(t, bin), lacking.Files()["/r/bin/api"].Data)
}

// measured is a gzip host that reports a fixed SSH round trip.
type measured struct {
	*gzipFake
	rtt time.Duration
}

func (m measured) RoundTrip(context.Context) (time.Duration, error) { return m.rtt, nil }

// TestUploadAutoSkipsFastLinks: under "auto" a host on a local link (round
// trip under autoMinRTT) gets its files as they are, where the host's
// gzip -dc would be slower than the wire; a host on a long link gets them
// compressed. "always" ignores the link.
func TestUploadAutoSkipsFastLinks(t *testing.T) {
	bin := artifact(t, "bin/api", binaryLike(2<<20))
	for _, tt := range []struct {
		mode config.Compress
		rtt  time.Duration
		gzip bool
	}{
		{config.CompressAuto, 300 * time.Microsecond, false},
		{config.CompressAuto, 20 * time.Millisecond, true},
		{config.CompressAlways, 300 * time.Microsecond, true},
	} {
		t.Run(fmt.Sprintf("%s/%s", tt.mode, tt.rtt), func(t *testing.T) {
			z := newGzipUploads(tt.mode)
			defer z.Close()
			var out bytes.Buffer
			r, hosts := gzipHostRun(&out, true)
			r.Out = ui.New(&out, ui.Options{Verbose: true})
			g := measured{newGzipFake(t, "h1", false), tt.rtt}
			hosts[0].Target, hosts[0].Plan.Uploads = g, []plan.Artifact{bin}
			n := send(t, r, hosts[0], z.forHost(t.Context(), r, hosts[0]))
			require.Equal(t, binaryLikeOf(t, bin), g.Files()["/r/bin/api"].Data)
			if tt.gzip {
				require.Len(t, g.Calls(), 1)
				require.Less(t, n, bin.Size)
			} else {
				require.Empty(t, g.Calls())
				require.Equal(t, bin.Size, n)
				require.Contains(t, out.String(), "a local link, files are sent as they are")
			}
		})
	}
}
