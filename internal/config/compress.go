package config

import (
	"fmt"
	"strings"
)

// Compress is the app block's compress setting: whether release files are
// sent gzip-compressed on an exec session (decompressed by the host's own
// gzip -dc) instead of as they are over SFTP. The apply command's
// --compress flag overrides it.
type Compress string

// The values compress accepts.
const (
	// CompressAuto compresses what pays off: large files that compress
	// well, on hosts that have gzip (the rule is in package phase).
	CompressAuto Compress = "auto"
	// CompressAlways compresses every release file on hosts with gzip.
	CompressAlways Compress = "always"
	// CompressNever sends every file over SFTP as it is.
	CompressNever Compress = "never"
)

// ParseCompress checks a compress value from the playbook or the command
// line. The error says what is accepted; callers add where it came from.
func ParseCompress(s string) (Compress, error) {
	switch c := Compress(s); c {
	case CompressAuto, CompressAlways, CompressNever:
		return c, nil
	}
	return CompressAuto, fmt.Errorf("must be one of %s", strings.Join([]string{`"auto"`, `"always"`, `"never"`}, ", "))
}
