package config

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		"EXAMPLE.com.": "example.com", "example.com": "example.com", "10.0.0.1": "10.0.0.1",
		"[::1]": "::1", "0:0:0:0:0:0:0:1": "::1", "fe80::1%eth0": "fe80::1%eth0", "Lab-1": "lab-1",
	} {
		require.Equal(t, want, NormalizeAddress(in), in)
	}
	require.True(t, ambiguousIPv4("10.0.0.01"))
	require.True(t, ambiguousIPv4("010.0.0.1"))
	require.False(t, ambiguousIPv4("10.0.0.1"))
	require.False(t, ambiguousIPv4("10.0.0.0"))
	require.False(t, ambiguousIPv4("a.0.0.01"))
}

// FuzzNormalizeAddress: normalising is idempotent, and two spellings of one
// IP address always normalise alike.
func FuzzNormalizeAddress(f *testing.F) {
	for _, s := range []string{"EXAMPLE.com.", "[::1]", "0:0:0:0:0:0:0:1", "10.0.0.1", "10.0.0.01", "::ffff:10.0.0.1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		n := NormalizeAddress(addr)
		require.Equal(t, n, NormalizeAddress(n), "idempotent for %q", addr)
		if ip, err := netip.ParseAddr(addr); err == nil {
			require.Equal(t, ip.String(), n)
			if ip.Zone() == "" { // a zone may hold "]" itself
				require.Equal(t, n, NormalizeAddress("["+ip.StringExpanded()+"]"))
			}
		}
	})
}
