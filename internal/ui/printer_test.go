package ui

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// canary holds every character json.Marshal escapes, so a redaction run
// after encoding would miss it.
const canary = `s3"cr\et<&>`

type diffAction struct {
	Unit string
	Diff []string
}

// TestJSONRedactsBeforeEncoding pins that a secret with quotes,
// backslashes, <, > and & is hidden in --output json wherever it sits: the
// message, plain fields, nested maps, and structs such as plan actions.
func TestJSONRedactsBeforeEncoding(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, Options{JSON: true, Redact: func(s string) string { return strings.ReplaceAll(s, canary, "<redacted>") }})
	p.Event(Event{Type: "plan", Host: "im-1", Msg: "token " + canary, Fields: map[string]any{
		"plain":  canary,
		"list":   []string{"a", canary},
		"nested": map[string]any{"k": []any{canary}},
		"action": diffAction{Unit: "api.service", Diff: []string{"+Environment=T=" + canary}},
		canary:   1,
	}}, "")
	enc, _ := json.Marshal(canary)
	escaped := strings.Trim(string(enc), `"`)
	got := out.String()
	if strings.Contains(got, canary) || strings.Contains(got, escaped) || strings.Contains(got, "s3") {
		t.Fatalf("secret survives in JSON: %s", got)
	}
	var ev map[string]any
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil {
		t.Fatalf("output is not one JSON event: %v\n%s", err, got)
	}
	if strings.Count(got, "redacted") < 6 {
		t.Errorf("expected every occurrence redacted, got %s", got)
	}
}

// TestTextRedacts pins the terminal form too.
func TestTextRedacts(t *testing.T) {
	var out bytes.Buffer
	p := New(&out, Options{Verbose: true, Redact: func(s string) string { return strings.ReplaceAll(s, canary, "<redacted>") }})
	p.HostError("im-1", "failed with %s", canary)
	p.Verbose("env T=%s", canary)
	p.Block("im-1", "journal", "line with "+canary)
	if strings.Contains(out.String(), "s3") {
		t.Fatalf("secret in text output: %s", out.String())
	}
}
