#!/usr/bin/env bash
# make demo: boot the lab, apply the full OpenIM playbook to it with the
# stand-in under every OpenIM binary name, then show the fleet's state.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/_output/bin
demo=$root/_output/demo

if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root: the lab boots hosts with systemd-nspawn" >&2
	exit 1
fi

# One stand-in build, copied under each OpenIM name (it picks its role from
# its own name), plus the config directory pushed as config/.
mkdir -p "$demo/bin" "$demo/config"
for name in openim-api openim-msggateway openim-push openim-msgtransfer openim-crontask \
	openim-rpc-auth openim-rpc-conversation openim-rpc-friend openim-rpc-group \
	openim-rpc-msg openim-rpc-third openim-rpc-user check-free-memory check-component; do
	cp "$bin/openim-standin" "$demo/bin/$name"
done
cp examples/standin-config/standin.json "$demo/config/"

bash lab/lab.sh up

# Demo-only secrets: real ones come from the environment or a var file.
export OPENIM_DEPLOY_VAR_mongo_password=demo-mongo-secret
export OPENIM_DEPLOY_VAR_redis_password=demo-redis-secret
export OPENIM_DEPLOY_VAR_minio_secret_key=demo-minio-secret

tool=$bin/openim-deploy
# The playbook renders OpenIM's infrastructure addresses from the inventory
# group "infra". The lab runs no infrastructure (the stand-in needs none), so
# the first app host of the lab inventory joins that group.
inv=$demo/inventory.hcl
awk '!done && /groups *= *\["app"\]/ { sub(/\["app"\]/, "[\"app\", \"infra\"]"); done = 1 } { print }' \
	"$root/lab/out/inventory.hcl" > "$inv"
set -x
"$tool" validate -i "$inv" -p playbooks/openim.hcl -var bin_dir="$demo/bin" -var config_dir="$demo/config" >/dev/null
"$tool" apply -i "$inv" -p playbooks/openim.hcl -var bin_dir="$demo/bin" -var config_dir="$demo/config"
"$tool" status -i "$inv" -p playbooks/openim.hcl -var bin_dir="$demo/bin" -var config_dir="$demo/config"
