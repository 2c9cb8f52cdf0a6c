package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/unit"
)

func newValidateCommand(g *GlobalOptions, stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the inventory and playbook and print where every instance lands",
		Long: `validate parses the inventory and playbook, reports every problem as
file:line:col with the source line, and prints the placement: which instances
of which service land on which host. Where a value differs from host to host
(args, environment, systemd settings or health probes that use host, a
template's text), it is printed under each host. It never connects to a host.`,
		Example: `  openim-deploy validate -i inventory/prod.hcl
  openim-deploy validate -i inventory/prod.hcl -p playbooks/openim.hcl --diagnostics short`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, stdio, false)
			if err != nil {
				return err
			}
			printPlacement(stdio.Out, cfg)
			return nil
		},
	}
}

// printPlacement lists, per host in inventory order, the units placed on
// it, and the values that differ between the hosts a unit is placed on.
func printPlacement(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, "configuration is valid: %s, %s, %s\n", plural(len(cfg.Inventory.Hosts), "host"),
		plural(len(cfg.Playbook.Services), "service"), plural(len(cfg.Playbook.Tasks), "task"))
	placements := cfg.Placement()
	varies := perHostValues(cfg, placements)
	for _, hp := range placements {
		fmt.Fprintf(w, "\n%s (%s)\n", hp.Host.Name, hp.Host.Address)
		if len(hp.Tasks)+len(hp.Services) == 0 {
			fmt.Fprintln(w, "  (nothing placed)")
			continue
		}
		for _, t := range hp.Tasks {
			fmt.Fprintf(w, "  task    %s\n", unit.TaskUnitName(t.Name))
			printVarying(w, varies, "task "+t.Name, unitValues(cfg, &t.Unit, nil, nil))
		}
		for _, s := range hp.Services {
			names := make([]string, len(s.Instances))
			for i, in := range s.Instances {
				names[i] = in.Name
			}
			fmt.Fprintf(w, "  service %s instances %s\n", unit.TemplateName(s.Name), strings.Join(names, ","))
			printVarying(w, varies, "service "+s.Name, unitValues(cfg, &s.Unit, s.Systemd, s.Instances))
		}
		for _, fs := range hp.FileSets {
			fmt.Fprintf(w, "  files   %s\n", fs.Name)
		}
		for _, t := range hp.Templates {
			what := plural(len(t.Content), "byte")
			if t.Sensitive {
				what += ", sensitive"
			}
			fmt.Fprintf(w, "  template %s -> %s (%s)\n", t.Name, t.Destination, what)
			if !t.Sensitive && varies["template "+t.Name]["text"] {
				for _, line := range strings.Split(strings.TrimSuffix(string(t.Content), "\n"), "\n") {
					fmt.Fprintf(w, "    | %s\n", line)
				}
			}
		}
	}
}

// valueLine is one printable per-host value of a unit: a key ("args",
// "environment", "health 0") and its text.
type valueLine struct{ key, text string }

// unitValues lists a unit's host-dependent values as printable lines.
// Secret environment values are never listed.
func unitValues(cfg *config.Config, u *config.Unit, systemd []config.KeyValue, instances []config.Instance) []valueLine {
	out := []valueLine{{"args", fmt.Sprintf("%q", u.Args)}}
	var env []string
	for _, k := range sortedKeys(u.Environment) {
		env = append(env, k+"="+cfg.Redact(u.Environment[k]))
	}
	out = append(out, valueLine{"environment", strings.Join(env, " ")})
	if len(systemd) > 0 {
		var kv []string
		for _, s := range systemd {
			kv = append(kv, s.Key+"="+s.Value)
		}
		out = append(out, valueLine{"systemd", strings.Join(kv, " ")})
	}
	for _, in := range instances {
		h := in.Health
		probe := strings.Join(h.Exec, " ")
		switch {
		case h.TCP != "":
			probe = "tcp " + h.TCP
		case h.HTTP != "":
			probe = "http " + h.HTTP
		case probe != "":
			probe = "exec " + probe
		}
		if probe != "" {
			out = append(out, valueLine{"health " + in.Name, probe})
		}
	}
	return out
}

// perHostValues finds, per unit and template, the keys whose value is not
// the same on every host it is placed on.
func perHostValues(cfg *config.Config, placements []config.HostPlacement) map[string]map[string]bool {
	seen := map[string]map[string]string{}
	varies := map[string]map[string]bool{}
	note := func(unit, key, text string) {
		if seen[unit] == nil {
			seen[unit], varies[unit] = map[string]string{}, map[string]bool{}
		}
		if prev, ok := seen[unit][key]; ok && prev != text {
			varies[unit][key] = true
		}
		seen[unit][key] = text
	}
	for _, hp := range placements {
		for _, t := range hp.Tasks {
			for _, v := range unitValues(cfg, &t.Unit, nil, nil) {
				note("task "+t.Name, v.key, v.text)
			}
		}
		for _, s := range hp.Services {
			for _, v := range unitValues(cfg, &s.Unit, s.Systemd, s.Instances) {
				note("service "+s.Name, v.key, v.text)
			}
		}
		for _, t := range hp.Templates {
			note("template "+t.Name, "text", string(t.Content))
		}
	}
	return varies
}

// printVarying prints the values of one unit that differ between hosts.
func printVarying(w io.Writer, varies map[string]map[string]bool, unit string, values []valueLine) {
	for _, v := range values {
		if varies[unit][v.key] {
			fmt.Fprintf(w, "    %-11s %s\n", v.key, v.text)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
