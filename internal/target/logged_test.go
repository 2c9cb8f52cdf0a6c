package target

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestLogged pins that every command reaches the log with secrets hidden,
// both the command's own redactions and the playbook's.
func TestLogged(t *testing.T) {
	var buf bytes.Buffer
	rec := &recorder{}
	lg := Logged(rec, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		func(s string) string { return strings.ReplaceAll(s, "hunter2", "***") })
	ctx := context.Background()
	if _, err := lg.Run(ctx, Cmd{Args: []string{"echo", "pw=s3cret"}, Redact: []string{"s3cret"}, Sudo: true}); err != nil {
		t.Fatal(err)
	}
	if err := lg.Stream(ctx, Cmd{Args: []string{"echo", "hunter2"}}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := lg.WriteFile(ctx, "/etc/x", strings.NewReader(""), 0o644); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"sudo echo pw=<redacted>", "op=stream", "echo ***", "op=write", "/etc/x", "host=rec"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") || strings.Contains(out, "hunter2") {
		t.Errorf("secret in log:\n%s", out)
	}
}
