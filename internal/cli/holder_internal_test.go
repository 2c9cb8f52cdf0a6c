package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestLeaseHolderIsTheSubcommand pins what a host's lease records as the
// running command: the subcommand cobra resolved, and nothing from the
// command line, even when flags (a -var value, a secret) come before it.
func TestLeaseHolderIsTheSubcommand(t *testing.T) {
	const secret = "S3cr3t-pw"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-var", "pw=" + secret, "apply", "-i", "missing.hcl"}, "apply"},
		{[]string{"--var=pw=" + secret, "-i", "missing.hcl", "restart"}, "restart"},
		{[]string{"-var", "pw=" + secret, "releases", "-i", "missing.hcl"}, "releases"},
		{[]string{"unlock", "-var", secret + "=x", "-i", "missing.hcl"}, "unlock"},
	} {
		g := &GlobalOptions{log: discardLog()}
		var out, errOut bytes.Buffer
		root := newRootCommand(g, IO{Out: &out, Err: &errOut})
		root.SetArgs(terraformStyleFlags(tc.args))
		_ = root.ExecuteContext(t.Context()) // fails: there is no inventory
		if g.subcommand != tc.want {
			t.Errorf("%q: lease command %q, want %q", tc.args, g.subcommand, tc.want)
		}
		if strings.Contains(g.subcommand, secret) {
			t.Errorf("%q: lease command %q holds the secret", tc.args, g.subcommand)
		}
	}
}
