package remote_test

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
	"github.com/openimsdk/openim-deploy/internal/target/targettest"
)

// BenchmarkUploadLink compares sending a Go binary (this test binary) over
// SFTP with sending it gzipped on an exec session, on loopback as it is
// ("direct") and through a proxy that shapes both directions like the
// bench's netem ("shaped": 10 ms each way, 100 Mbit/s). One host, one
// file: it isolates the transport from the lab's 6 hosts sharing the
// controller's cores, which make bench_table_test.go's figures.
// The gzip cases compress as they send (one host's cost of a file).
func BenchmarkUploadLink(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	plain, err := os.ReadFile(self)
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(plain)
	want := hex.EncodeToString(sum[:])
	for _, link := range []string{"direct", "shaped"} {
		for _, how := range []struct {
			name  string
			level int // 0: SFTP, as it is
		}{{"sftp", 0}, {"gzip-1", gzip.BestSpeed}, {"gzip-6", gzip.DefaultCompression}} {
			b.Run(link+"/"+how.name, func(b *testing.B) {
				var h *targettest.Host
				dir := b.TempDir()
				if how.level == 0 {
					h = targettest.NewHost(b)
				} else {
					h = targettest.NewHost(b, targettest.WithInterpreter((&realShell{}).run))
				}
				cfg := config(h)
				if link == "shaped" {
					cfg.Port, cfg.KnownHosts = shapedProxy(b, h)
				}
				tg, err := remote.Dial(b.Context(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer tg.Close()
				b.SetBytes(int64(len(plain)))
				var wire int64
				for i := 0; b.Loop(); i++ {
					f, err := os.Open(self)
					if err != nil {
						b.Fatal(err)
					}
					if how.level == 0 {
						err = tg.WriteFile(b.Context(), fmt.Sprintf("/bin-%d", i), f, 0o755)
						wire = int64(len(plain))
					} else {
						pr, pw := io.Pipe()
						go func() {
							w, _ := gzip.NewWriterLevel(pw, how.level)
							_, err := io.Copy(w, f)
							if err == nil {
								err = w.Close()
							}
							pw.CloseWithError(err)
						}()
						wire, err = target.WriteFileGzip(b.Context(), tg, filepath.Join(dir, fmt.Sprintf("bin-%d", i)), pr, 0o755, int64(len(plain)), want)
						pr.Close()
					}
					f.Close()
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(wire)/1e6, "MB-on-wire")
			})
		}
	}
}

// shapedProxy listens on loopback and forwards to h, delaying every chunk
// 10 ms and pacing each direction at 100 Mbit/s. It returns the proxy's
// port and a known_hosts file pinning h's key there.
func shapedProxy(b *testing.B, h *targettest.Host) (int, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	var wg sync.WaitGroup
	b.Cleanup(wg.Wait)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", h.Addr)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); shapeCopy(up, c); up.Close(); c.Close() }()
			go func() { defer wg.Done(); shapeCopy(c, up); up.Close(); c.Close() }()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	kh := filepath.Join(b.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(ln.Addr().String())}, h.HostKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	return port, kh
}

// shapeCopy copies src to dst as a 100 Mbit/s link with 10 ms of
// latency would deliver it.
func shapeCopy(dst io.Writer, src io.Reader) {
	const delay, rate = 10 * time.Millisecond, 100e6 / 8 // bytes per second
	type chunk struct {
		b   []byte
		due time.Time
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		next := time.Now()
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				// Serialisation at the link rate, then the wire's latency.
				now := time.Now()
				if next.Before(now) {
					next = now
				}
				next = next.Add(time.Duration(float64(n) / rate * float64(time.Second)))
				q <- chunk{buf[:n], next.Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.b); err != nil {
			for range q {
			}
			return
		}
	}
}
