package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// Config says how to reach one host. Zero values mean "use the default",
// and, where ~/.ssh/config has a matching Host block, its value: values set
// here (from the inventory) always win over ssh_config.
type Config struct {
	Name    string // inventory name, for messages ("im-1"); defaults to Address
	Address string // host name or IP; an ssh_config alias is resolved via HostName
	Port    int    // default: ssh_config Port, else 22
	User    string // default: ssh_config User, else FallbackUser
	// FallbackUser is the login user when neither User nor ssh_config
	// names one; empty means the local user (what ssh does). The CLI sets
	// "root", the inventory's documented default.
	FallbackUser string

	Identity   string // private key file, tried before ssh_config IdentityFile and the agent
	KnownHosts string // default: ssh_config UserKnownHostsFile, else ~/.ssh/known_hosts
	// GlobalKnownHosts are read-only known_hosts files checked as well,
	// as ssh does. nil means ssh_config GlobalKnownHostsFile, else
	// /etc/ssh/ssh_known_hosts and /etc/ssh/ssh_known_hosts2; an empty
	// non-nil slice reads none (hermetic tests).
	GlobalKnownHosts []string
	AcceptNew        bool // trust and record the key of a host with no key on record
	Become           bool // honour Cmd.Sudo with "sudo -n" when User is not root

	// Jump is a bastion to connect through (inventory "via"). When nil,
	// ssh_config ProxyJump applies. Empty fields of Jump other than Address,
	// Port, User and Name are inherited from this Config.
	Jump *Config

	ConnectTimeout    time.Duration // TCP dial plus SSH handshake, per hop; default 10s
	KeepaliveInterval time.Duration // default 5s
	KeepaliveMax      int           // missed keepalives before the connection is closed; default 3

	SSHConfigFile string // default ~/.ssh/config; "none" disables ssh_config
	// Agent uses the ssh-agent at $SSH_AUTH_SOCK for authentication (never
	// forwarded). The zero value is off so library callers and tests are
	// hermetic; the CLI turns it on when SSH_AUTH_SOCK is set.
	Agent bool

	// Counters, when set, tally this host's connections, sessions and
	// bytes sent (for benchmarks).
	Counters *HostCounters
}

const (
	defaultConnectTimeout    = 10 * time.Second
	defaultKeepaliveInterval = 5 * time.Second
	defaultKeepaliveMax      = 3
	maxHops                  = 8
)

// hop is a Config with every default and ssh_config value filled in.
type hop struct {
	name       string
	addr       string // host:port, as dialled and as looked up in known_hosts
	user       string
	identities []string // explicit first; missing ssh_config files already dropped
	counters   *HostCounters
	explicitID bool // identities[0] came from Config.Identity: failing to load it is an error
	knownHosts string
	// globalKnownHosts are the read-only system files.
	globalKnownHosts []string
	acceptNew        bool
	become           bool
	agent            bool
	timeout          time.Duration
	kaInterval       time.Duration
	kaMax            int
	jump             *hop
}

// resolve fills in defaults and ssh_config values, recursively for jumps.
func (c Config) resolve() (*hop, error) {
	return c.resolveDepth(0)
}

