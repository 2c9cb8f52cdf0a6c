package target

import (
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// StripComments blanks the lines of a shell script that hold only a
// comment, keeping each newline (so a shell's error still names the line
// of the source file) and each script's usage line ("# gather.sh ROOT
// APP ...", which says on the host what runs). Half of the on-host
// scripts' text is comments, and every script is sent to every host on
// every run: a 1000-host read sent 7 KB of them per host.
//
// A line counts as a comment only where the shell would read it as one:
// outside quotes and here-documents, and not continuing the line before
// it. A script whose quotes or here-documents it cannot follow to the end
// is returned unchanged. TestStripCommentsKeepsThePrograms holds every
// script of the project to the same program, parsed by mvdan.cc/sh.
// Results are memoized: the scripts are the same few constants.
func StripComments(script string) string {
	if v, ok := stripped.Load(script); ok {
		return v.(string)
	}
	out := stripComments(script)
	if strippedCount.Add(1) <= maxStripped {
		stripped.Store(script, out)
	}
	return out
}

var (
	stripped      sync.Map // script -> without comments
	strippedCount atomic.Int64
)

// maxStripped bounds the memo: the tool's scripts are a few dozen
// constants, but an operator's "exec -- sh -c" text is sent too.
const maxStripped = 256

// usageLine is the line naming an on-host script and its arguments.
var usageLine = regexp.MustCompile(`^# [A-Za-z0-9_-]+\.sh( |$)`)

func stripComments(script string) string {
	lines := strings.SplitAfter(script, "\n")
	var b strings.Builder
	b.Grow(len(script))
	var sc shellScanner
	for i, line := range lines {
		if sc.plainLine() {
			body := strings.TrimLeft(line, " \t")
			if strings.HasPrefix(body, "#") && !(i == 0 && strings.HasPrefix(body, "#!")) && !usageLine.MatchString(body) {
				if strings.HasSuffix(line, "\n") {
					b.WriteByte('\n')
				}
				continue
			}
		}
		sc.scan(line)
		b.WriteString(line)
	}
	if !sc.plainLine() {
		return script // unbalanced quotes or an open here-document: leave it be
	}
	return b.String()
}

// shellScanner follows, line by line, what a POSIX shell's tokenizer
// needs to know at the start of a line: inside single or double quotes,
// inside a here-document (and its terminators), or continuing a line
// that ended with a backslash.
type shellScanner struct {
	single, double bool
	continued      bool
	heredocs       []heredoc // pending, in order
	inHeredoc      bool
}

type heredoc struct {
	word string
	tabs bool // <<- : leading tabs stripped before matching
}

// plainLine reports whether the next line starts where a comment could.
func (s *shellScanner) plainLine() bool {
	return !s.single && !s.double && !s.continued && !s.inHeredoc
}

func (s *shellScanner) scan(line string) {
	if s.inHeredoc {
		h := s.heredocs[0]
		body := strings.TrimSuffix(line, "\n")
		if h.tabs {
			body = strings.TrimLeft(body, "\t")
		}
		if body == h.word {
			s.heredocs = s.heredocs[1:]
			s.inHeredoc = len(s.heredocs) > 0
		}
		return
	}
	s.continued = false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case s.single:
			if c == '\'' {
				s.single = false
			}
		case s.double:
			switch c {
			case '\\':
				i++
			case '"':
				s.double = false
			}
		default:
			switch c {
			case '\\':
				if i+1 < len(line) && line[i+1] == '\n' {
					s.continued = true
				}
				i++
			case '\'':
				s.single = true
			case '"':
				s.double = true
			case '#':
				if i == 0 || strings.IndexByte(" \t;&|()<>", line[i-1]) >= 0 {
					i = len(line) // a comment to the end of the line
				}
			case '<':
				if strings.HasPrefix(line[i:], "<<") {
					n, h, ok := parseHeredoc(line[i+2:])
					if ok {
						s.heredocs = append(s.heredocs, h)
					}
					i += 1 + n
				}
			}
		}
	}
	if len(s.heredocs) > 0 && !s.single && !s.double && !s.continued {
		s.inHeredoc = true // its body starts on the next line
	}
}

// parseHeredoc reads the operator's rest after "<<": an optional "-",
// blanks, and the delimiter word, quoted or not. It returns how many bytes
// it read.
func parseHeredoc(rest string) (int, heredoc, bool) {
	n := 0
	var h heredoc
	if strings.HasPrefix(rest, "-") {
		h.tabs = true
		n++
	}
	for n < len(rest) && (rest[n] == ' ' || rest[n] == '\t') {
		n++
	}
	start := n
	var word strings.Builder
	for n < len(rest) {
		c := rest[n]
		if strings.IndexByte(" \t\n;&|()<>", c) >= 0 {
			break
		}
		if c == '\'' || c == '"' {
			end := strings.IndexByte(rest[n+1:], c)
			if end < 0 {
				return n, h, false
			}
			word.WriteString(rest[n+1 : n+1+end])
			n += end + 2
			continue
		}
		if c == '\\' && n+1 < len(rest) {
			n++
			c = rest[n]
		}
		word.WriteByte(c)
		n++
	}
	if n == start || word.Len() == 0 {
		return n, h, false
	}
	h.word = word.String()
	return n, h, true
}
