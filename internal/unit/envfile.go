package unit

import (
	"bytes"
	"maps"
	"slices"

	"github.com/openimsdk/openim-deploy/internal/config"
)

// EnvFile renders the secret environment file of u, which apply writes to
// layout.EnvRel(u.Name) in the release, mode 0600, owned by root (systemd
// reads it as PID 1 before dropping to User=, so the service user never
// needs to read it). It holds one KEY="value" line per secret_environment
// entry, sorted by name, escaped for systemd's EnvironmentFile= parser
// (which is also how a POSIX shell reads it). It returns nil when u has no
// secrets. Render rejects names and values that cannot be represented; call
// it first.
func EnvFile(u *config.Unit) []byte {
	if len(u.SecretEnvironment) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("# Managed by openim-deploy. Secret values: keep this file 0600 root.\n")
	for _, k := range sortedKeys(u.SecretEnvironment) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(envFileValue(u.SecretEnvironment[k]))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// sortedKeys returns the keys of m in byte order, so output never follows
// map order.
func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
