package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/hook"
	"github.com/openimsdk/openim-deploy/internal/phase"
)

// rolloutFlags override the playbook's rollout policy for one run.
type rolloutFlags struct {
	batch   string
	canary  int
	pause   time.Duration
	confirm bool
	noHooks bool
	flags   *pflag.FlagSet // which of them were given
}

func addRolloutFlags(cmd *cobra.Command, rf *rolloutFlags) {
	f := cmd.Flags()
	rf.flags = f
	f.StringVar(&rf.batch, "batch", "", `instances of a service restarted at once across the fleet, a count or a percentage ("25%"); overrides the playbook's rollout`)
	f.IntVar(&rf.canary, "canary", 0, "size of the first batch, after which the rollout waits for confirmation; 0 for none (default: the playbook's)")
	f.DurationVar(&rf.pause, "pause", 0, "wait between batches (after a canary: how long a non-interactive run waits before going on) (default: the playbook's)")
	f.BoolVar(&rf.confirm, "confirm", false, "go on after a canary without asking")
	f.BoolVar(&rf.noHooks, "no-hooks", false, "do not run the playbook's hooks around rolling batches (a warning names each batch whose hooks are skipped)")
}

// given reports whether flag was on the command line.
func (rf rolloutFlags) given(flag string) bool { return rf.flags != nil && rf.flags.Changed(flag) }

// check refuses values no rollout can mean, before any host is contacted.
func (rf rolloutFlags) check() error {
	if rf.given("batch") && strings.TrimSpace(rf.batch) == "" {
		return usageErrorf("--batch is empty: want a count of at least 1 or a percentage such as 25%%")
	}
	if rf.given("canary") && rf.canary < 0 {
		return usageErrorf("--canary %d: want 0 (no canary) or a number of instances", rf.canary)
	}
	if rf.given("pause") && rf.pause < 0 {
		return usageErrorf("--pause %s: want 0 or a positive duration such as 30s", rf.pause)
	}
	return nil
}

// apply sets the overrides and the canary confirmation on r.
func (rf rolloutFlags) apply(r *phase.Run, stdio IO) error {
	if err := rf.check(); err != nil {
		return err
	}
	var n, pct int
	if rf.batch != "" {
		s, isPct := strings.CutSuffix(strings.TrimSpace(rf.batch), "%")
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || (isPct && v > 100) {
			return usageErrorf("--batch %q: want a count of at least 1 or a percentage such as 25%%", rf.batch)
		}
		if isPct {
			pct = v
		} else {
			n = v
		}
	}
	r.Opts.Rollout = func(p config.Rollout) config.Rollout {
		if rf.batch != "" {
			p.Batch, p.BatchPercent = n, pct
		}
		if rf.given("canary") {
			p.Canary = rf.canary
		}
		if rf.given("pause") {
			p.Pause = rf.pause
		}
		return p
	}
	r.Opts.Confirmed = rf.confirm
	r.Opts.NoHooks = rf.noHooks
	r.Opts.Hooks = hook.Exec{Environ: stdio.Environ}
	// Every command that rolls restarts stops at a settled point on the
	// first Ctrl-C.
	stdio.Interrupts.Soften()
	r.Opts.Interrupt = stdio.Interrupts.First()
	r.Opts.Confirm = func(ctx context.Context, pause time.Duration) error {
		return confirmCanary(ctx, rf.confirm, pause, stdio)
	}
	return nil
}

// confirmCanary waits after a canary batch: not at all with --confirm; on
// a terminal until the operator answers; otherwise for pause.
func confirmCanary(ctx context.Context, confirmed bool, pause time.Duration, stdio IO) error {
	if confirmed {
		return nil
	}
	if in, ok := stdio.In.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		fmt.Fprint(stdio.Err, "Canary healthy. Continue the rollout? [y/N] ")
		answer := make(chan string, 1)
		go func() { // ends with the process: a read from a terminal cannot be cancelled
			line, _ := bufio.NewReader(in).ReadString('\n')
			answer <- strings.TrimSpace(strings.ToLower(line))
		}()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case a := <-answer:
			if a == "y" || a == "yes" {
				return nil
			}
			return errors.New("rollout stopped after the canary by the operator")
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(pause):
		return nil
	}
}

// setAutoRollback sets auto_rollback for this run, after the flags:
// restart has no release of its own to go back to (off); a rollback batch
// that fails goes back to the release it ran, whatever the playbook says
// (on).
func setAutoRollback(r *phase.Run, on bool) {
	override := r.Opts.Rollout
	r.Opts.Rollout = func(p config.Rollout) config.Rollout {
		if override != nil {
			p = override(p)
		}
		p.AutoRollback = on
		return p
	}
}
