package cli

import (
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// writeDiagnostics renders diagnostics with source snippets (the default on
// a terminal) or one "file:line:col: severity: summary: detail" line each.
func writeDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, short, color bool, width uint) error {
	if short {
		writeShort(w, diags)
		return nil
	}
	return hcl.NewDiagnosticTextWriter(w, files, width, color).WriteDiagnostics(diags)
}

// writeShort prints one line per diagnostic. hcl's own Error() prints
// "file:3,1-4"; operators and editors expect file:line:col.
func writeShort(w io.Writer, diags hcl.Diagnostics) {
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		pos := "-"
		if d.Subject != nil {
			pos = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		fmt.Fprintf(w, "%s: %s: %s", pos, sev, d.Summary)
		if d.Detail != "" {
			fmt.Fprintf(w, ": %s", d.Detail)
		}
		fmt.Fprintln(w)
	}
}

// filesFromDiags parses the files the diagnostics point into, so snippets
// can be shown even when loading stopped before a Config existed.
func filesFromDiags(diags hcl.Diagnostics) (map[string]*hcl.File, bool) {
	p := hclparse.NewParser()
	for _, d := range diags {
		if d.Subject != nil && d.Subject.Filename != "" {
			_, _ = p.ParseHCLFile(d.Subject.Filename)
		}
	}
	return p.Files(), len(p.Files()) > 0
}
