//go:build race

package sim

// raceEnabled: the race detector makes the simulated hosts' SSH servers
// several times slower; fleet-sized tests run without it (make flakes).
const raceEnabled = true
