package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// Built-in SSH defaults, used where neither the host nor defaults{} says.
const (
	// DefaultUser is the login user when neither the inventory nor
	// ssh_config names one.
	DefaultUser = "root"
	// DefaultPort is the SSH port when neither the inventory nor
	// ssh_config names one.
	DefaultPort           = 22
	defaultKnownHosts     = "~/.ssh/known_hosts"
	defaultConnectTimeout = 10 * time.Second
)

// inventoryFile is the decoded shape of an inventory file. Attributes whose
// absence matters carry an attr_range: an unset range means "not written".
type inventoryFile struct {
	Playbook      string           `hcl:"playbook,optional"`
	PlaybookRange hcl.Range        `hcl:"playbook,attr_range"`
	Defaults      []*defaultsBlock `hcl:"defaults,block"`
	Bastions      []*bastionBlock  `hcl:"bastion,block"`
	Hosts         []*hostBlock     `hcl:"host,block"`
}

type defaultsBlock struct {
	User                string    `hcl:"user,optional"`
	UserRange           hcl.Range `hcl:"user,attr_range"`
	Port                int       `hcl:"port,optional"`
	PortRange           hcl.Range `hcl:"port,attr_range"`
	Identity            string    `hcl:"identity,optional"`
	IdentityRange       hcl.Range `hcl:"identity,attr_range"`
	KnownHosts          string    `hcl:"known_hosts,optional"`
	KnownHostsRange     hcl.Range `hcl:"known_hosts,attr_range"`
	Become              bool      `hcl:"become,optional"`
	BecomeRange         hcl.Range `hcl:"become,attr_range"`
	ConnectTimeout      string    `hcl:"connect_timeout,optional"`
	ConnectTimeoutRange hcl.Range `hcl:"connect_timeout,attr_range"`
	DefRange            hcl.Range `hcl:",def_range"`
}

type bastionBlock struct {
	Name                string    `hcl:"name,label"`
	NameRange           hcl.Range `hcl:"name,label_range"`
	Address             string    `hcl:"address"`
	AddressRange        hcl.Range `hcl:"address,attr_range"`
	User                string    `hcl:"user,optional"`
	UserRange           hcl.Range `hcl:"user,attr_range"`
	Port                int       `hcl:"port,optional"`
	PortRange           hcl.Range `hcl:"port,attr_range"`
	Identity            string    `hcl:"identity,optional"`
	IdentityRange       hcl.Range `hcl:"identity,attr_range"`
	KnownHosts          string    `hcl:"known_hosts,optional"`
	KnownHostsRange     hcl.Range `hcl:"known_hosts,attr_range"`
	ConnectTimeout      string    `hcl:"connect_timeout,optional"`
	ConnectTimeoutRange hcl.Range `hcl:"connect_timeout,attr_range"`
	DefRange            hcl.Range `hcl:",def_range"`
}

type hostBlock struct {
	Name                string            `hcl:"name,label"`
	NameRange           hcl.Range         `hcl:"name,label_range"`
	Address             string            `hcl:"address"`
	AddressRange        hcl.Range         `hcl:"address,attr_range"`
	User                string            `hcl:"user,optional"`
	UserRange           hcl.Range         `hcl:"user,attr_range"`
	Port                int               `hcl:"port,optional"`
	PortRange           hcl.Range         `hcl:"port,attr_range"`
	Identity            string            `hcl:"identity,optional"`
	IdentityRange       hcl.Range         `hcl:"identity,attr_range"`
	KnownHosts          string            `hcl:"known_hosts,optional"`
	KnownHostsRange     hcl.Range         `hcl:"known_hosts,attr_range"`
	Become              bool              `hcl:"become,optional"`
	BecomeRange         hcl.Range         `hcl:"become,attr_range"`
	ConnectTimeout      string            `hcl:"connect_timeout,optional"`
	ConnectTimeoutRange hcl.Range         `hcl:"connect_timeout,attr_range"`
	Groups              []string          `hcl:"groups,optional"`
	GroupsRange         hcl.Range         `hcl:"groups,attr_range"`
	Via                 string            `hcl:"via,optional"`
	ViaRange            hcl.Range         `hcl:"via,attr_range"`
	Vars                map[string]string `hcl:"vars,optional"`
	VarsRange           hcl.Range         `hcl:"vars,attr_range"`
	DefRange            hcl.Range         `hcl:",def_range"`
}

// sshSrc is the SSH part of any of the three blocks, with source ranges.
type sshSrc struct {
	user, identity, knownHosts, timeout  string
	port                                 int
	become                               bool
	userR, portR, identityR, knownHostsR hcl.Range
	becomeR, timeoutR, def               hcl.Range
}

