package phase

// PlanPhases gather state and compute the plan; nothing on a host changes.
func PlanPhases() []Phase {
	return []Phase{
		Connect{},              // one SSH connection per host for the whole run
		Preflight{State: true}, // OS, init system and fit checks, with the state: one read-only round trip
		Gather{},               // releases, unit files, systemd state, what runs (when Preflight could not)
		ComputePlan{},          // pure: desired vs actual, printed
	}
}

// ApplyPhases are the plan phases with the lock taken first, in the round
// trip that reads the facts and the state, and the apply phases after.
func ApplyPhases() []Phase {
	return []Phase{
		Connect{},                // one SSH connection per host for the whole run
		AcquireLock{Facts: true}, // per-host lease, with the facts and state read in its round trip
		Preflight{},              // refuse hosts that cannot run the playbook; nothing changed yet
		Gather{},                 // read-only state, taken under the lock (when the lock's read failed)
		ComputePlan{},            // pure: desired vs actual, printed
		PushRelease{},            // complete new release beside the running ones
		InstallUnits{},           // changed unit files, re-pins without restart, reload, enable
		StartUnits{},             // pin and (re)start by dependency wave, health-gated
		RemoveOrphans{},          // stop and remove what left the playbook
		SwitchCurrent{},          // current follows the release every instance runs; prune
	}
}
