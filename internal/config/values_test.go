package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInvalidUTF8ArgumentIsRefusedAtValidate: HCL source cannot spell
// invalid UTF-8, but a -var can carry it into args; validate refuses it
// with the attribute's location instead of plan failing after the lock.
func TestInvalidUTF8ArgumentIsRefusedAtValidate(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"inv.hcl": "playbook = \"pb.hcl\"\nhost \"a\" {\n  address = \"10.0.0.1\"\n}\n",
		"pb.hcl":  "variable \"flag\" {}\napp \"im\" {}\nservice \"api\" {\n  binary = \"api\"\n  hosts  = [\"all\"]\n  args   = [var.flag]\n}\n",
		"api":     "",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	_, diags := Load(LoadOptions{InventoryPath: filepath.Join(dir, "inv.hcl"), Vars: map[string]string{"flag": "a\xffb"}})
	require.True(t, diags.HasErrors())
	require.Contains(t, diags.Error(), "pb.hcl:6")
	require.Contains(t, diags.Error(), "is not valid UTF-8")
}
