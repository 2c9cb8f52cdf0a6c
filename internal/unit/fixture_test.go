package unit

import (
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/openimsdk/openim-deploy/internal/config"
)

// Secret values of the fixture; no rendered unit may contain any of them.
const (
	mongoSecret = "m0ng0 \"$PASS\" `id` \\ 100% 'q'"
	redisSecret = "r3d1s-line1\nline2\twith-tab"
)

func openimApp() config.App {
	return config.App{Name: "openim", Root: "/opt/openim", User: "openim", KeepReleases: 5}
}

// at gives a block a playbook position so Instances can merge tasks and
// services into playbook order.
func at(b int) hcl.Range {
	return hcl.Range{Filename: "playbooks/openim.hcl", Start: hcl.Pos{Byte: b}}
}

func instances(n int) []config.Instance {
	ins := make([]config.Instance, n)
	for i := range ins {
		ins[i] = config.Instance{Name: strconv.Itoa(i), Index: i}
	}
	return ins
}

// probed gives n instances a tcp probe on base+index, with the loader's
// default policy except a slower interval for the last one, so the unit's
// start timeout follows the slowest instance.
func probed(n, base int) []config.Instance {
	ins := instances(n)
	for i := range ins {
		ins[i].Health = config.Health{TCP: "127.0.0.1:" + strconv.Itoa(base+i),
			Interval: time.Second, Timeout: 2 * time.Second, Retries: 30, Stable: 5 * time.Second}
	}
	ins[n-1].Health.Interval = 1500 * time.Millisecond
	return ins
}

// openimPlacement is one OpenIM-like host: two gate tasks, a single-instance
// rpc service with secrets, an 8-instance push (both waiting for their
// tcp probes in the unit), an api with pass-through keys, a gateway with
// named instances whose dependency lives on another host and its own stop
// signal and timeout, and a crontask whose arguments and environment need every escape.
func openimPlacement() config.HostPlacement {
	secrets := map[string]string{"MONGO_PASSWORD": mongoSecret, "REDIS_PASSWORD": redisSecret}
	rpcArgs := []string{"-i", "%i", "-c", "config"}
	return config.HostPlacement{
		Host: &config.Host{Name: "im-1", Address: "10.0.1.11", Groups: []string{"app"}},
		Tasks: []*config.Task{
			{Unit: config.Unit{Name: "check-free-memory", Binary: "/build/bin/check-free-memory", DeclRange: at(100)}, Timeout: 30 * time.Second},
			{Unit: config.Unit{
				Name: "check-component", Binary: "/build/bin/check-component", Args: []string{"-c", "config", "100%"},
				DependsOn:         []string{"check-free-memory"},
				Environment:       map[string]string{"LOG_LEVEL": "debug"},
				SecretEnvironment: map[string]string{"MONGO_PASSWORD": mongoSecret},
				DeclRange:         at(200),
			}, Timeout: 1500 * time.Millisecond},
		},
		Services: []*config.Service{
			{Unit: config.Unit{
				Name: "openim-crontask", Binary: "/build/bin/openim-crontask",
				Args: []string{
					"-i", "%i", "-c", "config dir", "--label", `say "hi"`, "--price", "$5 ${HOME} $HOME 100%",
					`back\slash`, "tab\there", ";", "", "%%i", "it's", "%n", "ünïcode",
				},
				Environment: map[string]string{"TZ": "UTC", "GREETING": "hello \"world\" 100% $HOME \\n"},
				DeclRange:   at(150),
			}, Instances: instances(1)},
			{Unit: config.Unit{
				Name: "openim-rpc-user", Binary: "/build/bin/openim-rpc-user", Args: rpcArgs,
				DependsOn:         []string{"check-component"},
				Environment:       map[string]string{"GOGC": "100"},
				SecretEnvironment: secrets,
				WaitReady:         true,
				DeclRange:         at(300),
			}, Instances: probed(1, 10320), LimitNOFILE: 200000},
			{Unit: config.Unit{
				Name: "openim-push", Binary: "/build/bin/openim-push", Args: rpcArgs,
				DependsOn: []string{"check-component", "openim-rpc-user"},
				WaitReady: true,
				DeclRange: at(400),
			}, Instances: probed(8, 10170)},
			{Unit: config.Unit{
				Name: "openim-api", Binary: "/build/bin/openim-api", Args: rpcArgs,
				DependsOn: []string{"openim-rpc-user"},
				DeclRange: at(500),
			}, Instances: instances(1), Systemd: []config.KeyValue{
				{Key: "Nice", Value: "5"},
				{Key: "RestartSec", Value: "10s"},
				{Key: "StartLimitBurst", Value: "20"},
				{Key: "TimeoutStopSec", Value: "30s"},
			}},
			{Unit: config.Unit{
				Name: "openim-msggateway", Binary: "/build/bin/openim-msggateway", Args: rpcArgs,
				DependsOn: []string{"openim-rpc-msg", "check-component"}, // rpc-msg runs on another host
				DeclRange: at(600),
			}, Instances: []config.Instance{{Name: "ws-a", Index: 0}, {Name: "ws-b", Index: 1}},
				StopSignal: "SIGINT", StopTimeout: 25 * time.Second},
		},
	}
}
