package config

import (
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/openimsdk/openim-deploy/internal/agefile"
)

// ageKeys is the identity file, loaded once per Load when the first
// encrypted var file needs it.
type ageKeys struct {
	ids *agefile.Identities
	err error
}

// parseEncrypted decrypts the age-encrypted var file at path in memory and
// parses the plain text. The text never reaches the parser's file table
// (Config.Files, which the CLI renders snippets from) nor the disk; a file
// that cannot be decrypted stops the load as a syntax error does, so its
// variables are not also reported as missing.
func (l *loader) parseEncrypted(path string) *hcl.File {
	if _, ok := l.order[path]; !ok {
		l.order[path] = len(l.order)
	}
	fail := func(detail string, args ...any) *hcl.File {
		// The file has no line to point at; its first position names it.
		at := hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}
		l.errorf(at, hcl.Range{}, "Cannot decrypt var file", detail, args...)
		l.syntaxErr = true
		return nil
	}
	src, err := agefile.ReadFile(path)
	if err != nil {
		return fail("The var file %s cannot be read: %v.", path, unwrapPathError(err))
	}
	if l.age == nil {
		l.age = &ageKeys{}
		l.age.ids, l.age.err = agefile.LoadIdentities(agefile.IdentityPath(l.opts.Environ, l.home))
	}
	if l.age.err != nil {
		return fail("%s is encrypted with age, and its key cannot be read: %v.", path, l.age.err)
	}
	plain, err := agefile.Decrypt(src, l.age.ids)
	if err != nil {
		hint := ""
		switch {
		case errors.Is(err, agefile.ErrWrongKey):
			hint = fmt.Sprintf(" Set %s to the identity file of one of its recipients.", agefile.IdentityEnv)
		case errors.Is(err, agefile.ErrDamaged):
			hint = " Restore it from version control, or from whoever encrypted it."
		}
		return fail("%s cannot be decrypted: %v.%s", path, err, hint)
	}
	f, diags := hclsyntax.ParseConfig(plain, path, hcl.InitialPos)
	l.diags = append(l.diags, diags...)
	l.syntaxErr = l.syntaxErr || diags.HasErrors()
	return f
}

// explainRoots adds to each reference sensitiveRoots names why it is
// sensitive, when the playbook does not say so itself.
func (l *loader) explainRoots(roots []string) []string {
	out := make([]string, len(roots))
	for i, r := range roots {
		out[i] = r
		if why, ok := l.sensitiveWhy[r]; ok {
			out[i] = why
		}
	}
	return out
}
