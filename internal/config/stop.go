package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// signals are the signal names systemd's KillSignal= accepts (its
// signal_from_string, Linux), without the SIG prefix. SIGSTOP is left out:
// it cannot be handled, so a stop would always wait out stop_timeout.
var signals = words(`
	HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM
	STKFLT CHLD CONT TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS`)

// decodeStop sets the service's stop signal and stop timeout. Each has a
// pass-through twin in systemd = {} (KillSignal, TimeoutStopSec); setting
// both would leave one of them silently ignored, so that is an error.
func (l *loader) decodeStop(b *serviceBlock, s *Service) {
	if l.has(b.StopSignalRange) {
		name := strings.TrimPrefix(b.StopSignal, "SIG")
		if signals[name] {
			s.StopSignal = "SIG" + name
		} else {
			l.errorf(b.StopSignalRange, b.DefRange, "Invalid stop_signal",
				"stop_signal = %q is not a signal name systemd knows, such as \"SIGTERM\", \"SIGINT\" or \"SIGQUIT\" (upper case; SIGSTOP is refused: it cannot be handled).", b.StopSignal)
		}
		l.twin(b, "KillSignal", "stop_signal", b.StopSignalRange)
	}
	if l.has(b.StopTimeoutRange) {
		if d, ok := l.duration(b.StopTimeoutRange, b.DefRange, "stop_timeout", b.StopTimeout); ok {
			s.StopTimeout = d
		}
		l.twin(b, "TimeoutStopSec", "stop_timeout", b.StopTimeoutRange)
	}
}

func (l *loader) twin(b *serviceBlock, key, attr string, r hcl.Range) {
	if _, dup := b.Systemd[key]; dup {
		l.errorf(r, b.DefRange, "Conflicting "+attr,
			"%s is also set in systemd = {...} (%s); keep one.", attr, key)
	}
}

// waitReady decides whether the unit waits for its own health probe. Every
// instance shares one template unit, so unit_wait must not differ between
// instances.
func (l *loader) waitReady(b *serviceBlock, ins []Instance) bool {
	if len(ins) == 0 {
		return false
	}
	on := func(h Health) bool {
		probe := h.TCP != "" || h.HTTP != "" || len(h.Exec) > 0
		return probe && (h.UnitWait == nil || *h.UnitWait)
	}
	first := on(ins[0].Health)
	for _, in := range ins[1:] {
		if on(in.Health) != first {
			l.errorf(b.Health.DefRange, b.DefRange, "Inconsistent unit_wait",
				"Instance %q waits in its unit and instance %q does not: the instances share one unit, so unit_wait (and whether there is a probe) must be the same for all.", ins[0].Name, in.Name)
			return false
		}
	}
	return first
}
