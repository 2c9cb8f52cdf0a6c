package shellcheck

import (
	"os/exec"
	"testing"
)

// fakeT records a failure instead of ending the test, so a test can
// assert that Run fails.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) TempDir() string       { return f.TB.TempDir() }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true; panic(f) }
func (f *fakeT) Fatal(...any)          { f.failed = true; panic(f) }

func runs(t *testing.T, files []string, scripts map[string]string) (failed bool) {
	t.Helper()
	ft := &fakeT{TB: t}
	defer func() {
		if r := recover(); r != nil && r != ft {
			panic(r)
		}
		failed = ft.failed
	}()
	Run(ft, files, scripts)
	return false
}

// TestRunChecksEachDialect pins that a script is checked as the dialect
// its name says: bash syntax passes as .bash and fails as sh.
func TestRunChecksEachDialect(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not installed")
	}
	bashism := "x=(a b)\necho \"${x[0]}\"\n"
	if runs(t, nil, map[string]string{"ok.bash": bashism}) {
		t.Fatal("a bash script checked as bash failed")
	}
	if !runs(t, nil, map[string]string{"bad": bashism}) {
		t.Fatal("a bash script checked as sh passed")
	}
	if !runs(t, nil, map[string]string{"unquoted": "echo $1\n"}) {
		t.Fatal("an unquoted expansion passed")
	}
	if runs(t, nil, map[string]string{"fine": "echo \"$1\"\n"}) {
		t.Fatal("a clean script failed")
	}
}

// TestCheckRefusesAnEmptyGlob pins that a glob matching nothing fails
// rather than passing with nothing checked.
func TestCheckRefusesAnEmptyGlob(t *testing.T) {
	ft := &fakeT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != ft {
				panic(r)
			}
		}()
		Check(ft, "no-such-dir/*.sh", nil)
	}()
	if !ft.failed {
		t.Fatal("an empty glob passed")
	}
}
