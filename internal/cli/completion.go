package cli

import (
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/config"
)

// completionConfig loads the configuration named by the command line being
// completed, silently: a shell asking for candidates must never see
// diagnostics. It returns nil when there is none or it does not load.
func completionConfig(cmd *cobra.Command, skipPlaybook bool) *config.Config {
	get := func(name string) string {
		if f := cmd.Flags().Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	inv := get("inventory")
	if inv == "" {
		inv = os.Getenv("OPENIM_DEPLOY_INVENTORY")
	}
	if inv == "" {
		return nil
	}
	cfg, diags := config.Load(config.LoadOptions{
		InventoryPath: inv,
		PlaybookPath:  get("playbook"),
		Environ:       os.Environ(),
		SkipPlaybook:  skipPlaybook,
	})
	if diags.HasErrors() {
		return nil
	}
	return cfg
}

// completeLimit offers host and group names for --limit, continuing a
// comma-separated list (and after a ! or &).
func completeLimit(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	cfg := completionConfig(cmd, true)
	if cfg == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	prefix := ""
	if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
		prefix = toComplete[:i+1]
	}
	rest := toComplete[len(prefix):]
	if rest != "" && (rest[0] == '!' || rest[0] == '&') {
		prefix += rest[:1]
	}
	var out []string
	for _, n := range hostAndGroupNames(cfg) {
		out = append(out, prefix+n)
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// hostAndGroupNames lists hosts in inventory order, then groups in order of
// first appearance.
func hostAndGroupNames(cfg *config.Config) []string {
	var names, groups []string
	for _, h := range cfg.Inventory.Hosts {
		names = append(names, h.Name)
		for _, g := range h.Groups {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	return append(names, groups...)
}

// completeServices offers the playbook's service and task names, for the
// commands that take units as arguments (logs, start, stop).
func completeServices(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	cfg := completionConfig(cmd, false)
	if cfg == nil || cfg.Playbook == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, t := range cfg.Playbook.Tasks {
		if !slices.Contains(args, t.Name) {
			out = append(out, t.Name)
		}
	}
	for _, s := range cfg.Playbook.Services {
		if !slices.Contains(args, s.Name) {
			out = append(out, s.Name)
		}
		for _, in := range s.Instances {
			if n := s.Name + "@" + in.Name; !slices.Contains(args, n) {
				out = append(out, n)
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
