package remote_test

import (
	"net"
	"strconv"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"
)

func itoa(n int) string { return strconv.Itoa(n) }

func hashed(t *testing.T, host string) string {
	t.Helper()
	return knownhosts.HashHostname(host)
}

// closedPort returns a loopback port with nothing listening on it.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}
