package target

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"strings"
	"testing"
)

// recorder is a minimal Target that records what reached it.
type recorder struct{ ran []string }

func (r *recorder) String() string { return "rec" }
func (r *recorder) Name() string   { return "rec" }
func (r *recorder) Close() error   { return nil }
func (r *recorder) Run(_ context.Context, c Cmd) (Result, error) {
	r.ran = append(r.ran, c.String())
	return Result{Stdout: []byte(strings.Repeat("ab", 32) + "  /x\n")}, nil
}
func (r *recorder) Stream(_ context.Context, c Cmd, stdout, _ io.Writer) error {
	r.ran = append(r.ran, "stream "+c.String())
	_, err := io.WriteString(stdout, "line\n")
	return err
}
func (r *recorder) WriteFile(context.Context, string, io.Reader, fs.FileMode) error {
	r.ran = append(r.ran, "write")
	return nil
}
func (r *recorder) ReadFile(context.Context, string) ([]byte, error)  { return []byte("x"), nil }
func (r *recorder) Stat(context.Context, string) (fs.FileInfo, error) { return nil, fs.ErrNotExist }
func (r *recorder) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("no")
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	ro := ReadOnly(rec)
	if ReadOnly(ro) != ro {
		t.Error("ReadOnly(ReadOnly(t)) should not wrap twice")
	}
	if _, err := ro.Run(ctx, Cmd{Args: []string{"systemctl", "restart", "x"}}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("mutating Run: err = %v, want ErrReadOnly", err)
	}
	if err := ro.WriteFile(ctx, "/etc/x", strings.NewReader("x"), 0o644); !errors.Is(err, ErrReadOnly) {
		t.Errorf("WriteFile: err = %v, want ErrReadOnly", err)
	}
	if _, err := ro.Run(ctx, Cmd{Args: []string{"systemctl", "show", "x"}, ReadOnly: true}); err != nil {
		t.Errorf("read-only Run: %v", err)
	}
	if err := ro.Stream(ctx, Cmd{Args: []string{"rm", "-rf", "/"}}, io.Discard, io.Discard); !errors.Is(err, ErrReadOnly) {
		t.Errorf("mutating Stream: err = %v, want ErrReadOnly", err)
	}
	var out strings.Builder
	if err := ro.Stream(ctx, Cmd{Args: []string{"journalctl", "-f"}, ReadOnly: true}, &out, io.Discard); err != nil || out.String() != "line\n" {
		t.Errorf("read-only Stream: %q, %v", out.String(), err)
	}
	sum, err := Sha256(ctx, ro, "/x")
	if err != nil || sum != strings.Repeat("ab", 32) {
		t.Errorf("Sha256 through ReadOnly = %q, %v", sum, err)
	}
	if got := strings.Join(rec.ran, "|"); got != "systemctl show x|stream journalctl -f|env LC_ALL=C sha256sum -- /x" && got != "systemctl show x|stream journalctl -f|sha256sum -- /x" {
		t.Errorf("reached host: %q", got)
	}
}

func TestParseSha256sum(t *testing.T) {
	h := strings.Repeat("0f", 32)
	for in, ok := range map[string]bool{
		h + "  /a\n":                     true,
		`\` + h + `  /a\nb`:              true,
		h:                                true,
		h[:63]:                           false,
		strings.Repeat("zz", 32) + "  x": false,
		h + "0  x":                       false,
	} {
		if _, got := ParseSha256sum([]byte(in)); got != ok {
			t.Errorf("ParseSha256sum(%q) ok = %v, want %v", in, got, ok)
		}
	}
}
