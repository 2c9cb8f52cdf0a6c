package config

import (
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Rollout is how restarts of running instances are rolled across the
// fleet: in batches of instances of one service, each batch health-gated
// before the next, and rolled back when one fails.
type Rollout struct {
	// Batch is the number of instances of a service changed at once across
	// the fleet; BatchPercent, when set, is a share of the instances to
	// roll instead. The default is 1.
	Batch        int
	BatchPercent int
	// MaxUnavailable caps instances of the service down at once, counting
	// those already unhealthy before the batch; 0 means Batch.
	MaxUnavailable        int
	MaxUnavailablePercent int
	// Canary is the size of the first batch; after it the rollout waits
	// for confirmation, or Pause in a non-interactive run. 0: no canary.
	Canary int
	// Pause is the wait between batches.
	Pause time.Duration
	// AutoRollback moves instances this run moved back to the release
	// they ran when a batch fails its gate. Default true.
	AutoRollback bool
}

// DefaultRollout is the policy without a rollout block: one instance of a
// service at a time across the fleet, rolled back on failure.
func DefaultRollout() Rollout { return Rollout{Batch: 1, AutoRollback: true} }

// BatchSize is the batch size for a service with total instances to roll.
func (r Rollout) BatchSize(total int) int {
	return sizeOf(r.Batch, r.BatchPercent, total)
}

// Unavailable is the ceiling on instances down at once.
func (r Rollout) Unavailable(total int) int {
	if r.MaxUnavailable == 0 && r.MaxUnavailablePercent == 0 {
		return r.BatchSize(total)
	}
	return sizeOf(r.MaxUnavailable, r.MaxUnavailablePercent, total)
}

// sizeOf turns a count or a percentage of total into a count of at least 1.
func sizeOf(n, pct, total int) int {
	if pct > 0 {
		n = total * pct / 100
	}
	return max(n, 1)
}

// rolloutBlock is the HCL form of a rollout block.
type rolloutBlock struct {
	Batch          hcl.Expression `hcl:"batch,optional"`
	MaxUnavailable hcl.Expression `hcl:"max_unavailable,optional"`
	Canary         *int           `hcl:"canary,optional"`
	CanaryRange    hcl.Range      `hcl:"canary,attr_range"`
	Pause          *string        `hcl:"pause,optional"`
	PauseRange     hcl.Range      `hcl:"pause,attr_range"`
	AutoRollback   *bool          `hcl:"auto_rollback,optional"`
	DefRange       hcl.Range      `hcl:",def_range"`
}

// rollout applies block b over base and returns the result; a nil block
// returns base. Problems are reported as diagnostics.
func (l *loader) rollout(b *rolloutBlock, base Rollout, ctx *hcl.EvalContext) Rollout {
	if b == nil {
		return base
	}
	r := base
	if n, pct, ok := l.countOrPercent(b.Batch, "batch", ctx); ok {
		r.Batch, r.BatchPercent = n, pct
	}
	if n, pct, ok := l.countOrPercent(b.MaxUnavailable, "max_unavailable", ctx); ok {
		r.MaxUnavailable, r.MaxUnavailablePercent = n, pct
	}
	if b.Canary != nil {
		if *b.Canary < 0 {
			l.errorf(b.CanaryRange, b.DefRange, "Invalid canary", "canary is a number of instances, 0 or more.")
		}
		r.Canary = *b.Canary
	}
	if b.Pause != nil {
		d, err := time.ParseDuration(*b.Pause)
		if err != nil || d < 0 {
			l.errorf(b.PauseRange, b.DefRange, "Invalid pause", "pause must be a duration such as \"10s\", not %q.", *b.Pause)
		}
		r.Pause = d
	}
	if b.AutoRollback != nil {
		r.AutoRollback = *b.AutoRollback
	}
	return r
}

// countOrPercent decodes an attribute that is a positive number or a
// percentage string ("25%"). ok is false when the attribute is absent.
func (l *loader) countOrPercent(expr hcl.Expression, name string, ctx *hcl.EvalContext) (n, pct int, ok bool) {
	if expr == nil {
		return 0, 0, false
	}
	v, diags := expr.Value(ctx)
	if v.IsNull() && !diags.HasErrors() {
		return 0, 0, false
	}
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return 0, 0, false
	}
	bad := func() (int, int, bool) {
		l.errorf(expr.Range(), hcl.Range{}, "Invalid "+name,
			"%s is a number of instances (2) or a percentage of them (\"25%%\"), at least 1.", name)
		return 0, 0, false
	}
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		i, acc := bf.Int64()
		if acc != 0 || i < 1 {
			return bad()
		}
		return int(i), 0, true
	case cty.String:
		s := strings.TrimSpace(v.AsString())
		num, isPct := strings.CutSuffix(s, "%")
		p, err := strconv.Atoi(num)
		if !isPct || err != nil || p < 1 || p > 100 {
			return bad()
		}
		return 0, p, true
	}
	return bad()
}
