# inventory/prod.example.hcl: who openim-deploy deploys to.
#
# Copy it, change the addresses, and run
#   openim-deploy validate -i inventory/prod.hcl
# which checks this file and its playbook and prints what lands where,
# without connecting to anything.

# The playbook to apply when -p is not given; relative to this file.
playbook = "../playbooks/openim.hcl"

# SSH settings every host and bastion inherits unless it sets its own.
defaults {
  user        = "openim"
  port        = 22
  identity    = "~/.ssh/id_ed25519"  # ssh-agent and ~/.ssh/config are also honoured
  known_hosts = "~/.ssh/known_hosts" # host keys are checked against it
  become      = true                 # run privileged steps through sudo -n
  # connect_timeout = "10s"
}

# A jump host; hosts that name it in via are reached through it.
bastion "jump" {
  address = "203.0.113.10"
  user    = "ops"
}

# OpenIM application hosts: every service of the playbook runs on each
# (hosts = ["app"] there), except openim-crontask, which runs on the first
# one only (hosts = ["app[0]"]: im-1).
host "im-1" {
  address = "10.0.1.11"
  groups  = ["app"]
}

host "im-2" {
  address = "10.0.1.12"
  port    = 2222
  groups  = ["app"]
  via     = "jump"
  vars    = { zone = "b" }
}

host "im-3" {
  address = "10.0.1.13"
  groups  = ["app"]
  via     = "jump"
  vars    = { zone = "c" }
}

# Infrastructure (etcd, Kafka, Redis, MongoDB, MinIO) is not managed by the
# OpenIM playbook, but it reads their addresses from this group: the
# addresses in OpenIM's config files (discovery.yml, mongodb.yml, ...) are
# rendered from the hosts of group "infra". Redis and MinIO use the first.
# A host's vars may override a port (etcd_port, mongodb_port, redis_port,
# kafka_port, minio_port).
host "infra-1" {
  address = "10.0.1.21"
  user    = "root"
  groups  = ["infra"]
}

host "infra-2" {
  address = "10.0.1.22"
  user    = "root"
  groups  = ["infra"]
  vars    = { mongodb_port = "27017" }
}
