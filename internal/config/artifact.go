package config

import (
	"fmt"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// RemoteBinary is a binary each host fetches itself from an artifact
// store (binary = artifact(URL, SHA256)), committed into the release only
// when its SHA-256 is the one the playbook names. The controller never
// has its bytes: the plan knows it by its hash alone.
type RemoteBinary struct {
	// URL is an http:// or https:// URL without user info; it is printed
	// in plans and passed to the host's curl or wget as an argument, so it
	// is not secret.
	URL string
	// SHA256 is the hex SHA-256 the fetched file must have, lower case.
	SHA256 string
	// Name is the last segment of the URL's path: the binary is installed
	// as <release>/bin/<Name>.
	Name string
	// Header is an HTTP header line ("Authorization: Bearer ...") sent
	// with the request, "" for none. It is always a sensitive value: it
	// reaches the host's curl on stdin only, and is redacted from output.
	Header string
}

// Source names the binary for messages: its URL.
func (r *RemoteBinary) Source() string { return r.URL }

// artifactType is the type of what artifact() returns: a capsule, which no
// expression can build or take apart, so the only way to name a remote
// binary is the function, whose arguments are checked where they are
// written, and the credentials inside cannot be turned back into a string
// that would reach args or a unit file.
var artifactType = cty.Capsule("artifact", reflect.TypeOf(RemoteBinary{}))

// sha256Hex is a SHA-256 written as hex.
var sha256Hex = regexp.MustCompile(`^[0-9A-Fa-f]{64}$`)

// headerNameRE is an HTTP header field name (RFC 9110 token).
var headerNameRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

// artifactFunc is artifact(URL, SHA256[, OPTIONS]): a binary the hosts
// fetch from a store. Every argument is checked here, offline, so a
// mistake is a diagnostic at the argument that holds it. Only the header
// may be sensitive, and it must be: it carries credentials.
var artifactFunc = function.New(&function.Spec{
	Description: "A binary each host fetches from URL itself, installed only when its SHA-256 is the one given.",
	Params: []function.Parameter{
		{Name: "url", Type: cty.String, AllowMarked: true},
		{Name: "sha256", Type: cty.String, AllowMarked: true},
	},
	VarParam: &function.Parameter{Name: "options", Type: cty.DynamicPseudoType, AllowMarked: true},
	Type:     function.StaticReturnType(artifactType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 3 {
			return cty.NilVal, function.NewArgErrorf(3, "artifact takes at most three arguments: the URL, the SHA-256 and an object of options")
		}
		if args[0].IsMarked() {
			return cty.NilVal, function.NewArgErrorf(0, "the URL is derived from a sensitive value, but it is printed in plans and passed to curl or wget as an argument; put credentials in the header option instead")
		}
		if args[1].IsMarked() {
			return cty.NilVal, function.NewArgErrorf(1, "the SHA-256 is derived from a sensitive value, but it is printed in plans")
		}
		rb := RemoteBinary{}
		var err error
		if rb.URL, rb.Name, err = checkArtifactURL(args[0].AsString()); err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		if rb.SHA256, err = checkSHA256(args[1].AsString()); err != nil {
			return cty.NilVal, function.NewArgError(1, err)
		}
		if len(args) == 3 {
			if rb.Header, err = artifactOptions(args[2]); err != nil {
				return cty.NilVal, function.NewArgError(2, err)
			}
		}
		return cty.CapsuleVal(artifactType, &rb), nil
	},
})

// checkArtifactURL returns raw when it is an http or https URL that names
// a file (its last path segment, a safe name), and that name.
func checkArtifactURL(raw string) (string, string, error) {
	for _, c := range []byte(raw) {
		if c <= ' ' || c >= 0x7f {
			return "", "", fmt.Errorf("URL %q contains a space, a control character or a non-ASCII byte; percent-encode it", raw)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%q is not a URL: %v", raw, unwrapURLError(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "", fmt.Errorf("URL %q must start with http:// or https://", raw)
	case u.Host == "" || u.Hostname() == "":
		return "", "", fmt.Errorf("URL %q names no host", raw)
	case u.User != nil:
		return "", "", fmt.Errorf("URL %q holds user info, which would be printed in plans and reach the host's command line; pass credentials in the header option, as a sensitive value", u.Redacted())
	}
	name := path.Base(u.Path)
	if u.Path == "" || strings.HasSuffix(u.Path, "/") || name == "/" || name == "." {
		return "", "", fmt.Errorf("URL %q must end in a file name: the binary is installed as bin/<the last segment of its path>", raw)
	}
	if len(name) > maxNameLen || !nameRE.MatchString(name) {
		return "", "", fmt.Errorf("the last segment of URL %q, %q, names the binary (bin/%s): it must be at most %d letters, digits, \"_\", \".\" and \"-\", starting with a letter or digit", raw, name, name, maxNameLen)
	}
	return raw, name, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// checkSHA256 returns the hex digest of "sha256:HEX" or "HEX", lower case.
func checkSHA256(s string) (string, error) {
	hex := s
	if p, rest, ok := strings.Cut(s, ":"); ok {
		if !strings.EqualFold(p, "sha256") {
			return "", fmt.Errorf("%q: the digest must be a SHA-256, written \"sha256:\" and 64 hex digits", s)
		}
		hex = rest
	}
	if !sha256Hex.MatchString(hex) {
		return "", fmt.Errorf("%q is not a SHA-256: write \"sha256:\" and 64 hex digits, as sha256sum prints them", s)
	}
	return strings.ToLower(hex), nil
}

// artifactOptions reads artifact()'s third argument, an object: header
// (optional) is an HTTP header line that must be sensitive. Nothing here
// ever quotes the header's value.
func artifactOptions(v cty.Value) (string, error) {
	v, marks := v.Unmark() // the object itself marked: every part of it is
	ty := v.Type()
	if v.IsNull() || !(ty.IsObjectType() || ty.IsMapType()) {
		return "", fmt.Errorf("the options must be an object, such as { header = var.token_header }")
	}
	header := ""
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		name := k.AsString()
		if name != "header" {
			return "", fmt.Errorf("unknown option %q; the only option is header", name)
		}
		val, valMarks := val.Unmark()
		_, sensitive := marks[sensitiveMark]
		if _, ok := valMarks[sensitiveMark]; ok {
			sensitive = true
		}
		if val.ContainsMarked() {
			val, _ = val.UnmarkDeep()
			sensitive = true
		}
		if val.IsNull() || val.Type() != cty.String {
			return "", fmt.Errorf("header must be a string, an HTTP header line such as \"Authorization: Bearer ...\"")
		}
		if !sensitive {
			return "", fmt.Errorf("header carries credentials, so it must be a sensitive value: take it from a variable declared sensitive = true (set it from the environment, OPENIM_DEPLOY_VAR_<name>), never from text in the playbook")
		}
		header = val.AsString()
		name, value, ok := strings.Cut(header, ":")
		switch {
		case !ok || !headerNameRE.MatchString(name):
			return "", fmt.Errorf("header must be an HTTP header line, \"Name: value\" (such as \"Authorization: Bearer ...\"); the sensitive value given is not (its text is not shown)")
		case strings.TrimSpace(value) == "":
			return "", fmt.Errorf("header %s has an empty value (the sensitive value given is not shown)", name)
		case hasControlNoTab(header):
			return "", fmt.Errorf("header %s contains a control character (the sensitive value given is not shown)", name)
		}
	}
	return header, nil
}

// hasControlNoTab reports any control character, tab included: a header
// line travels on one line of curl's configuration.
func hasControlNoTab(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// remoteBinary returns the RemoteBinary inside v when it is artifact()'s
// result.
func remoteBinary(v cty.Value) (*RemoteBinary, bool) {
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(artifactType) {
		return nil, false
	}
	rb := *(v.EncapsulatedValue().(*RemoteBinary))
	return &rb, true
}
