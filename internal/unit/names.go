package unit

import (
	"cmp"
	"slices"

	"github.com/hashicorp/hcl/v2"

	"github.com/openimsdk/openim-deploy/internal/config"
)

// TemplateName is the template unit file of a service: "openim-push@.service".
func TemplateName(service string) string { return service + "@.service" }

// InstanceName is the unit of one instance of a service: "openim-push@3.service".
func InstanceName(service, instance string) string { return service + "@" + instance + ".service" }

// TaskUnitName is the unit of a task: "check-component.service".
func TaskUnitName(task string) string { return task + ".service" }

// TargetName is the target that groups every unit of an app on a host: "openim.target".
func TargetName(app string) string { return app + ".target" }

// serviceInstances lists the instance units of s, in instance order.
func serviceInstances(s *config.Service) []string {
	names := make([]string, len(s.Instances))
	for i, in := range s.Instances {
		names[i] = InstanceName(s.Name, in.Name)
	}
	return names
}

// placed is one task or service of a placement with the units it runs.
type placed struct {
	decl  hcl.Range
	units []string
}

// Instances returns the units to enable and start on the host: every task
// unit and every service instance unit, in playbook order (the order of the
// blocks in the playbook file), each service's instances in instance order.
// The app target is not included; see TargetName.
func Instances(hp config.HostPlacement) []string {
	var out []string
	for _, p := range placedUnits(hp) {
		out = append(out, p.units...)
	}
	return out
}

// placedUnits returns the tasks and services of hp merged into playbook
// order. Tasks and services arrive as two lists, each already in playbook
// order; their declaration ranges interleave them. The sort is stable so
// values without ranges (built in code) keep tasks before services.
func placedUnits(hp config.HostPlacement) []placed {
	ps := make([]placed, 0, len(hp.Tasks)+len(hp.Services))
	for _, t := range hp.Tasks {
		ps = append(ps, placed{t.DeclRange, []string{TaskUnitName(t.Name)}})
	}
	for _, s := range hp.Services {
		ps = append(ps, placed{s.DeclRange, serviceInstances(s)})
	}
	slices.SortStableFunc(ps, func(a, b placed) int {
		return cmp.Or(
			cmp.Compare(a.decl.Filename, b.decl.Filename),
			cmp.Compare(a.decl.Start.Byte, b.decl.Start.Byte),
		)
	})
	return ps
}
