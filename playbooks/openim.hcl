# playbooks/openim.hcl: the whole OpenIM server (v3.8.3 layout) under systemd.
#
# What it deploys, on every host of the inventory group "app":
#   - the config/ directory, pushed into each release, with the infrastructure
#     addresses in discovery.yml, mongodb.yml, redis.yml, kafka.yml and
#     minio.yml rendered from the inventory's "infra" group (templates/*.tpl),
#     so those files never need editing by hand;
#   - two one-shot gates, check-free-memory then check-component, which must
#     exit 0 before any service starts on the fleet;
#   - the 12 long-running OpenIM processes, each as a template unit
#     <service>@.service with instances <service>@0, @1, ...; openim-crontask
#     runs on one host only, the first of group "app" (app[0]).
#
# Point it at real OpenIM binaries and configuration:
#   openim-deploy apply -i inventory/prod.hcl \
#     -var bin_dir=/path/to/open-im-server/_output/bin/platforms/linux/amd64 \
#     -var config_dir=/path/to/open-im-server/config
# and set the secrets from the environment (never on the command line):
#   export OPENIM_DEPLOY_VAR_mongo_password=...  OPENIM_DEPLOY_VAR_redis_password=...
#   export OPENIM_DEPLOY_VAR_minio_secret_key=...
#
# The inventory needs two groups: "app" (where OpenIM runs) and "infra" (the
# hosts running etcd, MongoDB, Redis, Kafka and MinIO, as OpenIM's
# docker-compose runs them: every component on each infra host, on the ports
# below). An infra host may override a port with vars = { mongodb_port = "..." }.
#
# Ports are OpenIM v3.8.3's defaults: instance i of a service listens on the
# i-th port of its config file (config/openim-*.yml), so a health probe on
# ${BASE + instance.index} checks exactly the port that instance owns. If you
# change ports there, change them here too.
#
# Dependencies: infrastructure (etcd, Kafka, Redis, MongoDB, MinIO) is a hard
# prerequisite, checked by check-component. The services call each other over
# gRPC in cycles (user -> msg -> user, group <-> conversation, push -> every
# msggateway), but those connections resolve lazily through etcd, so they are
# deliberately NOT depends_on edges: the rpc services start together.

# Local directory holding the OpenIM binaries (openim-api, check-component, ...).
# Relative paths, wherever the value comes from (default, -var, -var-file or
# the environment), are relative to this playbook's directory: pass an
# absolute path on the command line.
variable "bin_dir" {
  default     = "../_output/bin"
  description = "Directory with the OpenIM binaries to install."
}

# Local OpenIM config directory (the one holding openim-api.yml, mongodb.yml, ...).
variable "config_dir" {
  default     = "../_output/config"
  description = "OpenIM config directory, pushed to <root>/releases/<id>/config."
}

# Where openim-crontask runs: any hosts selector. v3.8.3's crontask takes no
# lock, so each instance runs every job: it must run on exactly one host.
variable "cron_host" {
  default     = "app[0]"
  description = "Selector of the one host that runs openim-crontask (default: the first app host)."
}

# Ports of the infrastructure on each infra host: OpenIM's docker-compose
# defaults.
variable "etcd_port" {
  default     = "12379"
  description = "etcd client port on the infra hosts."
}

variable "mongodb_port" {
  default     = "37017"
  description = "MongoDB port on the infra hosts."
}

variable "redis_port" {
  default     = "16379"
  description = "Redis port on the first infra host."
}

variable "kafka_port" {
  default     = "19094"
  description = "Kafka port on the infra hosts."
}

variable "minio_port" {
  default     = "10005"
  description = "MinIO port on the first infra host."
}

variable "minio_external_address" {
  default     = ""
  description = "MinIO URL clients download from (default http://<first infra host>:<minio_port>)."
}

variable "minio_access_key" {
  default     = "root"
  description = "MinIO access key id."
}

# Secrets reach the services as IMENV_* environment variables, which OpenIM
# v3.8 reads over its config files. They are written to a root-owned 0600
# environment file and never appear in unit files, command lines or output.
variable "mongo_password" {
  sensitive   = true
  description = "MongoDB password (IMENV_MONGODB_PASSWORD)."
}