func (c Config) resolveDepth(depth int) (*hop, error) {
	if depth >= maxHops {
		return nil, fmt.Errorf("more than %d jump hosts (ProxyJump loop?)", maxHops)
	}
	if c.Address == "" {
		return nil, errors.New("no address")
	}
	sc, err := loadSSHConfig(c.SSHConfigFile)
	if err != nil {
		return nil, err
	}
	get := func(key string) string {
		if sc == nil {
			return ""
		}
		v, _ := sc.Get(c.Address, key)
		return v
	}

	h := &hop{
		name:       c.Name,
		user:       c.User,
		knownHosts: c.KnownHosts,
		acceptNew:  c.AcceptNew,
		become:     c.Become,
		counters:   c.Counters,
		agent:      c.Agent,
		timeout:    orDefault(c.ConnectTimeout, defaultConnectTimeout),
		kaInterval: orDefault(c.KeepaliveInterval, defaultKeepaliveInterval),
		kaMax:      c.KeepaliveMax,
	}
	if h.kaMax <= 0 {
		h.kaMax = defaultKeepaliveMax
	}
	hostname := c.Address
	if v := get("HostName"); v != "" {
		hostname = strings.ReplaceAll(v, "%h", c.Address)
	}
	port := c.Port
	if port == 0 {
		if v := get("Port"); v != "" {
			if port, err = strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("ssh_config: bad Port %q for %s", v, c.Address)
			}
		}
	}
	if port == 0 {
		port = 22
	}
	h.addr = net.JoinHostPort(hostname, strconv.Itoa(port))
	if h.name == "" {
		h.name = c.Address
	}
	if h.user == "" {
		h.user = get("User")
	}
	if h.user == "" {
		h.user = c.FallbackUser
	}
	if h.user == "" {
		if u, err := user.Current(); err == nil {
			h.user = u.Username
		}
	}
	if c.Identity != "" {
		h.identities = append(h.identities, expandHome(c.Identity))
		h.explicitID = true
	}
	if sc != nil {
		files, _ := sc.GetAll(c.Address, "IdentityFile")
		for _, f := range files {
			f = expandHome(f)
			if fileExists(f) && (len(h.identities) == 0 || h.identities[0] != f) {
				h.identities = append(h.identities, f)
			}
		}
	}
	if len(h.identities) == 0 {
		// OpenSSH's default identities, when nothing else names a key.
		for _, f := range []string{"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"} {
			if f = expandHome(f); fileExists(f) {
				h.identities = append(h.identities, f)
			}
		}
	}
	if h.knownHosts == "" {
		if f := strings.Fields(get("UserKnownHostsFile")); len(f) > 0 {
			h.knownHosts = expandHome(f[0])
		}
	}
	if h.knownHosts == "" {
		h.knownHosts = expandHome("~/.ssh/known_hosts")
	}
	h.globalKnownHosts = c.GlobalKnownHosts
	if h.globalKnownHosts == nil {
		if f := strings.Fields(get("GlobalKnownHostsFile")); len(f) > 0 {
			for _, g := range f {
				h.globalKnownHosts = append(h.globalKnownHosts, expandHome(g))
			}
		} else {
			h.globalKnownHosts = []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}
		}
	}

	jump := c.Jump
	if jump == nil {
		if pj := get("ProxyJump"); pj != "" && pj != "none" {
			if jump, err = parseProxyJump(pj); err != nil {
				return nil, fmt.Errorf("ssh_config ProxyJump for %s: %w", c.Address, err)
			}
		}
	}
	if jump != nil {
		j := c.inherit(*jump)
		if h.jump, err = j.resolveDepth(depth + 1); err != nil {
			return nil, fmt.Errorf("jump host %s: %w", jump.Address, err)
		}
	}
	return h, nil
}

// inherit fills the connection policy of a jump host from its target.
func (c Config) inherit(j Config) Config {
	if j.Identity == "" {
		j.Identity = c.Identity
	}
	if j.KnownHosts == "" {
		j.KnownHosts = c.KnownHosts
	}
	if j.GlobalKnownHosts == nil {
		j.GlobalKnownHosts = c.GlobalKnownHosts
	}
	if j.FallbackUser == "" {
		j.FallbackUser = c.FallbackUser
	}
	j.AcceptNew = j.AcceptNew || c.AcceptNew
	j.Agent = j.Agent || c.Agent
	if j.ConnectTimeout == 0 {
		j.ConnectTimeout = c.ConnectTimeout
	}
	if j.KeepaliveInterval == 0 {
		j.KeepaliveInterval = c.KeepaliveInterval
	}
	if j.KeepaliveMax == 0 {
		j.KeepaliveMax = c.KeepaliveMax
	}
	if j.SSHConfigFile == "" {
		j.SSHConfigFile = c.SSHConfigFile
	}
	return j
}

// parseProxyJump turns "a,user@b:2222" into b with Jump a (the last hop is
// the one that connects to the target).
func parseProxyJump(s string) (*Config, error) {
	var prev *Config
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(strings.TrimPrefix(part, "ssh://"))
		if part == "" {
			return nil, fmt.Errorf("empty hop in %q", s)
		}
		c := &Config{Jump: prev}
		if u, rest, ok := strings.Cut(part, "@"); ok {
			c.User, part = u, rest
		}
		c.Address = part
		if host, port, err := net.SplitHostPort(part); err == nil {
			p, err := strconv.Atoi(port)
			if err != nil {
				return nil, fmt.Errorf("bad port in %q", part)
			}
			c.Address, c.Port = host, p
		}
		prev = c
	}
	return prev, nil
}

func loadSSHConfig(path string) (*ssh_config.Config, error) {
	if path == "none" {
		return nil, nil
	}
	if path == "" {
		path = expandHome("~/.ssh/config")
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ssh_config: %w", err)
	}
	defer f.Close()
	sc, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("ssh_config %s: %w", path, err)
	}
	return sc, nil
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
