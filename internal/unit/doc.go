// Package unit renders the systemd unit files openim-deploy installs on a
// host: one template unit <service>@.service per service, one oneshot unit
// <task>.service per task, and an <app>.target that wants all of them.
//
// Rendering is pure: (app, placement) in, file names and bytes out, so plan
// can diff the text against what a host has and golden tests can pin it.
// Options are built as go-systemd unit.UnitOption values and serialised by
// unit.Serialize; this package only owns the escaping of values, which
// systemd parses differently per key (see escape.go). Secret environment
// values never reach unit text: they go into a separate 0600 file (EnvFile)
// that the unit names in EnvironmentFile=. docs/units.md explains every
// default.
package unit
