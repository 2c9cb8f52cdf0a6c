package targettest

import (
	"context"
	"errors"
	"io"

	"github.com/openimsdk/openim-deploy/internal/target"
)

// StreamResponder is implemented by responders that produce output over
// time, for code that follows a stream (logs -f). A Responder that does not
// implement it is streamed as its whole Result at once.
type StreamResponder interface {
	RespondStream(ctx context.Context, cmd target.Cmd, stdout, stderr io.Writer) error
}

// StreamFunc adapts a function to both Responder and StreamResponder: Run
// collects what it writes, Stream passes it on as it is written.
type StreamFunc func(ctx context.Context, cmd target.Cmd, stdout, stderr io.Writer) error

// RespondStream implements StreamResponder.
func (f StreamFunc) RespondStream(ctx context.Context, cmd target.Cmd, stdout, stderr io.Writer) error {
	return f(ctx, cmd, stdout, stderr)
}

// Respond implements Responder by buffering the stream.
func (f StreamFunc) Respond(ctx context.Context, cmd target.Cmd) (target.Result, error) {
	var out, errb bytesWriter
	err := f(ctx, cmd, &out, &errb)
	return target.Result{Stdout: out.b, Stderr: errb.b}, err
}

type bytesWriter struct{ b []byte }

func (w *bytesWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// Stream records cmd like Run and plays the matching responder's output to
// stdout and stderr. See target.Target.
func (f *Fake) Stream(ctx context.Context, cmd target.Cmd, stdout, stderr io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if cmd.Stdin != nil {
		return target.ErrStreamStdin
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	resp, err := f.record(cmd, nil)
	if err != nil {
		return err
	}
	if sr, ok := resp.(StreamResponder); ok {
		err = sr.RespondStream(ctx, cmd, stdout, stderr)
	} else {
		var res target.Result
		res, err = resp.Respond(ctx, cmd)
		_, _ = stdout.Write(res.Stdout)
		_, _ = stderr.Write(res.Stderr)
	}
	if ee, ok := errors.AsType[*target.ExitError](err); ok && ee.Host == "" {
		ee.Host = f.name
	}
	return err
}
