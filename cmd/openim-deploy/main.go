// Command openim-deploy deploys multi-process servers to Linux hosts under
// systemd, over SSH alone. See README.md.
package main

import (
	"os"

	"github.com/openimsdk/openim-deploy/internal/cli"
)

func main() { os.Exit(cli.Main()) }
