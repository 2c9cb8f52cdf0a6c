// Package agefile reads and writes age-encrypted files (https://age-encryption.org)
// in memory: var files ending in .age, and the secrets command that edits
// them. Decrypted text is only ever returned as bytes; nothing here writes
// it to disk. Every error names what went wrong without quoting the file:
// a damaged file or a plain-text file named .age may hold secrets in the
// very bytes a parser would complain about.
package agefile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"golang.org/x/crypto/ssh"
)

// Environment variables and paths.
const (
	// IdentityEnv names the identity file; it wins over DefaultIdentityRel.
	IdentityEnv = "OPENIM_DEPLOY_AGE_IDENTITY"
	// DefaultIdentityRel is the identity file below the user's
	// configuration directory ($XDG_CONFIG_HOME, else ~/.config).
	DefaultIdentityRel = "openim-deploy/age/keys.txt"
	// Ext marks a var file as age-encrypted.
	Ext = ".age"
	// RecipientsExt is appended to an encrypted file's name to name the
	// file that lists its recipients (prod.vars.age.recipients).
	RecipientsExt = ".recipients"
)

// maxSize bounds what is read as an encrypted file or identity file: a
// var file is a few kilobytes, and reading stops before a mistaken path
// (a disk image) fills memory.
const maxSize = 16 << 20

// IsEncrypted reports whether path names an age-encrypted var file.
func IsEncrypted(path string) bool { return strings.HasSuffix(path, Ext) }

// RecipientsPath is the recipients file of the encrypted file at path.
func RecipientsPath(path string) string { return path + RecipientsExt }

// IdentityPath is the identity file: $OPENIM_DEPLOY_AGE_IDENTITY (a leading
// ~/ is home), else $XDG_CONFIG_HOME/openim-deploy/age/keys.txt when
// XDG_CONFIG_HOME is an absolute path, else ~/.config/openim-deploy/age/keys.txt.
func IdentityPath(environ []string, home string) string {
	if p := lookup(environ, IdentityEnv); p != "" {
		if p == "~" || strings.HasPrefix(p, "~/") {
			p = filepath.Join(home, p[1:])
		}
		return p
	}
	if x := lookup(environ, "XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, DefaultIdentityRel)
	}
	return filepath.Join(home, ".config", DefaultIdentityRel)
}

func lookup(environ []string, name string) string {
	v := ""
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val // the last one wins, as in a process environment
		}
	}
	return v
}

// Identities are the private keys of one identity file.
type Identities struct {
	// Path is the file they were read from.
	Path string
	ids  []age.Identity
	// recipients are their public keys, as a recipients file writes them.
	recipients []string
}

// Recipients returns the public key of each identity, as written in a
// recipients file: age1... for age keys, an authorized_keys line for SSH
// keys.
func (i *Identities) Recipients() []string { return slices.Clone(i.recipients) }

// ErrNoIdentity is returned when the identity file does not exist.
var ErrNoIdentity = errors.New("no age identity")

// LoadIdentities reads an identity file: age's format (AGE-SECRET-KEY-1...
// lines, # comments), as age-keygen writes it, or one SSH private key
// (ed25519 or RSA) without a passphrase, as ssh-keygen writes it.
func LoadIdentities(path string) (*Identities, error) {
	b, err := readLimited(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist. Create it with age-keygen -o %s, or set %s to your age or SSH key file", ErrNoIdentity, path, path, IdentityEnv)
	}
	if err != nil {
		return nil, fmt.Errorf("age identity %s cannot be read: %w", path, unwrapPath(err))
	}
	ids := &Identities{Path: path}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		id, pub, err := sshIdentity(b)
		if err != nil {
			return nil, fmt.Errorf("age identity %s: %w", path, err)
		}
		ids.ids, ids.recipients = []age.Identity{id}, []string{pub}
		return ids, nil
	}
	list, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		// age's messages never quote key material.
		return nil, fmt.Errorf("age identity %s: %v", path, err)
	}
	for _, id := range list {
		switch k := id.(type) {
		case *age.X25519Identity:
			ids.recipients = append(ids.recipients, k.Recipient().String())
		case *age.HybridIdentity:
			ids.recipients = append(ids.recipients, k.Recipient().String())
		default:
			return nil, fmt.Errorf("age identity %s: unsupported identity type %T", path, id)
		}
	}
	ids.ids = list
	return ids, nil
}

// sshIdentity parses an unencrypted SSH private key and returns it as an
// age identity with its public key line.
func sshIdentity(pemBytes []byte) (age.Identity, string, error) {
	key, err := ssh.ParseRawPrivateKey(pemBytes)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, "", errors.New("the SSH key is protected by a passphrase, which openim-deploy cannot ask for; use an age identity (age-keygen) or an SSH key without one")
	}
	if err != nil {
		return nil, "", fmt.Errorf("not an age identity file nor an SSH private key openim-deploy can read: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("the SSH key cannot be used: %v", err)
	}
	id, err := agessh.ParseIdentity(pemBytes)
	if err != nil {
		return nil, "", fmt.Errorf("the SSH key cannot be used with age (ed25519 and RSA keys can): %v", err)
	}
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	return id, pub, nil
}