func (b *defaultsBlock) ssh() sshSrc {
	return sshSrc{b.User, b.Identity, b.KnownHosts, b.ConnectTimeout, b.Port, b.Become,
		b.UserRange, b.PortRange, b.IdentityRange, b.KnownHostsRange, b.BecomeRange, b.ConnectTimeoutRange, b.DefRange}
}

func (b *bastionBlock) ssh() sshSrc {
	return sshSrc{b.User, b.Identity, b.KnownHosts, b.ConnectTimeout, b.Port, false,
		b.UserRange, b.PortRange, b.IdentityRange, b.KnownHostsRange, hcl.Range{}, b.ConnectTimeoutRange, b.DefRange}
}

func (b *hostBlock) ssh() sshSrc {
	return sshSrc{b.User, b.Identity, b.KnownHosts, b.ConnectTimeout, b.Port, b.Become,
		b.UserRange, b.PortRange, b.IdentityRange, b.KnownHostsRange, b.BecomeRange, b.ConnectTimeoutRange, b.DefRange}
}

// decodeInventory decodes and validates the inventory on its own.
func (l *loader) decodeInventory(f *hcl.File) *Inventory {
	var raw inventoryFile
	l.diags = append(l.diags, gohcl.DecodeBody(f.Body, nil, &raw)...)
	name := f.Body.MissingItemRange().Filename
	inv := &Inventory{Filename: name, Playbook: l.localPath(name, raw.Playbook)}
	l.playbookRange = raw.PlaybookRange

	// User and Port stay unset unless the inventory sets them, so the
	// transport can take them from ssh_config first; it falls back to
	// DefaultUser and DefaultPort.
	base := SSH{ConnectTimeout: defaultConnectTimeout,
		KnownHosts: l.localPath(name, defaultKnownHosts)}
	for i, d := range raw.Defaults {
		if i > 0 {
			l.errorf(d.DefRange, hcl.Range{}, "Duplicate defaults block",
				"Only one defaults block is allowed; the first is at %s.", raw.Defaults[0].DefRange)
			continue
		}
		base = l.applySSH(name, base, d.ssh())
	}

	bastions := map[string]*bastionBlock{}
	for _, b := range raw.Bastions {
		l.checkName(b.NameRange, b.DefRange, "bastion", b.Name)
		if prev, dup := bastions[b.Name]; dup {
			l.errorf(b.NameRange, b.DefRange, "Duplicate bastion name",
				"Bastion %q is already defined at %s.", b.Name, prev.DefRange)
			continue
		}
		bastions[b.Name] = b
		l.checkAddress(b.AddressRange, b.DefRange, b.Address)
		ssh := l.applySSH(name, base, b.ssh())
		ssh.Become = false // a bastion only forwards connections
		inv.Bastions = append(inv.Bastions, &Bastion{Name: b.Name, Address: b.Address, SSH: ssh, DeclRange: b.DefRange})
	}

	hosts := map[string]*hostBlock{}
	addrs := map[string]*hostBlock{}
	for _, b := range raw.Hosts {
		h := l.decodeHost(name, base, b, bastions)
		if prev, dup := hosts[b.Name]; dup {
			l.errorf(b.NameRange, b.DefRange, "Duplicate host name",
				"Host %q is already defined at %s.", b.Name, prev.DefRange)
			continue
		}
		hosts[b.Name] = b
		key := fmt.Sprintf("%s:%d", NormalizeAddress(h.Address), cmp.Or(h.Port, DefaultPort))
		if prev, dup := addrs[key]; dup && h.Address != "" {
			l.errorf(b.AddressRange, b.DefRange, "Duplicate host address",
				"Host %q connects to %s, as host %q does (%s). Each host must be a different machine.",
				b.Name, key, prev.Name, prev.DefRange)
		}
		addrs[key] = b
		inv.Hosts = append(inv.Hosts, h)
	}
	// A host named like a group makes "--limit app" and hosts = ["app"]
	// mean two things at once.
	groups := map[string]*hostBlock{}
	for _, b := range raw.Hosts {
		for _, g := range b.Groups {
			if _, ok := groups[g]; !ok {
				groups[g] = b
			}
		}
	}
	for _, b := range raw.Hosts {
		if g, ok := groups[b.Name]; ok {
			l.errorf(b.NameRange, b.DefRange, "Host named like a group",
				"Host %q has the name of a group that host %q is in (%s): a selector such as --limit %s or hosts = [%q] could mean either. Rename the host or the group.",
				b.Name, g.Name, g.DefRange, b.Name, b.Name)
		}
	}
	if len(raw.Hosts) == 0 {
		l.errorf(f.Body.MissingItemRange(), hcl.Range{}, "No hosts",
			"The inventory must define at least one host block.")
	}
	return inv
}

