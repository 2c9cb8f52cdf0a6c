package phase

// Every command that plans goes the same way: Render (pure), ReadHosts
// (each host connected and read in one read-only round trip), Preflight and ComputePlan
// (pure), then, for those that change the fleet, AcquireLock on the hosts
// with changes and the steps that carry the plan out. The lists differ
// only in the Intent they plan and the steps they need.

// PlanPhases read every host and compute the plan; nothing on a host changes.
func PlanPhases() []Phase {
	return []Phase{
		Render{},                                 // pure: what the playbook wants on every host
		ReadHosts{Facts: true, WarnLocked: true}, // connect; facts, state, the lock's holder: one read-only round trip
		Preflight{},                              // judges the facts
		ComputePlan{},                            // pure: desired vs actual, printed
	}
}

// ApplyPhases are the plan phases, then the lock on the hosts with changes
// and the apply phases.
func ApplyPhases() []Phase {
	return append(readAndPlan(ApplyPlaybook()),
		AcquireLock{},   // the hosts with changes; their state read again under the lease
		PushRelease{},   // complete new release beside the running ones
		InstallUnits{},  // changed unit files, re-pins without restart, reload, enable
		StartUnits{},    // pin and (re)start by dependency wave, health-gated
		RemoveOrphans{}, // stop and remove what left the playbook
		SwitchCurrent{}, // current follows the release every instance runs; prune
	)
}

// RestartPhases restart the units f picks, each on the release it runs,
// rolled with the rollout policy and gated.
func RestartPhases(f UnitFilter) []Phase {
	return append(readAndPlan(RestartUnits(f)), AcquireLock{}, StartUnits{})
}

// StartPhases start the units f picks that are not running, by dependency
// wave, gated as apply gates them.
func StartPhases(f UnitFilter) []Phase {
	return []Phase{Render{}, ReadHosts{}, ComputePlan{Intent: StartUnitsOf(f)}, AcquireLock{}, StartUnits{}}
}

// RollbackPhases move every instance back to release to (or the one
// current before current, by each host's ledger); the run must read the
// history (Options.ReadLedger).
func RollbackPhases(to string, force bool) []Phase {
	return append(readAndPlan(RollbackTo(to, force)),
		AcquireLock{}, InstallUnits{}, StartUnits{}, RemoveOrphans{}, SwitchCurrent{})
}

func readAndPlan(in Intent) []Phase {
	return []Phase{Render{}, ReadHosts{Facts: true}, Preflight{}, ComputePlan{Intent: in}}
}
