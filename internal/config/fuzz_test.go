package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/rogpeppe/go-internal/txtar"
)

// FuzzLoad feeds arbitrary inventory and playbook text to Load. Whatever
// the input, Load must not panic, must return a Config, and every error
// must be a diagnostic with a summary: config mistakes are reported, never
// crashes. Seeds are the good fixtures; the committed corpus under
// testdata/fuzz/FuzzLoad adds inputs the fuzzer found interesting.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"minimal", "full", "artifact"} {
		ar, err := txtar.ParseFile(filepath.Join("testdata", "good", name+".txtar"))
		if err != nil {
			f.Fatal(err)
		}
		var inv, pb []byte
		for _, file := range ar.Files {
			switch filepath.Base(file.Name) {
			case "inventory.hcl":
				inv = file.Data
			case "playbook.hcl", "main.hcl":
				pb = file.Data
			}
		}
		f.Add(inv, pb)
	}
	f.Add([]byte(`host "a" { address = "${var.x}" }`), []byte(`app "x" { root = "/opt/../etc" }`))
	// Load runs no secret command without a SecretRunner, so the fuzzer
	// may mutate command = [...] freely.
	f.Add([]byte("host \"a\" { address = \"10.0.0.1\" }\n"), []byte("secret \"pw\" {\n  command = [\"vault\", \"read\"]\n}\napp \"x\" {}\nlocals { a = secret.pw }\n"))
	f.Add([]byte("playbook = \"playbook.hcl\"\nhost \"; touch /tmp/pwned\" {\n address = \"$(id)\"\n}\n"), []byte(`service "a`+"`id`"+`" {}`))
	f.Fuzz(func(t *testing.T, inventory, playbook []byte) {
		dir := t.TempDir()
		inv := filepath.Join(dir, "inventory.hcl")
		if err := os.WriteFile(inv, inventory, 0o644); err != nil {
			t.Fatal(err)
		}
		// The inventory names its playbook; -p pins it so every input
		// reaches the playbook decoder too.
		pb := filepath.Join(dir, "playbook.hcl")
		if err := os.WriteFile(pb, playbook, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, diags := Load(LoadOptions{InventoryPath: inv, PlaybookPath: pb, HomeDir: dir})
		if cfg == nil {
			t.Fatal("Load returned a nil Config")
		}
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Summary == "" {
				t.Fatalf("error diagnostic without a summary: %#v", d)
			}
		}
		if !diags.HasErrors() && cfg.Inventory == nil {
			t.Fatal("no errors but no inventory")
		}
	})
}
