package config

import (
	"math/big"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Health defaults: a 30 s budget of 1 s probes, then 5 s of stability.
const (
	defaultInterval = time.Second
	defaultTimeout  = 2 * time.Second
	defaultRetries  = 30
	defaultStable   = 5 * time.Second
	// maxInstances keeps a typo (instances = 800) from rendering a fleet.
	maxInstances = 256
)

// healthBlock keeps the body of health { } undecoded: it is decoded once
// per instance, with instance.index and instance.name in scope.
type healthBlock struct {
	DefRange hcl.Range `hcl:",def_range"`
	Body     hcl.Body  `hcl:",remain"`
}

// healthAttrs is one instance's decoding of a health block.
type healthAttrs struct {
	TCP           string    `hcl:"tcp,optional"`
	TCPRange      hcl.Range `hcl:"tcp,attr_range"`
	HTTP          string    `hcl:"http,optional"`
	HTTPRange     hcl.Range `hcl:"http,attr_range"`
	Exec          []string  `hcl:"exec,optional"`
	ExecRange     hcl.Range `hcl:"exec,attr_range"`
	Interval      string    `hcl:"interval,optional"`
	IntervalRange hcl.Range `hcl:"interval,attr_range"`
	Timeout       string    `hcl:"timeout,optional"`
	TimeoutRange  hcl.Range `hcl:"timeout,attr_range"`
	Retries       int       `hcl:"retries,optional"`
	RetriesRange  hcl.Range `hcl:"retries,attr_range"`
	Stable        string    `hcl:"stable,optional"`
	StableRange   hcl.Range `hcl:"stable,attr_range"`
	UnitWait      *bool     `hcl:"unit_wait,optional"`
	UnitWaitRange hcl.Range `hcl:"unit_wait,attr_range"`
}

// decodeInstances evaluates instances and each instance's health block. It
// returns the instances, the range of the probe attribute that yields the
// ports, and the health block's range.
func (l *loader) decodeInstances(b *serviceBlock, ctx *hcl.EvalContext) ([]Instance, hcl.Range, hcl.Range) {
	names := l.instanceNames(b, ctx)
	n := len(names)
	if n == 0 {
		names = []string{"0"} // instances is invalid; still check health once
	}
	var portR, healthR hcl.Range
	out := make([]Instance, len(names))
	failed := false
	for i, name := range names {
		out[i] = Instance{Name: name, Index: i, Health: Health{
			Interval: defaultInterval, Timeout: defaultTimeout, Retries: defaultRetries, Stable: defaultStable,
		}}
		if b.Health == nil {
			continue
		}
		healthR = b.Health.DefRange
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{"instance": cty.ObjectVal(map[string]cty.Value{
			"index": cty.NumberIntVal(int64(i)),
			"name":  cty.StringVal(name),
		})}
		var a healthAttrs
		before := len(l.diags)
		l.diags = append(l.diags, gohcl.DecodeBody(b.Health.Body, child, &a)...)
		portR = l.health(&out[i].Health, &a, b.Health.DefRange)
		// Report the problems of one instance only: the others almost
		// always repeat them with a different index.
		if failed {
			l.diags = l.diags[:before]
		}
		failed = failed || l.diags[before:].HasErrors()
	}
	return out[:n], portR, healthR
}

// instanceNames evaluates instances: a count (names "0".."n-1") or a list
// of names. Unset means one instance named "0".
func (l *loader) instanceNames(b *serviceBlock, ctx *hcl.EvalContext) []string {
	r := b.InstancesRange
	if !set(r) {
		return []string{"0"}
	}
	val, diags := b.Instances.Value(ctx)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() || !val.IsWhollyKnown() || val.IsNull() {
		return nil
	}
	ty := val.Type()
	if ty == cty.Number {
		bf := val.AsBigFloat()
		n, acc := bf.Int64()
		if acc != big.Exact || n < 1 || n > maxInstances {
			l.errorf(r, b.DefRange, "Invalid instances",
				"instances = %s must be a whole number from 1 to %d, or a list of instance names.", bf.Text('g', -1), maxInstances)
			return nil
		}
		names := make([]string, n)
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
		return names
	}
	if !ty.IsListType() && !ty.IsTupleType() {
		l.errorf(r, b.DefRange, "Invalid instances", "instances must be a number or a list of instance names.")
		return nil
	}
	if val.LengthInt() < 1 || val.LengthInt() > maxInstances {
		l.errorf(r, b.DefRange, "Invalid instances",
			"instances lists %d names; from 1 to %d are allowed.", val.LengthInt(), maxInstances)
		return nil
	}
	var names []string
	seen := map[string]bool{}
	for _, v := range val.AsValueSlice() {
		s, err := convert.Convert(v, cty.String)
		if err != nil || s.IsNull() {
			l.errorf(r, b.DefRange, "Invalid instances", "Every instance name must be a string.")
			return nil
		}
		name := s.AsString()
		if !l.checkName(r, b.DefRange, "instance", name) {
			continue
		}
		if seen[name] {
			l.errorf(r, b.DefRange, "Duplicate instance name", "Instance %q is listed twice.", name)
			continue
		}
		seen[name] = true
		names = append(names, name)
	}
	return names
}

// health fills h from one instance's decoded attributes and returns the
// range of the attribute that gave the ports (tcp or http).
func (l *loader) health(h *Health, a *healthAttrs, def hcl.Range) hcl.Range {
	var probe, portR hcl.Range
	for _, r := range []hcl.Range{a.TCPRange, a.HTTPRange, a.ExecRange} {
		if !l.has(r) {
			continue
		}
		if set(probe) {
			l.errorf(r, def, "Conflicting health probes",
				"Only one of tcp, http and exec may be set; another is set at %s.", probe)
			continue
		}
		probe = r
	}
	switch {
	case l.has(a.TCPRange):
		h.TCP, portR = a.TCP, a.TCPRange
		_, port, err := net.SplitHostPort(a.TCP)
		if p, ok := parsePort(port); err == nil && ok {
			h.Ports = append(h.Ports, p)
		} else {
			l.errorf(a.TCPRange, def, "Invalid tcp probe", "tcp = %q must be host:port with a port from 1 to 65535.", a.TCP)
		}
	case l.has(a.HTTPRange):
		h.HTTP, portR = a.HTTP, a.HTTPRange
		if p, ok := httpPort(a.HTTP); ok {
			h.Ports = append(h.Ports, p)
		} else {
			l.errorf(a.HTTPRange, def, "Invalid http probe",
				"http = %q must be an http:// or https:// URL with a host and, optionally, a port from 1 to 65535.", a.HTTP)
		}
	case l.has(a.ExecRange):
		h.Exec = a.Exec
		ok := len(a.Exec) > 0 && a.Exec[0] != ""
		for _, s := range a.Exec {
			ok = ok && safeValue(s)
		}
		if !ok {
			l.errorf(a.ExecRange, def, "Invalid exec probe",
				"exec must be a non-empty argv list without newline or NUL characters.")
		}
	}
	durations := []struct {
		dst  *time.Duration
		r    hcl.Range
		name string
		val  string
	}{{&h.Interval, a.IntervalRange, "interval", a.Interval}, {&h.Timeout, a.TimeoutRange, "timeout", a.Timeout}, {&h.Stable, a.StableRange, "stable", a.Stable}}
	for _, d := range durations {
		if l.has(d.r) {
			if v, ok := l.duration(d.r, def, d.name, d.val); ok {
				*d.dst = v
			}
		}
	}
	if l.has(a.UnitWaitRange) && a.UnitWait != nil {
		h.UnitWait = a.UnitWait
		if *a.UnitWait && !set(probe) {
			l.errorf(a.UnitWaitRange, def, "Invalid unit_wait",
				"unit_wait = true needs a tcp, http or exec probe for the unit to wait for.")
		}
	}
	if l.has(a.RetriesRange) {
		h.Retries = a.Retries
		if a.Retries < 1 {
			l.errorf(a.RetriesRange, def, "Invalid retries", "retries = %d must be at least 1.", a.Retries)
		}
	}
	return portR
}

// httpPort returns the port an http(s) URL connects to.
func httpPort(raw string) (int, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return 0, false
	}
	switch {
	case u.Port() != "":
		return parsePort(u.Port())
	case u.Scheme == "https":
		return 443, true
	default:
		return 80, true
	}
}

func parsePort(s string) (int, bool) {
	p, err := strconv.Atoi(s)
	return p, err == nil && p >= 1 && p <= 65535
}
