//go:build tools

// Package tools pins dependencies until the packages that use them land; removed once they do.
package tools
import (
 _ "github.com/spf13/cobra"
 _ "github.com/hashicorp/hcl/v2/gohcl"
 _ "github.com/hashicorp/hcl/v2/hclparse"
 _ "golang.org/x/crypto/ssh/knownhosts"
 _ "golang.org/x/crypto/ssh/agent"
 _ "github.com/pkg/sftp"
 _ "github.com/kevinburke/ssh_config"
 _ "golang.org/x/sync/errgroup"
 _ "github.com/coreos/go-systemd/v22/unit"
 _ "github.com/rogpeppe/go-internal/testscript"
 _ "github.com/stretchr/testify/require"
 _ "github.com/google/go-cmp/cmp"
 _ "github.com/zclconf/go-cty/cty"
 _ "golang.org/x/term"
)
