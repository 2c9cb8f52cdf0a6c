package sim

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/openimsdk/openim-deploy/internal/cli"
)

// controllerEnv makes this test binary act as the openim-deploy command
// (cli.Main), writing a CPU profile of itself to the path it holds: the
// Exec benchmarks run it instead of the built binary when
// OPENIM_SCALE_CPUPROFILE is set, to profile the controller alone.
const controllerEnv = "OPENIM_SIM_AS_CONTROLLER_CPUPROFILE"

func TestMain(m *testing.M) {
	if path := os.Getenv(controllerEnv); path != "" {
		os.Exit(runAsController(path))
	}
	code := m.Run()
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin)) // the Exec benchmarks' controller
	}
	os.Exit(code)
}

func runAsController(profile string) int {
	f, err := os.Create(profile)
	if err != nil {
		return 1
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return 1
	}
	defer pprof.StopCPUProfile()
	os.Args = append([]string{"openim-deploy"}, os.Args[1:]...)
	if heap := os.Getenv("OPENIM_SCALE_HEAPPROFILE"); heap != "" {
		// Sample every 4 KiB, not every 512: the profile is of many
		// small per-host objects, which the default rate mostly misses.
		runtime.MemProfileRate = 4096
		var peak memSample
		stop := sampleMemTo(&peak, heap) // the controller's live heap at its peak
		defer stop()
	}
	return cli.Main()
}