variable "redis_password" {
  sensitive   = true
  description = "Redis password (IMENV_REDIS_PASSWORD)."
}

variable "minio_secret_key" {
  sensitive   = true
  description = "MinIO secret access key (IMENV_MINIO_SECRETACCESSKEY)."
}

locals {
  # Every infra host, in inventory order; hosts() always sees the whole
  # inventory, so --limit never shrinks these lists.
  infra   = hosts("infra")
  etcd    = [for h in local.infra : "${h.address}:${lookup(h.vars, "etcd_port", var.etcd_port)}"]
  mongodb = [for h in local.infra : "${h.address}:${lookup(h.vars, "mongodb_port", var.mongodb_port)}"]
  kafka   = [for h in local.infra : "${h.address}:${lookup(h.vars, "kafka_port", var.kafka_port)}"]
  # Redis (not in cluster mode) and MinIO are single endpoints: the first
  # infra host.
  redis = "${local.infra[0].address}:${lookup(local.infra[0].vars, "redis_port", var.redis_port)}"
  minio = "${local.infra[0].address}:${lookup(local.infra[0].vars, "minio_port", var.minio_port)}"

  # The secrets every OpenIM process reads over its config files. Only
  # secret_environment may hold them: using local.secrets anywhere else is
  # an error, however it is transformed on the way.
  secrets = {
    IMENV_MONGODB_PASSWORD      = var.mongo_password
    IMENV_REDIS_PASSWORD        = var.redis_password
    IMENV_MINIO_SECRETACCESSKEY = var.minio_secret_key
  }
}

# Names openim.target and the layout on every host:
#   /opt/openim/releases/<id>/{bin,config,env}  and  /opt/openim/current -> releases/<id>
app "openim" {
  root          = "/opt/openim"
  user          = "openim" # system user the services run as; created if missing
  keep_releases = 5
}

# Pushed into each release as config/; a change restarts every unit on the
# host (no unit narrows it with files = [...]). Services run in current/,
# so "-c config" below finds it.
files "config" {
  source = var.config_dir
  hosts  = ["app"]
}

# The infrastructure addresses, rendered per host into config/ over the
# copies in config_dir. A change of their text on a host restarts the units
# of that host, like any change to config/.
template "discovery" {
  source      = "templates/discovery.yml.tpl"
  destination = "config/discovery.yml"
  hosts       = ["app"]
  vars        = { etcd = local.etcd }
}

template "mongodb" {
  source      = "templates/mongodb.yml.tpl"
  destination = "config/mongodb.yml"
  hosts       = ["app"]
  vars        = { address = local.mongodb }
}

template "redis" {
  source      = "templates/redis.yml.tpl"
  destination = "config/redis.yml"
  hosts       = ["app"]
  vars        = { address = local.redis }
}

template "kafka" {
  source      = "templates/kafka.yml.tpl"
  destination = "config/kafka.yml"
  hosts       = ["app"]
  vars        = { address = local.kafka }
}

template "minio" {
  source      = "templates/minio.yml.tpl"
  destination = "config/minio.yml"
  hosts       = ["app"]
  vars = {
    internal   = local.minio
    external   = coalesce(var.minio_external_address, "http://${local.minio}")
    access_key = var.minio_access_key
  }
}

# Gate 1: refuses to go on with less than 1 GiB of free memory.
task "check-free-memory" {
  binary  = "${var.bin_dir}/check-free-memory"
  hosts   = ["app"]
  timeout = "30s"
}

# Gate 2: waits for MongoDB, Redis, Kafka, MinIO and etcd (180 tries, 1 s apart).
task "check-component" {
  binary             = "${var.bin_dir}/check-component"
  args               = ["-c", "config"]
  hosts              = ["app"]
  depends_on         = ["check-free-memory"]
  timeout            = "200s"
  secret_environment = local.secrets
}