func (l *loader) decodeHost(file string, base SSH, b *hostBlock, bastions map[string]*bastionBlock) *Host {
	l.checkName(b.NameRange, b.DefRange, "host", b.Name)
	if b.Name == "all" {
		l.errorf(b.NameRange, b.DefRange, "Reserved host name",
			`"all" selects every host and cannot name one.`)
	}
	l.checkAddress(b.AddressRange, b.DefRange, b.Address)
	for _, g := range b.Groups {
		l.checkName(b.GroupsRange, b.DefRange, "group", g)
	}
	if l.has(b.ViaRange) {
		if _, ok := bastions[b.Via]; !ok {
			l.errorf(b.ViaRange, b.DefRange, "Unknown bastion",
				"No bastion %q is defined.%s", b.Via, suggest(b.Via, mapKeys(bastions)))
		}
	}
	for k, v := range b.Vars {
		if !safeValue(k) || !safeValue(v) {
			l.errorf(b.VarsRange, b.DefRange, "Invalid host variable",
				"Host variable %q contains a newline or NUL character.", k)
		}
	}
	return &Host{Name: b.Name, Address: b.Address, SSH: l.applySSH(file, base, b.ssh()),
		Groups: b.Groups, Via: b.Via, Vars: b.Vars, DeclRange: b.DefRange}
}

// applySSH overlays the attributes written in s onto base, validating each.
func (l *loader) applySSH(file string, base SSH, s sshSrc) SSH {
	out := base
	if l.has(s.userR) {
		l.checkName(s.userR, s.def, "user", s.user)
		out.User = s.user
	}
	if l.has(s.portR) {
		if s.port < 1 || s.port > 65535 {
			l.errorf(s.portR, s.def, "Invalid port", "Port %d is not between 1 and 65535.", s.port)
		}
		out.Port = s.port
	}
	if l.has(s.identityR) {
		out.Identity = l.localPath(file, s.identity)
	}
	if l.has(s.knownHostsR) {
		out.KnownHosts = l.localPath(file, s.knownHosts)
	}
	if l.has(s.becomeR) {
		out.Become = s.become
	}
	if l.has(s.timeoutR) {
		if d, ok := l.duration(s.timeoutR, s.def, "connect_timeout", s.timeout); ok {
			out.ConnectTimeout = d
		}
	}
	return out
}

// checkAddress rejects addresses that could be read as ssh options or
// that carry whitespace: the address reaches ssh and known_hosts lookups.
func (l *loader) checkAddress(r, ctx hcl.Range, addr string) {
	if !l.has(r) {
		return // missing or not a string: gohcl already said so
	}
	if !addressRE.MatchString(addr) {
		l.errorf(r, ctx, "Invalid address",
			"Address %q must be a host name or an IP address: letters, digits and . : - _ [ ] %% only, not starting with -.", addr)
		return
	}
	if ambiguousIPv4(addr) {
		l.errorf(r, ctx, "Ambiguous address",
			"Address %q has an octet with a leading zero, which some tools read as octal (010 = 8): write it without leading zeros.", addr)
	}
}

// NormalizeAddress is the form two addresses of one machine share: an IP
// address as net/netip prints it (IPv6 compressed, brackets dropped), a
// name lower-cased without its trailing dots.
func NormalizeAddress(addr string) string {
	unbracket := func(s string) string { return strings.TrimSuffix(strings.TrimPrefix(s, "["), "]") }
	for _, a := range []string{addr, unbracket(addr)} {
		if ip, err := netip.ParseAddr(a); err == nil {
			return ip.String() // a zone (%eth0) keeps its case: interface names are case-sensitive
		}
	}
	a := strings.TrimRight(strings.ToLower(addr), ".")
	if ip, err := netip.ParseAddr(unbracket(a)); err == nil {
		return ip.String() // "10.0.0.1."
	}
	return a
}

// ambiguousIPv4 reports a dotted-quad of digits with an octet that has a
// leading zero ("10.0.0.01"): net/netip refuses it, inet_aton reads it as
// octal, so it may not mean what it seems.
func ambiguousIPv4(addr string) bool {
	parts := strings.Split(addr, ".")
	if len(parts) != 4 {
		return false
	}
	lead := false
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
		if len(p) > 1 && p[0] == '0' {
			lead = true
		}
	}
	return lead
}
