package phase

// PlanPhases gather state and compute the plan; nothing on a host changes.
func PlanPhases() []Phase {
	return []Phase{
		Connect{},     // one SSH connection per host for the whole run
		Preflight{},   // OS, init system and fit checks, read-only
		Gather{},      // releases, unit files, systemd state, what runs; read-only
		ComputePlan{}, // pure: desired vs actual, printed
	}
}

// ApplyPhases are the plan phases with the lock taken before gathering and
// the apply phases after.
func ApplyPhases() []Phase {
	return []Phase{
		Connect{},       // one SSH connection per host for the whole run
		Preflight{},     // refuse hosts that cannot run the playbook
		AcquireLock{},   // per-host lease; released in CleanUp, even on Ctrl-C
		Gather{},        // read-only state, taken under the lock
		ComputePlan{},   // pure: desired vs actual, printed
		PushRelease{},   // complete new release beside the running ones
		InstallUnits{},  // changed unit files, re-pins without restart, reload, enable
		StartUnits{},    // pin and (re)start by dependency wave, health-gated
		RemoveOrphans{}, // stop and remove what left the playbook
		SwitchCurrent{}, // current follows the release every instance runs; prune
	}
}
