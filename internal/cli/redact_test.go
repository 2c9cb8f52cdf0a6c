package cli_test

import (
	"strings"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/cli"
)

// TestRedactCommandLine pins that the command line recorded in host locks
// keeps variable names but never their values, in every flag spelling.
func TestRedactCommandLine(t *testing.T) {
	got := cli.RedactCommandLine([]string{"openim-deploy", "apply", "-var", "token=s3cr\"et", "--var=pw=x<y>&z", "-var=a=b", "--var", "k=v", "-i", "inv.hcl", "--var-file", "f.hcl"})
	want := []string{"openim-deploy", "apply", "-var", "token=<redacted>", "--var=pw=<redacted>", "-var=a=<redacted>", "--var", "k=<redacted>", "-i", "inv.hcl", "--var-file", "f.hcl"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("RedactCommandLine = %q\nwant %q", got, want)
	}
}
