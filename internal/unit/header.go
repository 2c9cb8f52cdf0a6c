package unit

import "strings"

// headerPrefix starts Header's line up to the app's name.
const headerPrefix = "# Managed by openim-deploy (app="

// legacyHeaderPrefix starts the header of versions that did not name the
// app: their files belong to whichever app installed them, which gather
// works out from the unit's text.
const legacyHeaderPrefix = "# Managed by openim-deploy:"

// ParseHeader reads the first line of a file (without its newline): ok is
// true when it is a header the tool writes, and app is the app it names,
// "" for a header of a version that named none. Anything else is not the
// tool's, even a line that resembles a header ("# Managed by openim-deploy
// (app=x" with no ")", a name with a character no app name has): the
// answer decides whether the tool may overwrite or remove the file, so
// what it cannot read as its own it leaves alone.
//
// internal/release/scripts/header.sh is the same function in sh, for the
// scripts that check a file on the host before writing over it; a test
// runs both over the same lines.
func ParseHeader(line string) (app string, ok bool) {
	if strings.HasPrefix(line, legacyHeaderPrefix) {
		return "", true
	}
	rest, found := strings.CutPrefix(line, headerPrefix)
	if !found {
		return "", false
	}
	n := 0
	for n < len(rest) && appNameByte(rest[n]) {
		n++
	}
	if n == 0 || !alnum(rest[0]) || n == len(rest) || rest[n] != ')' {
		return "", false
	}
	return rest[:n], true
}

// appNameByte reports whether c may appear in an app name (config's nameRE).
func appNameByte(c byte) bool { return alnum(c) || c == '_' || c == '.' || c == '-' }

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
