package cli

import (
	"context"
	"os"

	"github.com/openimsdk/openim-deploy/internal/config"
	"github.com/openimsdk/openim-deploy/internal/phase"
	"github.com/openimsdk/openim-deploy/internal/target"
	"github.com/openimsdk/openim-deploy/internal/target/remote"
)

// ConnectOptions are the connection flags shared by every command that
// reaches hosts.
type ConnectOptions struct {
	AcceptNew bool
	Parallel  int
	// SSHConfigFile overrides ~/.ssh/config; "none" ignores it.
	SSHConfigFile string
	// Counters, set from IO.Counters (never a flag), tallies connections,
	// sessions and bytes per host for benchmarks.
	Counters *remote.Counters
}

// sshDialer returns the production dialer: SSH with strict host keys,
// through the host's bastion when it names one.
//
// One Pool per run: every host behind one bastion shares one connection to
// it (see remote.Pool).
func sshDialer(opts ConnectOptions) phase.Dialer {
	pool := remote.NewPool()
	return func(ctx context.Context, h *config.Host, b *config.Bastion) (target.Target, error) {
		cfg := remoteConfig(h.Name, h.Address, h.SSH, opts)
		if opts.Counters != nil {
			cfg.Counters = opts.Counters.Host(h.Name)
		}
		if b != nil {
			jump := remoteConfig(b.Name, b.Address, b.SSH, opts)
			cfg.Jump = &jump
		}
		return pool.Dial(ctx, cfg)
	}
}

func remoteConfig(name, address string, s config.SSH, opts ConnectOptions) remote.Config {
	return remote.Config{
		Name:           name,
		Address:        address,
		Port:           s.Port,
		User:           s.User,
		FallbackUser:   config.DefaultUser,
		Identity:       s.Identity,
		KnownHosts:     s.KnownHosts,
		AcceptNew:      opts.AcceptNew,
		Become:         s.Become,
		ConnectTimeout: s.ConnectTimeout,
		// The agent is used when one is running; it is never forwarded.
		Agent:         os.Getenv("SSH_AUTH_SOCK") != "",
		SSHConfigFile: opts.SSHConfigFile,
	}
}
