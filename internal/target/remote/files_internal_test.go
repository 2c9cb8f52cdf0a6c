package remote

import "testing"

func TestDfAvailable(t *testing.T) {
	for out, want := range map[string]int64{
		"Filesystem 1024-blocks Used Available Capacity Mounted on\ntmpfs 307200 307200 0 100% /opt/app\n": 0,
		"Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 100 40 60 40% /\n":           60,
	} {
		if got, ok := dfAvailable([]byte(out)); !ok || got != want {
			t.Errorf("dfAvailable(%q) = %d, %v; want %d", out, got, ok, want)
		}
	}
	if _, ok := dfAvailable([]byte("df: /x: No such file or directory\n")); ok {
		t.Error("dfAvailable parsed an error message")
	}
}
