package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// credsDesired is desired() under credential delivery: openim-rpc-user's
// secret environment is a credential, and openim-api reads one of its own.
func credsDesired(userPW, apiPW string) Desired {
	d := desired()
	d.Artifacts = slices.DeleteFunc(d.Artifacts, func(a Artifact) bool { return a.Rel == "env/openim-rpc-user.env" })
	d.Artifacts = append(d.Artifacts,
		Artifact{Rel: ".creds/env/openim-api.cred", Mode: 0o600, Secret: true, Credential: "openim-deploy-env", Content: []byte("PW=\"" + apiPW + "\"\n")},
		Artifact{Rel: ".creds/env/openim-rpc-user.cred", Mode: 0o600, Secret: true, Credential: "openim-deploy-env", Content: []byte("PW=\"" + userPW + "\"\n")},
		Artifact{Rel: ".creds/run", SHA256: "run", Size: 3, Mode: 0o755, Content: []byte("sh\n")},
	)
	slices.SortFunc(d.Artifacts, func(a, b Artifact) int { return strings.Compare(a.Rel, b.Rel) })
	for i, u := range d.Units {
		switch u.Unit {
		case "openim-rpc-user":
			d.Units[i].Uses = []string{"bin/openim-rpc-user", ".creds/run", ".creds/env/openim-rpc-user.cred", "config/", "units/openim-rpc-user@.service"}
		case "openim-api":
			d.Units[i].Uses = []string{"bin/openim-api", ".creds/run", ".creds/env/openim-api.cred", "units/openim-api@.service"}
		}
	}
	return d
}

// TestCredentials_KeyedHashPlans: the manifest holds a keyed hash of each
// credential's plaintext; an unchanged secret plans nothing although its
// encryption would differ, and a rotated one plans "secret changed" and
// restarts exactly the instances that read it. The plan never holds the
// value, the keyed hash of it, nor its plain SHA-256.
func TestCredentials_KeyedHashPlans(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	d := KeyCredentials(credsDesired("u-s3cret", "a-s3cret"), key)
	for _, a := range d.Artifacts {
		if a.Credential != "" {
			require.Len(t, a.SHA256, 64)
			require.Equal(t, CredentialHash(key, a.Credential, a.Content), a.SHA256)
		}
	}
	require.NotEqual(t, CredentialHash(key, "x", []byte("v")), CredentialHash(bytes.Repeat([]byte{8}, 32), "x", []byte("v")), "keyed")
	require.NotEqual(t, CredentialHash(key, "x", []byte("v")), CredentialHash(key, "y", []byte("v")), "bound to the name")

	a := converged(d)
	hp := Build(KeyCredentials(credsDesired("u-s3cret", "a-s3cret"), key), a, func(string) int { return 0 }, new)
	require.False(t, hp.Changed(), "%v", hp.Actions)

	rotated := KeyCredentials(credsDesired("u-n3w", "a-s3cret"), key)
	hp = Build(rotated, a, func(string) int { return 0 }, new)
	require.True(t, hp.NewRelease)
	require.Len(t, hp.Credentials, 2, "the host encrypts every credential of the new release")
	require.Empty(t, slices.DeleteFunc(slices.Clone(hp.Uploads), func(a Artifact) bool { return a.Credential == "" }), "no credential is uploaded")
	var text strings.Builder
	for _, act := range hp.Actions {
		text.WriteString(act.Desc + "\n" + act.Detail + "\n")
	}
	require.Contains(t, text.String(), "secret changed: .creds/env/openim-rpc-user.cred")
	require.NotContains(t, text.String(), "openim-api.cred")
	for _, s := range []string{"u-n3w", "u-s3cret", rotated.Artifacts[1].SHA256[:12], sha256Hex("PW=\"u-n3w\"\n")[:12]} {
		require.NotContains(t, text.String(), s)
	}
	var restarted []string
	for _, s := range hp.Starts {
		if s.Restart {
			restarted = append(restarted, s.Name)
		}
	}
	require.Equal(t, []string{"openim-rpc-user@0.service", "openim-rpc-user@1.service"}, restarted)
	require.Contains(t, hp.Starts[0].Reason, ".creds/env/openim-rpc-user.cred changed")
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestCredentials_MoveRetiresPlainReleases: the first plan under
// credential delivery on a host whose releases hold secrets in plain text
// retires exactly those releases (an env file, or a sensitive template's
// path under file delivery; never an operator's own file), says so with
// "no rollback", and restarts every instance still running from one, so
// no process runs from a directory switch removes. A later plan on the
// moved host retires nothing.
func TestCredentials_MoveRetiresPlainReleases(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	plain := desired()
	plain.Artifacts = append(plain.Artifacts, Artifact{Rel: "secret/db.yml", SHA256: "t1", Mode: 0o600, Secret: true, Content: []byte("pw: x\n")})
	a := converged(plain)
	const withTemplate, operatorOnly = "20251101T000000.000Z-0000", "20251001T000000.000Z-0000"
	a.Releases[withTemplate] = map[string]string{"bin/openim-api": "a0", "secret/db.yml": "t0"}
	a.Releases[operatorOnly] = map[string]string{"bin/openim-api": "a0", "config/tls.key": "k0"}

	// openim-api reads no secret: only openim-rpc-user's move to a
	// credential changes what it runs.
	d := credsDesired("u-s3cret", "unused")
	d.Artifacts = slices.DeleteFunc(d.Artifacts, func(a Artifact) bool { return a.Rel == ".creds/env/openim-api.cred" })
	for i, u := range d.Units {
		if u.Unit == "openim-api" {
			d.Units[i].Uses = []string{"bin/openim-api", "units/openim-api@.service"}
		}
	}
	d = KeyCredentials(d, key)
	d.PlainSecrets = []string{"secret/db.yml"}

	hp := Build(d, a, func(string) int { return 0 }, new)
	require.True(t, hp.SwitchCurrent)
	require.Equal(t, []string{withTemplate, r1}, hp.Retire, "the env file's and the template's releases; not the operator's 0600 file's")
	var text strings.Builder
	for _, act := range hp.Actions {
		text.WriteString(act.Desc + "\n")
	}
	require.Contains(t, text.String(), "remove release(s) "+withTemplate+", "+r1+" with current's move")
	require.Contains(t, text.String(), "no rollback to them")
	reasons := map[string]string{}
	for _, s := range hp.Starts {
		require.True(t, s.Restart, s.Name)
		reasons[s.Name] = s.Reason
	}
	require.Contains(t, reasons["openim-api@0.service"], "holds secrets in plain text", "unchanged, but its release goes")
	require.Contains(t, reasons["openim-rpc-user@0.service"], ".creds/env/openim-rpc-user.cred")
	for _, p := range hp.Pins {
		require.NotContains(t, p.Name, "openim-api@", "restarted, not re-pinned")
	}

	// Once moved, nothing holds a plain secret: no retire, no restart.
	moved := converged(d)
	hp = Build(d, moved, func(string) int { return 0 }, new)
	require.Empty(t, hp.Retire)
	require.False(t, hp.Changed(), "%v", hp.Actions)

	// Under file delivery nothing is ever retired.
	hp = Build(upgradeOf(plain), a, func(string) int { return 0 }, new)
	require.Empty(t, hp.Retire)
}

// upgradeOf is d with openim-api's binary changed.
func upgradeOf(d Desired) Desired {
	d.Artifacts = slices.Clone(d.Artifacts)
	for i, a := range d.Artifacts {
		if a.Rel == "bin/openim-api" {
			d.Artifacts[i].SHA256 = "a2"
		}
	}
	return d
}
