package target

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Sha256 returns the hex SHA-256 of path on t, computed on the host by
// sha256sum so the file never crosses the wire. A missing file yields ""
// and a nil error, which is what "does the host already have this binary?"
// wants. The command is marked ReadOnly, so it works on a ReadOnly target.
func Sha256(ctx context.Context, t Target, path string) (string, error) {
	res, err := t.Run(ctx, Cmd{
		Args:     []string{"sha256sum", "--", path},
		Env:      []string{"LC_ALL=C"}, // the "No such file" text below is not translated
		ReadOnly: true,
	})
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) && strings.Contains(ee.Stderr, "No such file or directory") {
			return "", nil
		}
		return "", fmt.Errorf("sha256 %s: %w", path, err)
	}
	sum, ok := ParseSha256sum(res.Stdout)
	if !ok {
		return "", fmt.Errorf("sha256 %s: unexpected sha256sum output %q", path, TailString(res.Stdout))
	}
	return sum, nil
}

// ParseSha256sum extracts the digest from one line of sha256sum output
// ("<hex>  <name>", or "\<hex>  <escaped name>" for names that need escaping).
func ParseSha256sum(out []byte) (string, bool) {
	s := strings.TrimPrefix(string(out), `\`)
	if len(s) < 64 {
		return "", false
	}
	sum := strings.ToLower(s[:64])
	for _, c := range sum {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	if len(s) > 64 && s[64] != ' ' && s[64] != '\n' {
		return "", false
	}
	return sum, true
}
