package targettest

import (
	"testing"

	"github.com/openimsdk/openim-deploy/internal/shellcheck"
)

// Shellcheck runs shellcheck over files and over scripts (name -> text):
// shellcheck.Run, kept here for callers that already use it.
func Shellcheck(t testing.TB, files []string, scripts map[string]string) {
	t.Helper()
	shellcheck.Run(t, files, scripts)
}