# gRPC: tokens.
service "openim-rpc-auth" {
  binary             = "${var.bin_dir}/openim-rpc-auth"
  args               = ["-i", "%i", "-c", "config"] # %i is the instance name: 0, 1, ...
  hosts              = ["app"]
  depends_on         = ["check-component"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health { tcp = "127.0.0.1:${10200 + instance.index}" }
}

# gRPC: users.
service "openim-rpc-user" {
  binary             = "${var.bin_dir}/openim-rpc-user"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  depends_on         = ["check-component"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health { tcp = "127.0.0.1:${10320 + instance.index}" }
}

# gRPC: friends and blacklists.
service "openim-rpc-friend" {
  binary             = "${var.bin_dir}/openim-rpc-friend"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  depends_on         = ["check-component"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health { tcp = "127.0.0.1:${10240 + instance.index}" }
}

# gRPC: groups.
service "openim-rpc-group" {
  binary             = "${var.bin_dir}/openim-rpc-group"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  depends_on         = ["check-component"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health { tcp = "127.0.0.1:${10260 + instance.index}" }
}

# gRPC: conversations.
service "openim-rpc-conversation" {
  binary             = "${var.bin_dir}/openim-rpc-conversation"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  depends_on         = ["check-component"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health { tcp = "127.0.0.1:${10220 + instance.index}" }
}

# gRPC: messages.
service "openim-rpc-msg" {
  binary             = "${var.bin_dir}/openim-rpc-msg"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  depends_on         = ["check-component"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health { tcp = "127.0.0.1:${10280 + instance.index}" }
}

# gRPC: files (MinIO), logs, FCM tokens.
service "openim-rpc-third" {
  binary             = "${var.bin_dir}/openim-rpc-third"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  depends_on         = ["check-component"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health { tcp = "127.0.0.1:${10300 + instance.index}" }
}

# gRPC + Kafka consumer: offline push. Instance i listens on 10170+i
# (metrics 12170+i). instances is per host; OpenIM runs 8 in all, one per
# Kafka partition, so with several app hosts you may lower it.
service "openim-push" {
  binary             = "${var.bin_dir}/openim-push"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  instances          = 8
  depends_on         = ["check-component"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health {
    tcp     = "127.0.0.1:${10170 + instance.index}"
    retries = 60
  }
}

# Kafka consumer with no RPC port (its metrics port 12020+i is off unless
# prometheus is enabled), so it is judged by the stable window alone:
# active, with no restart, for `stable`. 8 per host, like push.
service "openim-msgtransfer" {
  binary             = "${var.bin_dir}/openim-msgtransfer"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  instances          = 8
  depends_on         = ["check-component"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health { stable = "10s" }
}

# Scheduled clean-up jobs; no port, so the stable window decides.
service "openim-crontask" {
  binary             = "${var.bin_dir}/openim-crontask"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = [var.cron_host]
  depends_on         = ["check-component"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health { stable = "10s" }
}

# WebSocket gateway (10001) + gRPC (10140). Waits for rpc-auth and rpc-user,
# which it calls to check every connecting client's token: without them the
# first clients after a cold start would be refused.
service "openim-msggateway" {
  binary     = "${var.bin_dir}/openim-msggateway"
  args       = ["-i", "%i", "-c", "config"]
  hosts      = ["app"]
  depends_on = ["check-component", "openim-rpc-auth", "openim-rpc-user"]
  # One file descriptor per connected client. Every service gets 65536 unless
  # it says otherwise (OpenIM itself sets 10000 and reports "too many open files").
  limit_nofile       = 200000
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" }
  health { tcp = "127.0.0.1:${10001 + instance.index}" }
}

# HTTP REST API (10002, metrics 12002). Like the gateway, waits for auth
# and user so it does not answer errors during a cold start.
service "openim-api" {
  binary             = "${var.bin_dir}/openim-api"
  args               = ["-i", "%i", "-c", "config"]
  hosts              = ["app"]
  depends_on         = ["check-component", "openim-rpc-auth", "openim-rpc-user"]
  secret_environment = local.secrets
  systemd            = { TimeoutStopSec = "20s" } # OpenIM drains for up to 15 s on SIGTERM
  health { tcp = "127.0.0.1:${10002 + instance.index}" }
}
