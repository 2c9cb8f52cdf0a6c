// Package config turns an HCL inventory and playbook into typed, validated
// values. Every mistake becomes an hcl.Diagnostic pointing at file:line:col;
// nothing here opens a connection or converts diagnostics to strings.
package config

import (
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is a loaded and validated inventory plus playbook.
type Config struct {
	Inventory *Inventory
	Playbook  *Playbook
	// Files holds every parsed source file by name, for rendering diagnostics
	// with source snippets (hcl.NewDiagnosticTextWriter); var files are left
	// out, as they hold secrets.
	Files map[string]*hcl.File
	// Secrets lists every sensitive value (variables marked sensitive and
	// secret_environment values), longest first, so output can redact them.
	Secrets []string

	// placements holds, per host in inventory order, the blocks placed on
	// it evaluated with that host's values; nil for a Config built by hand.
	placements []HostPlacement
}

// Inventory says who: hosts, groups, bastions and SSH settings.
type Inventory struct {
	Filename string
	// Playbook is the playbook path from the inventory, resolved against the
	// inventory's directory; "" when the inventory names none.
	Playbook string
	Bastions []*Bastion
	Hosts    []*Host // in file order
}

// SSH holds connection settings shared by hosts and bastions.
type SSH struct {
	// User is the login user; "" means ssh_config's User, else
	// DefaultUser. After Connect it holds the user actually logged in as.
	User string
	// Port is the SSH port; 0 means ssh_config's Port, else DefaultPort.
	Port int
	// Identity is a private key path with ~ expanded; "" means agent and
	// ~/.ssh/config only.
	Identity string
	// KnownHosts is the known_hosts path with ~ expanded.
	KnownHosts string
	// Become runs privileged steps through "sudo -n" when User is not root.
	Become bool
	// ConnectTimeout bounds dial plus handshake.
	ConnectTimeout time.Duration
}

// Bastion is a jump host reached before the hosts that name it in via.
type Bastion struct {
	Name    string
	Address string
	SSH
	DeclRange hcl.Range
}

// Host is one machine of the fleet.
type Host struct {
	Name    string
	Address string
	SSH
	Groups []string
	// Via names a Bastion; "" for a direct connection.
	Via       string
	Vars      map[string]string
	DeclRange hcl.Range
}

// Playbook says what: the app layout, files, tasks and services.
type Playbook struct {
	Filename  string
	App       App
	Variables []*Variable
	// Secrets are the secret blocks, in playbook order; only those the
	// playbook refers to ran (Secret.Ran).
	Secrets []*Secret
	// FileSets, Templates, Tasks and Services are the declarations, in
	// playbook order. Attributes that use host are zero here (a template's
	// Content is nil): the values each host gets are in Config.Placement.
	FileSets  []*FileSet
	Templates []*Template
	Tasks     []*Task
	Services  []*Service
	// Rollout is the playbook-wide rollout policy; each service holds its
	// own, with its rollout block applied over this one.
	Rollout Rollout
	// Hooks run around rolling batches, in playbook order.
	Hooks []*Hook
}

// App names the systemd target (<Name>.target) and the layout on the hosts:
// Root/releases/<id>/ and Root/current -> releases/<id>.
type App struct {
	Name         string
	Root         string
	User         string // system user the services run as; created if missing
	KeepReleases int
	// Compress says whether release files travel gzip-compressed (see
	// Compress); CompressAuto unless the playbook says otherwise.
	Compress Compress
	// SecretDelivery says how secret environment values and sensitive
	// templates reach a host: "" (the default) as systemd credentials
	// where the host's systemd supports them and as 0600 files elsewhere,
	// DeliverCredential always as credentials (a host too old is refused),
	// DeliverFile always as files.
	SecretDelivery SecretDelivery
}

// SecretDelivery is the app's secret_delivery.
type SecretDelivery string

// The values of secret_delivery; the zero value is the default.
const (
	DeliverCredential SecretDelivery = "credential"
	DeliverFile       SecretDelivery = "file"
)

// Variable is a declared playbook variable after values were applied.
type Variable struct {
	Name string
	// Sensitive is set when the playbook declares the variable sensitive,
	// or its value came from an encrypted (.age) var file.
	Sensitive bool
	Value     string
	// Description is the operator-facing text from the playbook.
	Description string

	set bool // some source gave a value (during Load only)
	// encrypted is the .age var file the value came from, "" when it came
	// from elsewhere (during Load only); such a value is sensitive.
	encrypted string
}

// FileSet is a file or directory pushed into each release as <release>/<Name>.
type FileSet struct {
	Name string
	// Source is an absolute local path; IsDir says whether it is a directory,
	// whose contents are copied recursively.
	Source string
	IsDir  bool
	// Files are a directory's files, as validate walked them (WalkFileSet):
	// the release is built from this list, so what was checked is what is
	// deployed.
	Files     []SourceFile
	Hosts     []string // selectors: group names, host names or "all"
	DeclRange hcl.Range
}

// SourceFile is one file of a file set directory: its path relative to the
// directory (slash-separated) and where to read it on the controller (a
// link's own path: reading follows it).
type SourceFile struct {
	Rel, Local string
}

// Unit is what tasks and services share.
type Unit struct {
	Name string
	// Binary is an absolute local path; it is installed as <release>/bin/<base name>.
	// It is "" when Remote is set.
	Binary string
	// Remote is set for a binary the hosts fetch themselves
	// (binary = artifact(URL, SHA256)); installed as <release>/bin/<Remote.Name>.
	Remote            *RemoteBinary
	Args              []string
	Hosts             []string // selectors: group names, host names or "all"
	DependsOn         []string // names of tasks or services
	Environment       map[string]string
	SecretEnvironment map[string]string
	// Files names the FileSets whose change restarts this unit. When the
	// playbook leaves it unset it is every file set placed on the same host.
	Files    []string
	FilesSet bool
	// WaitReady (services only) says the unit itself waits for the
	// instance's health probe (ExecStartPost= runs it until it passes): set
	// when the health block has a tcp, http or exec probe and does not say
	// unit_wait = false.
	WaitReady bool
	DeclRange hcl.Range
}

// BinaryName is the base name the binary is installed under, bin/<name>.
func (u *Unit) BinaryName() string {
	if u.Remote != nil {
		return u.Remote.Name
	}
	return filepath.Base(u.Binary)
}

// BinarySource names where the binary comes from, for messages: its local
// path or its URL.
func (u *Unit) BinarySource() string {
	if u.Remote != nil {
		return u.Remote.URL
	}
	return u.Binary
}

// Task is a one-shot gate (Type=oneshot) that must exit 0 before its dependents start.
type Task struct {
	Unit
	Timeout time.Duration
}

// Service is a long-running process, always rendered as a template unit
// <Name>@.service with one instance per entry in Instances on every host it
// is placed on.
type Service struct {
	Unit
	Instances   []Instance
	LimitNOFILE int
	// Rollout is how restarts of this service roll across the fleet.
	Rollout Rollout
	// Systemd holds further [Service] keys passed through verbatim, sorted by key.
	Systemd []KeyValue
	// StopSignal is the signal "systemctl stop" sends first (KillSignal=),
	// with its SIG prefix ("SIGTERM"); "" leaves systemd's default, SIGTERM.
	StopSignal string
	// StopTimeout is how long a stop waits before SIGKILL
	// (TimeoutStopSec=); 0 means the renderer's default.
	StopTimeout time.Duration
}

// KeyValue is one pass-through unit setting.
type KeyValue struct {
	Key, Value string
}

// Instance is one instance of a templated service. Health is evaluated per
// instance because its expressions may use instance.index and instance.name.
type Instance struct {
	Name   string
	Index  int
	Health Health
}

// Health says when an instance counts as healthy. At most one of TCP, HTTP
// and Exec is set; with none, the stable window alone decides.
type Health struct {
	TCP      string   // host:port dialled from the host itself
	HTTP     string   // URL fetched from the host itself; 2xx/3xx is healthy
	Exec     []string // argv run on the host; exit 0 is healthy
	Interval time.Duration
	Timeout  time.Duration
	Retries  int
	// Stable is how long the unit must stay active with NRestarts and MainPID
	// unchanged before it counts as healthy.
	Stable time.Duration
	// UnitWait is the health block's unit_wait: nil when unset (the unit
	// waits whenever there is a probe).
	UnitWait *bool
	// Ports lists TCP ports the instance listens on, derived from TCP and HTTP,
	// for clash detection and preflight.
	Ports []int
}