// Kinds of decryption failure, for errors.Is.
var (
	// ErrWrongKey: none of the identities is a recipient of the file.
	ErrWrongKey = errors.New("wrong key")
	// ErrNotAge: the file does not start as an age file does.
	ErrNotAge = errors.New("not an age file")
	// ErrDamaged: the file is truncated, or was changed after encryption.
	ErrDamaged = errors.New("damaged")
)

// ageIntro is the first line of every binary age file.
const ageIntro = "age-encryption.org/v1\n"

// Decrypt decrypts src, binary or ASCII-armored, in memory. Nothing of a
// failed decryption is returned: age decrypts in chunks, so the chunks
// before a damaged one would otherwise come back as if they were the file.
func Decrypt(src []byte, ids *Identities) ([]byte, error) {
	var in io.Reader = bytes.NewReader(src)
	armored := bytes.HasPrefix(bytes.TrimLeft(src, " \t\r\n"), []byte(armor.Header))
	if armored {
		in = armor.NewReader(in)
	}
	r, err := age.Decrypt(in, ids.ids...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		switch {
		case errors.As(err, &noMatch):
			return nil, fmt.Errorf("%w: none of the identities in %s can decrypt it (it is encrypted to %s)", ErrWrongKey, ids.Path, describeStanzas(noMatch.StanzaTypes))
		case isArmorError(err):
			return nil, fmt.Errorf("%w: its armor (the -----BEGIN AGE ENCRYPTED FILE----- text) is truncated or was changed", ErrDamaged)
		case strings.HasPrefix(err.Error(), "failed to read header") && !armored && !bytes.HasPrefix(src, []byte(ageIntro)):
			// age quotes the first bytes of a header it cannot read, and a
			// plain-text file named .age starts with its secrets.
			return nil, fmt.Errorf("%w: it does not start with an age header: not encrypted with age (age -e, openim-deploy secrets encrypt), or its first line was changed", ErrNotAge)
		case strings.HasPrefix(err.Error(), "failed to read header"):
			return nil, fmt.Errorf("%w: its header is truncated, or was changed after it was encrypted", ErrDamaged)
		default:
			// "bad header MAC" and the like: the header was changed.
			return nil, fmt.Errorf("%w: its header does not authenticate: it was changed after it was encrypted", ErrDamaged)
		}
	}
	out, err := io.ReadAll(r)
	if err != nil {
		clear(out)
		if isArmorError(err) {
			return nil, fmt.Errorf("%w: its armor (the -----BEGIN AGE ENCRYPTED FILE----- text) is truncated or was changed", ErrDamaged)
		}
		return nil, fmt.Errorf("%w: it is truncated, or was changed after it was encrypted (the decryption failed to authenticate it)", ErrDamaged)
	}
	return out, nil
}

func isArmorError(err error) bool {
	var ae *armor.Error
	return errors.As(err, &ae)
}

// describeStanzas says whom a file is encrypted to, from its stanza types.
func describeStanzas(types []string) string {
	var kinds []string
	for _, t := range types {
		k := t
		switch t {
		case "X25519":
			k = "age X25519 keys"
		case "mlkem768x25519":
			k = "age post-quantum keys"
		case "ssh-ed25519", "ssh-rsa":
			k = t + " SSH keys"
		case "scrypt":
			k = "a passphrase (age -p), which openim-deploy does not read: re-encrypt it to a key"
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return "no recipient"
	}
	return strings.Join(kinds, " and ")
}

// Encrypt encrypts plain to recipients, ASCII-armored: encrypted var files
// live in repositories, where text survives tools that mangle binaries.
func Encrypt(plain []byte, recipients []age.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("no recipients")
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ParseRecipients reads a recipients file, as age -R does: one public key
// a line (age1..., age1pq1..., or an ssh-ed25519 / ssh-rsa authorized_keys
// line), blank lines and # comments ignored. It returns the recipients and
// each one's line, trimmed, for comparing lists.
func ParseRecipients(text []byte, name string) ([]age.Recipient, []string, error) {
	var recs []age.Recipient
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := ParseRecipient(line)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		recs = append(recs, r)
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("%s lists no recipient", name)
	}
	return recs, lines, nil
}

// ParseRecipient reads one public key: age1..., age1pq1..., or an
// ssh-ed25519 or ssh-rsa authorized_keys line.
func ParseRecipient(s string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(s, "ssh-"):
		return agessh.ParseRecipient(s)
	case strings.HasPrefix(s, "age1pq1"):
		return age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "age1"):
		return age.ParseX25519Recipient(s)
	default:
		// It may be a private key pasted by mistake: do not quote it.
		return nil, errors.New("not a recipient: want an age public key (age1...) or an ssh-ed25519 / ssh-rsa public key line")
	}
}

// ReadFile reads an encrypted file whole, refusing one too large to be a
// var file.
func ReadFile(path string) ([]byte, error) { return readLimited(path) }

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSize {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, maxSize>>20)
	}
	return b, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
