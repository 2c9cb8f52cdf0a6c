package unit

import (
	_ "embed"
	"fmt"
	"path"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/layout"
)

// CredEnvName is the name of the systemd credential that holds a unit's
// secret environment (EnvFile's text) under credential delivery; the
// wrapper (CredRun) exports it.
const CredEnvName = "openim-deploy-env"

// CredRun is the wrapper installed as layout.CredRunRel: it exports the
// variables of $CREDENTIALS_DIRECTORY/openim-deploy-env, then execs the
// binary. See scripts/credenv.sh.
//
//go:embed scripts/credenv.sh
var CredRun []byte

// Credential is one systemd credential a unit loads under credential
// delivery: LoadCredentialEncrypted=Name:<release>/Rel. The plaintext is
// Content; it is encrypted on the host, never written there in plain.
type Credential struct {
	Name    string // the file's name in $CREDENTIALS_DIRECTORY
	Rel     string // the encrypted file inside a release
	Content []byte
	// Secret env: true for the unit's secret environment, false for a
	// sensitive template.
	Env bool
}

// Credentials lists, in a fixed order, the credentials u loads on hp's
// host under credential delivery: its secret environment (named
// CredEnvName) when it has one, then every sensitive template whose change
// restarts it (TemplatesOn), named by the template's file name: the
// service reads "$CREDENTIALS_DIRECTORY/mongodb.yml" for a template with
// destination "config/mongodb.yml". Two sensitive templates a unit reads
// may not share a file name, nor take CredEnvName.
func Credentials(u *config.Unit, hp config.HostPlacement) ([]Credential, error) {
	return CredentialsWithEnv(u, hp, EnvFile(u))
}

// CredentialsWithEnv is Credentials given env, u's EnvFile (nil when it
// has no secret environment), for a caller that has it already.
func CredentialsWithEnv(u *config.Unit, hp config.HostPlacement, env []byte) ([]Credential, error) {
	var out []Credential
	if env != nil {
		out = append(out, Credential{Name: CredEnvName, Rel: layout.CredEnvRel(u.Name), Content: env, Env: true})
	}
	seen := map[string]string{CredEnvName: "the secret environment"}
	for _, t := range u.TemplatesOn(hp) {
		if !t.Sensitive {
			continue
		}
		c := TemplateCredential(t)
		name := c.Name
		if !credName.MatchString(name) {
			return nil, fmt.Errorf("sensitive template %s: file name %q cannot name a systemd credential", t.Name, name)
		}
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("sensitive template %s: its credential %q is also %s's: under credential delivery a unit reads sensitive templates by file name, so two it reads must not share one (or use secret_delivery = \"file\")", t.Name, name, other)
		}
		seen[name] = "template " + t.Name
		out = append(out, c)
	}
	return out, nil
}

// TemplateCredential is sensitive template t as a credential: named by its
// destination's file name (the service reads
// "$CREDENTIALS_DIRECTORY/mongodb.yml" for "config/mongodb.yml"), kept
// encrypted at layout.CredFileRel of it, its text the plaintext (empty,
// never nil, when it rendered to nothing).
func TemplateCredential(t *config.Template) Credential {
	content := t.Content
	if content == nil {
		content = []byte{}
	}
	return Credential{Name: path.Base(t.Destination), Rel: layout.CredFileRel(t.Destination), Content: content}
}
