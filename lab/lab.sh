#!/usr/bin/env bash
# lab/lab.sh — real Debian hosts on this machine for openim-deploy's tests.
#
#   lab/lab.sh up       boot LAB_HOSTS (default 3) systemd hosts lab-1..lab-N plus one
#                       non-systemd host nosd-1, each in its own network namespace
#   lab/lab.sh down     stop every lab host and remove all lab state (mounts, netns, links)
#   lab/lab.sh status   show the lab's hosts and whether they answer; exit 1 if any does not
#   lab/lab.sh stop HOST     shut one host down cleanly (its disk, address and keys stay)
#   lab/lab.sh start HOST    boot a stopped host again, as up does; no-op if it runs
#   lab/lab.sh restart HOST  stop then start: a reboot of that host
#
# Hosts are systemd-nspawn containers booted with --boot, so systemd is PID 1 and sshd
# runs as a systemd service (nosd-1 boots Debian's sysvinit instead). See docs/lab.md.
#
# Environment:
#   LAB_HOSTS    number of systemd hosts (default 3, 1..80)
#   LAB_STATE    state directory: base images, per-host overlays (default /var/lib/openim-deploy-lab)
#   LAB_OUT      output directory: inventory, keys, lab.json (default <repo>/lab/out)
#   LAB_MIRROR   Debian mirror for debootstrap (default: the one apt uses on this machine)
#   LAB_SUITE    Debian suite (default bookworm)
#   LAB_BOOT_TIMEOUT  seconds to wait for every host's sshd (default 60)
#   LAB_STOP_TIMEOUT  seconds stop waits for a clean shutdown before killing (default 10)
set -Eeuo pipefail
shopt -s nullglob

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_HOSTS=${LAB_HOSTS:-3}
LAB_STATE=${LAB_STATE:-/var/lib/openim-deploy-lab}
LAB_OUT=${LAB_OUT:-$LAB_DIR/out}
LAB_SUITE=${LAB_SUITE:-bookworm}
LAB_BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-60}
LAB_STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-10}

BRIDGE=oimlab0
NET_PREFIX=10.231.0
BRIDGE_ADDR=$NET_PREFIX.1
NS_PREFIX=oimlab-   # netns oimlab-<host>; host-side veth oimlab-<host>
NOSD_HOSTS=(nosd-1)

# Packages of each base image. Changing a list (or the customisation functions
# below) changes the stamp and rebuilds that base on the next `up`.
PKGS_SYSTEMD=systemd,systemd-sysv,libpam-systemd,dbus,openssh-server,iproute2,sudo,procps
PKGS_SYSVINIT=sysvinit-core,openssh-server,iproute2,sudo,procps
EXCLUDE_SYSVINIT=systemd-sysv

SSH_OPTS=(-F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=2
          -o StrictHostKeyChecking=yes -o LogLevel=ERROR)

log()  { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { printf 'lab: error: %s\n' "$*" >&2; exit 1; }
now()  { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    die "the lab needs root (it uses debootstrap, overlay mounts, network namespaces and systemd-nspawn); run it as root, e.g. sudo $0 $*"
  fi
}

# ---------------------------------------------------------------- prerequisites

ensure_tools() {
  local missing=()
  command -v debootstrap   >/dev/null || missing+=(debootstrap)
  command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
  command -v ip            >/dev/null || missing+=(iproute2)
  command -v ssh           >/dev/null || missing+=(openssh-client)
  command -v ssh-keygen    >/dev/null || missing+=(openssh-client)
  command -v nsenter       >/dev/null || missing+=(util-linux)
  command -v flock         >/dev/null || missing+=(util-linux)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local pkgs; pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  log "installing $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  apt-get install -y -q $pkgs >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q $pkgs >/dev/null; } \
    || die "could not install $pkgs with apt-get"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
  grep -qw overlay /proc/filesystems || die "this kernel has no overlayfs"
}

# The Debian mirror apt itself uses here, so debootstrap goes where apt goes.
detect_mirror() {
  if [[ -n ${LAB_MIRROR:-} ]]; then echo "$LAB_MIRROR"; return; fi
  local f uri
  # deb822 .sources files: a stanza whose Suites has the suite itself.
  for f in /etc/apt/sources.list.d/*.sources; do
    uri=$(awk -v suite="$LAB_SUITE" '
      BEGIN { RS=""; FS="\n" }
      { u=""; s=""; t=""
        for (i=1;i<=NF;i++) {
          if ($i ~ /^URIs:/)   { sub(/^URIs:[ \t]*/,"",$i); split($i,a,/[ \t]+/); u=a[1] }
          if ($i ~ /^Suites:/) { s=" " $i " " }
          if ($i ~ /^Types:/)  { t=$i }
        }
        if (t ~ /(^|[ \t])deb([ \t]|$)/ && index(s, " " suite " ") && u != "") { print u; exit }
      }' "$f")
    [[ -n $uri ]] && { echo "${uri%/}"; return; }
  done
  # one-line format: deb [opts] URI SUITE COMPONENTS...
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    uri=$(awk -v suite="$LAB_SUITE" '
      $1=="deb" { i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ }
                  if ($(i+1)==suite) { print $i; exit } }' "$f")
    [[ -n $uri ]] && { echo "${uri%/}"; return; }
  done
  echo http://deb.debian.org/debian
}

# ---------------------------------------------------------------- base images

# Runs inside the freshly debootstrapped tree (both variants).
customize_common() {
  local r=$1
  rm -f "$r"/etc/ssh/ssh_host_*
  : > "$r/etc/machine-id"
  echo 'LANG=C.UTF-8' > "$r/etc/default/locale"   # as an installed Debian has; pam_env reads it
  mkdir -p "$r/etc/ssh/sshd_config.d"
  cat > "$r/etc/ssh/sshd_config.d/10-lab.conf" <<'EOF'
# openim-deploy lab: host keys are generated per host by lab/lab.sh on every `up`.
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
UseDNS no
EOF
  chroot "$r" useradd -m -s /bin/bash -c 'lab passwordless sudo' deploy
  chroot "$r" useradd -m -s /bin/bash -c 'lab sudo needs a password' deploy-pw
  chroot "$r" usermod -p '*' deploy            # no password, but not locked
  echo 'deploy-pw:deploy-pw' | chroot "$r" chpasswd
  printf 'deploy ALL=(ALL:ALL) NOPASSWD: ALL\n' > "$r/etc/sudoers.d/10-lab-deploy"
  printf 'deploy-pw ALL=(ALL:ALL) ALL\n' > "$r/etc/sudoers.d/10-lab-deploy-pw"
  chmod 0440 "$r"/etc/sudoers.d/10-lab-*
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*_Packages
}

customize_systemd() {
  local r=$1
  customize_common "$r"
  # No consoles to log in on; keeps the boot quiet and `systemctl is-system-running` clean.
  chroot "$r" systemctl mask console-getty.service getty@tty1.service >/dev/null 2>&1 || true
}

customize_sysvinit() {
  local r=$1
  customize_common "$r"
  # No ttys in a container: getty lines would respawn forever.
  sed -i -E 's/^([1-6]:)/#\1/' "$r/etc/inittab"
}

base_stamp() { # variant
  local pkgs excl fn
  case $1 in
    systemd)  pkgs=$PKGS_SYSTEMD;  excl=;                 fn=customize_systemd ;;
    sysvinit) pkgs=$PKGS_SYSVINIT; excl=$EXCLUDE_SYSVINIT; fn=customize_sysvinit ;;
  esac
  { echo "suite=$LAB_SUITE variant=minbase include=$pkgs exclude=$excl"
    declare -f customize_common "$fn"; } | sha256sum | cut -c1-16
}

ensure_base() { # variant
  local v=$1 dir=$LAB_STATE/base/$1 stamp want pkgs excl=()
  want=$(base_stamp "$v")
  stamp=$(cat "$dir/stamp" 2>/dev/null || true)
  if [[ $stamp == "$want" && -x $dir/rootfs/sbin/init ]]; then
    log "base $v: cached ($dir/rootfs, stamp $want)"
    return 0
  fi
  case $v in
    systemd)  pkgs=$PKGS_SYSTEMD ;;
    sysvinit) pkgs=$PKGS_SYSVINIT; excl=(--exclude="$EXCLUDE_SYSVINIT") ;;
  esac
  local mirror t0; mirror=$(detect_mirror); t0=$(now)
  log "base $v: debootstrap $LAB_SUITE from $mirror (packages $pkgs) ..."
  rm -rf "$dir"
  mkdir -p "$dir" "$LAB_STATE/cache"
  if ! debootstrap --variant=minbase --cache-dir="$LAB_STATE/cache" --include="$pkgs" "${excl[@]}" \
        "$LAB_SUITE" "$dir/rootfs.tmp" "$mirror" > "$dir/debootstrap.log" 2>&1; then
    tail -n 20 "$dir/debootstrap.log" >&2
    die "debootstrap of the $v base failed (full log: $dir/debootstrap.log)"
  fi
  "customize_$v" "$dir/rootfs.tmp"
  mv "$dir/rootfs.tmp" "$dir/rootfs"
  echo "$want" > "$dir/stamp"
  TIMINGS+=("debootstrap_$v=$(since "$t0")")
  log "base $v: built in $(since "$t0") s"
}

# ---------------------------------------------------------------- teardown

# pid -> start time in ticks (field 22 of /proc/PID/stat); empty if gone or a zombie
# (PID 1 here may be slow to reap orphans, and kill -0 succeeds on a zombie).
proc_start() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  s=${s##*) }            # drop "pid (comm) "
  awk '$1 != "Z" && $1 != "X" { print $20 }' <<<"$s"
}

is_alive() { [[ -n $(proc_start "$1") ]]; }

# Reads a "PID STARTTIME" file and prints PID if that very process still runs.
pid_from_file() {
  local f=$1 pid st
  [[ -f $f ]] || return 0
  read -r pid st < "$f" || true
  [[ -n ${pid:-} && -n ${st:-} ]] || return 0
  [[ $(proc_start "$pid") == "$st" ]] && echo "$pid"
  return 0
}

# Every process this lab started and that still runs:
#  - nspawn processes: from pid files, or found by their -D argument under our state dir;
#  - container init processes: from pid files, or found as a PID namespace's init whose root
#    is one of our overlays (an init outlives a SIGKILLed nspawn, maybe before its pid file
#    was written).
lab_pids() {
  local f p comm
  for f in "$LAB_STATE"/hosts/*/nspawn.pid "$LAB_STATE"/hosts/*/leader.pid; do
    pid_from_file "$f"
  done
  for p in /proc/[0-9]*; do
    comm=$(cat "$p/comm" 2>/dev/null) || continue
    case $comm in
      systemd-nspawn)
        if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q "^systemd-nspawn .*-D $LAB_STATE/hosts/"; then
          echo "${p#/proc/}"
        fi ;;
      systemd|init)
        [[ $(awk '/^NSpid:/ { print $NF }' "$p/status" 2>/dev/null) == 1 && ${p#/proc/} != 1 ]] || continue
        if awk -v pre="upperdir=$LAB_STATE/hosts/" '$5 == "/" && index($0, pre) { f = 1 } END { exit !f }' \
             "$p/mountinfo" 2>/dev/null; then
          echo "${p#/proc/}"
        fi ;;
    esac
  done
}

alive_any() { local p; for p in "$@"; do is_alive "$p" && return 0; done; return 1; }

wait_gone() { # seconds pids...
  local deadline=$(( $(date +%s) + $1 )); shift
  while alive_any "$@"; do
    (( $(date +%s) >= deadline )) && return 1
    sleep 0.2
  done
}

teardown() {
  local pids=() p m
  mapfile -t pids < <(lab_pids | sort -un)
  if [[ ${#pids[@]} -gt 0 ]]; then
    log "stopping lab processes: ${pids[*]}"
    # nspawn turns the first SIGTERM into a clean shutdown of the container and the second
    # into an immediate kill. A container init whose nspawn is gone gets SIGKILL at once,
    # which ends its whole PID namespace.
    local nspawns=() ppid
    for p in "${pids[@]}"; do
      if [[ $(cat "/proc/$p/comm" 2>/dev/null) == systemd-nspawn ]]; then
        nspawns+=("$p"); kill -TERM "$p" 2>/dev/null || true
      fi
    done
    for p in "${pids[@]}"; do
      ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
      if [[ $(cat "/proc/$p/comm" 2>/dev/null) != systemd-nspawn && " ${nspawns[*]} " != *" $ppid "* ]]; then
        kill -KILL "$p" 2>/dev/null || true
      fi
    done
    if [[ ${#nspawns[@]} -gt 0 ]] && ! wait_gone 5 "${nspawns[@]}"; then
      for p in "${nspawns[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
      wait_gone 2 "${nspawns[@]}" || true
    fi
    for p in "${pids[@]}"; do if is_alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi; done
    wait_gone 5 "${pids[@]}" || die "lab processes did not exit: ${pids[*]}"
  fi
  # Unmount everything under our hosts dir, deepest first.
  local mounts=()
  mapfile -t mounts < <(awk -v pre="$LAB_STATE/hosts/" 'index($5, pre) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  for m in "${mounts[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: could not unmount $m"
  done
  rm -rf "${LAB_STATE:?}/hosts"
  local cg
  for cg in $(cgroup_roots); do   # empty once the processes are gone; rmdir, deepest first
    if [[ -d $cg ]]; then find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^$NS_PREFIX" || true); do
    ip netns del "$ns" 2>/dev/null || log "warning: could not delete netns $ns"
  done
  local l
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1 | grep "^$NS_PREFIX" || true); do
    ip link del "$l" 2>/dev/null || true
  done
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
  rm -f "$LAB_OUT/lab.json" "$LAB_OUT/inventory.hcl" "$LAB_OUT/known_hosts"
  return 0
}

# ---------------------------------------------------------------- hosts

HOSTS=() ADDRS=() KINDS=()
plan_hosts() {
  [[ $LAB_HOSTS =~ ^[0-9]+$ ]] && (( LAB_HOSTS >= 1 && LAB_HOSTS <= 80 )) \
    || die "LAB_HOSTS must be a number from 1 to 80 (got '$LAB_HOSTS')"
  local i
  for (( i = 1; i <= LAB_HOSTS; i++ )); do
    HOSTS+=("lab-$i"); ADDRS+=("$NET_PREFIX.$((10 + i))"); KINDS+=(systemd)
  done
  for (( i = 1; i <= ${#NOSD_HOSTS[@]}; i++ )); do
    HOSTS+=("${NOSD_HOSTS[$((i - 1))]}"); ADDRS+=("$NET_PREFIX.$((100 + i))"); KINDS+=(sysvinit)
  done
}

setup_bridge() {
  ip link add "$BRIDGE" type bridge
  ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

setup_netns() { # host addr
  local h=$1 a=$2 ns=$NS_PREFIX$1 veth=$NS_PREFIX$1
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$BRIDGE" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$a/24" dev eth0
  ip -n "$ns" link set eth0 up
  # No default route and no NAT: lab hosts reach only each other and the controller.
}

ssh_keypair() { # type file
  rm -f "$2" "$2.pub"
  ssh-keygen -q -t "$1" -N '' -C "$(basename "$2")" -f "$2"
}

prepare_host() { # host addr kind
  local h=$1 a=$2 kind=$3 d=$LAB_STATE/hosts/$1
  local m=$d/merged
  mkdir -p "$d/upper" "$d/work" "$m" "$d/keys"
  mount -t overlay "overlay-oimlab-$h" \
    -o "lowerdir=$LAB_STATE/base/$kind/rootfs,upperdir=$d/upper,workdir=$d/work" "$m"
  echo "$h" > "$m/etc/hostname"
  {
    echo "127.0.0.1 localhost"
    echo "::1 localhost ip6-localhost ip6-loopback"
    local i
    for i in "${!HOSTS[@]}"; do echo "${ADDRS[$i]} ${HOSTS[$i]}"; done
    echo "$BRIDGE_ADDR controller"
  } > "$m/etc/hosts"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$m/etc/machine-id"; echo >> "$m/etc/machine-id"
  local t
  for t in ed25519 ecdsa; do
    ssh_keypair "$t" "$d/keys/ssh_host_${t}_key"
    install -m 0600 "$d/keys/ssh_host_${t}_key" "$m/etc/ssh/ssh_host_${t}_key"
    install -m 0644 "$d/keys/ssh_host_${t}_key.pub" "$m/etc/ssh/ssh_host_${t}_key.pub"
    printf '%s %s\n' "$a" "$(cut -d' ' -f1,2 "$d/keys/ssh_host_${t}_key.pub")" >> "$LAB_OUT/known_hosts"
  done
  local u home
  for u in root deploy deploy-pw; do
    home=/root; [[ $u != root ]] && home=/home/$u
    install -d -m 0700 "$m$home/.ssh"
    install -m 0600 "$LAB_OUT/id_ed25519.pub" "$m$home/.ssh/authorized_keys"
    chroot "$m" chown -R "$u:" "$home/.ssh"
  done
  setup_netns "$h" "$a"
}

start_host() { # host kind
  local h=$1 kind=$2 d=$LAB_STATE/hosts/$1 extra=()
  # sysvinit ignores nspawn's default shutdown signal (SIGRTMIN+3); the lab keeps no state
  # in a host across `up`, so a plain kill is fine.
  [[ $kind == sysvinit ]] && extra=(--kill-signal=SIGKILL)
  # --keep-unit --register=no makes nspawn put the container into <its own cgroup>/payload.
  # Without systemd on the controller every process here shares one cgroup, so every
  # container's systemd would manage the same cgroup tree and stop or kill units of the
  # other hosts. Each host's nspawn therefore starts in a cgroup of its own first.
  # setsid: a session of its own, so the host outlives this script and its caller.
  # Every descriptor above 2 is closed first: the host runs for hours, and one it inherited
  # (a caller's `flock FILE lab/lab.sh ...` lock, a test's pipe) would be held all along.
  local cg cgs=()
  mapfile -t cgs < <(cgroup_roots)
  # shellcheck disable=SC2016
  setsid bash -c 'for cg in "${@:2:$1}"; do mkdir -p "$cg" && echo $$ > "$cg/cgroup.procs"; done
                  for fd in /proc/$$/fd/*; do fd=${fd##*/}; if (( fd > 2 )); then eval "exec $fd>&-"; fi; done
                  shift $(( $1 + 1 )); exec "$@"' lab-start "${#cgs[@]}" "${cgs[@]/%//$h}" \
    systemd-nspawn --boot --register=no --keep-unit --machine="$h" \
    --link-journal=no --resolv-conf=off --timezone=off "${extra[@]}" \
    --network-namespace-path="/run/netns/$NS_PREFIX$h" \
    -D "$d/merged" < /dev/null > "$d/console.log" 2>&1 9>&- &   # 9: our lock; don't pass it on
  local pid=$!
  echo "$pid $(proc_start "$pid")" > "$d/nspawn.pid"
}

# The lab's cgroup directories, one per hierarchy systemd uses: the named v1 "systemd"
# hierarchy and the v2 "unified" one on a hybrid host (as here), or the v2 root.
cgroup_roots() {
  local fs
  fs=$(stat -fc %T /sys/fs/cgroup 2>/dev/null || true)
  if [[ $fs == cgroup2fs ]]; then echo /sys/fs/cgroup/openim-lab; return; fi
  [[ $(stat -fc %T /sys/fs/cgroup/systemd 2>/dev/null) == cgroupfs ]] && echo /sys/fs/cgroup/systemd/openim-lab
  [[ $(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]] && echo /sys/fs/cgroup/unified/openim-lab
  return 0
}

# The container's init: nspawn's child once it has exec'd systemd or /sbin/init.
find_leader() { # host
  local d=$LAB_STATE/hosts/$1 pid c comm deadline=$(( $(date +%s) + 15 ))
  pid=$(pid_from_file "$d/nspawn.pid")
  while (( $(date +%s) < deadline )); do
    [[ -n $pid ]] && is_alive "$pid" || break
    for c in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do
      comm=$(cat "/proc/$c/comm" 2>/dev/null || true)
      if [[ $comm == systemd || $comm == init ]]; then
        echo "$c $(proc_start "$c")" > "$d/leader.pid"
        echo "$c"; return 0
      fi
    done
    sleep 0.1
  done
  tail -n 20 "$d/console.log" >&2 || true
  die "host $1: systemd-nspawn did not start the container's init (console log: $d/console.log)"
}

# Waits until root can log in over SSH with strict host key checking, and (systemd hosts)
# until systemd has finished booting. Prints "ok SECONDS" or "fail REASON".
wait_host() { # host addr kind t0
  local h=$1 a=$2 kind=$3 t0=$4 deadline=$(( $(date +%s) + LAB_BOOT_TIMEOUT )) out=
  local ssh=(ssh "${SSH_OPTS[@]}" -o UserKnownHostsFile="$LAB_OUT/known_hosts" -i "$LAB_OUT/id_ed25519" "root@$a")
  while (( $(date +%s) < deadline )); do
    if [[ -z $(pid_from_file "$LAB_STATE/hosts/$h/nspawn.pid") ]]; then
      echo "fail its systemd-nspawn exited (console log: $LAB_STATE/hosts/$h/console.log)"; return
    fi
    if [[ $kind == systemd ]]; then
      out=$(timeout 10 "${ssh[@]}" 'systemctl is-system-running --wait' 2>&1) || true
      if [[ $out == running || $out == degraded ]]; then echo "ok $(since "$t0") $out"; return; fi
    else
      out=$(timeout 10 "${ssh[@]}" 'test ! -e /run/systemd/system && echo no-systemd' 2>&1) || true
      if [[ $out == no-systemd ]]; then echo "ok $(since "$t0") $out"; return; fi
    fi
    sleep 0.3
  done
  echo "fail sshd did not answer within ${LAB_BOOT_TIMEOUT}s (last: ${out:-nothing}; console log: $LAB_STATE/hosts/$h/console.log)"
}

write_outputs() { # leader pids...
  local leaders=("$@") i inv=$LAB_OUT/inventory.hcl
  {
    echo "# Generated by lab/lab.sh up on $(date -u +%Y-%m-%dT%H:%M:%SZ); rewritten on every up."
    echo "defaults {"
    echo "  user        = \"root\""
    echo "  identity    = \"$LAB_OUT/id_ed25519\""
    echo "  known_hosts = \"$LAB_OUT/known_hosts\""
    echo "}"
    for i in "${!HOSTS[@]}"; do
      local g=app; [[ ${KINDS[$i]} == sysvinit ]] && g=nosd
      echo
      echo "host \"${HOSTS[$i]}\" {"
      echo "  address = \"${ADDRS[$i]}\""
      echo "  groups  = [\"$g\"]"
      echo "}"
    done
  } > "$inv.tmp"
  mv "$inv.tmp" "$inv"

  local j=$LAB_OUT/lab.json
  {
    echo "{"
    echo "  \"version\": 1,"
    echo "  \"created\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
    echo "  \"state_dir\": \"$LAB_STATE\","
    echo "  \"bridge\": \"$BRIDGE\","
    echo "  \"subnet\": \"$NET_PREFIX.0/24\","
    echo "  \"controller_address\": \"$BRIDGE_ADDR\","
    echo "  \"inventory\": \"$inv\","
    echo "  \"known_hosts\": \"$LAB_OUT/known_hosts\","
    echo "  \"identity\": \"$LAB_OUT/id_ed25519\","
    echo "  \"users\": {\"root\": \"key\", \"deploy\": \"key, sudo NOPASSWD\", \"deploy-pw\": \"key, sudo needs password 'deploy-pw'\"},"
    echo "  \"hosts\": ["
    for i in "${!HOSTS[@]}"; do
      local h=${HOSTS[$i]} d=$LAB_STATE/hosts/${HOSTS[$i]} sd=true g=app np lp ls
      [[ ${KINDS[$i]} == sysvinit ]] && { sd=false; g=nosd; }
      read -r np _ < "$d/nspawn.pid"
      read -r lp ls < "$d/leader.pid"
      echo "    {"
      echo "      \"name\": \"$h\","
      echo "      \"address\": \"${ADDRS[$i]}\","
      echo "      \"port\": 22,"
      echo "      \"groups\": [\"$g\"],"
      echo "      \"systemd\": $sd,"
      echo "      \"init\": \"${KINDS[$i]}\","
      echo "      \"netns\": \"$NS_PREFIX$h\","
      echo "      \"veth\": \"$NS_PREFIX$h\","
      echo "      \"rootfs\": \"$d/merged\","
      echo "      \"upper\": \"$d/upper\","
      echo "      \"host_keys\": \"$d/keys\","
      echo "      \"console_log\": \"$d/console.log\","
      echo "      \"nspawn_pid\": $np,"
      echo "      \"leader_pid\": $lp,"
      echo "      \"leader_start_ticks\": $ls"
      if (( i + 1 < ${#HOSTS[@]} )); then echo "    },"; else echo "    }"; fi
    done
    echo "  ]"
    echo "}"
  } > "$j.tmp"
  mv "$j.tmp" "$j"
}

# ---------------------------------------------------------------- commands

TIMINGS=()

# One lab/lab.sh at a time per state dir (two test runs calling `up` at once).
take_lock() {
  exec 9> "$LAB_STATE/.lock"
  if ! flock -n 9; then
    log "waiting for another lab/lab.sh to finish (lock $LAB_STATE/.lock) ..."
    flock -w 600 9 || die "another lab/lab.sh still holds $LAB_STATE/.lock after 600 s"
  fi
}

cmd_up() {
  need_root up
  local t_all; t_all=$(now)
  plan_hosts
  ensure_tools
  mkdir -p "$LAB_STATE" "$LAB_OUT"
  take_lock

  local t; t=$(now)
  teardown
  TIMINGS+=("teardown=$(since "$t")")

  ensure_base systemd
  ensure_base sysvinit

  if [[ ! -s $LAB_OUT/id_ed25519 || ! -s $LAB_OUT/id_ed25519.pub ]]; then
    ssh_keypair ed25519 "$LAB_OUT/id_ed25519"
    sed -i 's/ id_ed25519$/ openim-deploy-lab/' "$LAB_OUT/id_ed25519.pub"
  fi
  : > "$LAB_OUT/known_hosts"   # prepare_host appends each host's real keys

  t=$(now)
  setup_bridge
  local i
  for i in "${!HOSTS[@]}"; do
    prepare_host "${HOSTS[$i]}" "${ADDRS[$i]}" "${KINDS[$i]}"
  done
  TIMINGS+=("prepare=$(since "$t")")

  t=$(now)
  log "booting ${HOSTS[*]} ..."
  for i in "${!HOSTS[@]}"; do start_host "${HOSTS[$i]}" "${KINDS[$i]}"; done
  local leaders=()
  for i in "${!HOSTS[@]}"; do leaders+=("$(find_leader "${HOSTS[$i]}")"); done

  local tmp waiters=(); tmp=$(mktemp -d)
  for i in "${!HOSTS[@]}"; do
    wait_host "${HOSTS[$i]}" "${ADDRS[$i]}" "${KINDS[$i]}" "$t" > "$tmp/${HOSTS[$i]}" &
    waiters+=($!)
  done
  wait "${waiters[@]}"   # not a bare `wait`: the nspawn processes are children too
  local failed=() r
  for i in "${!HOSTS[@]}"; do
    r=$(cat "$tmp/${HOSTS[$i]}")
    if [[ $r == ok* ]]; then
      read -r _ secs state <<<"$r"
      log "  ${HOSTS[$i]} ${ADDRS[$i]} ready after ${secs}s ($state)"
    else
      failed+=("${HOSTS[$i]}: ${r#fail }")
    fi
  done
  rm -rf "$tmp"
  TIMINGS+=("boot=$(since "$t")")
  if [[ ${#failed[@]} -gt 0 ]]; then
    printf 'lab: error: host %s\n' "${failed[@]}" >&2
    die "the lab is not up; run 'lab/lab.sh down' to clean up or 'lab/lab.sh up' to retry"
  fi
  write_outputs "${leaders[@]}"
  TIMINGS+=("total=$(since "$t_all")")
  log "lab up: ${#HOSTS[@]} hosts; timings (s): ${TIMINGS[*]}"
  log "inventory: $LAB_OUT/inventory.hcl"
  log "try: ssh -o UserKnownHostsFile=$LAB_OUT/known_hosts -o StrictHostKeyChecking=yes -i $LAB_OUT/id_ed25519 root@${ADDRS[0]}"
}

cmd_down() {
  need_root down
  mkdir -p "$LAB_STATE"
  take_lock
  local t; t=$(now)
  teardown
  log "lab down in $(since "$t") s (base images kept in $LAB_STATE/base; rm -rf it to rebuild)"
}

cmd_status() {
  local j=$LAB_OUT/lab.json
  if [[ ! -f $j ]]; then echo "lab: down (no $j)"; return 1; fi
  local bad=0 name addr np lp sd
  printf '%-8s %-12s %-8s %-10s %-8s %s\n' HOST ADDRESS INIT PROCESS SSH STATE
  while read -r name addr np lp sd; do
    local proc=dead sshs=closed state=-
    if is_alive "$lp" && is_alive "$np"; then proc="pid $lp"
    elif is_alive "$lp"; then proc="orphan"; fi
    if timeout 2 bash -c "exec 3<>/dev/tcp/$addr/22" 2>/dev/null; then sshs=open; fi
    if [[ $proc != dead && $(id -u) -eq 0 ]]; then   # nsenter needs root
      if [[ $sd == true ]]; then
        state=$(nsenter -t "$lp" -m -u -i -n -p -- systemctl is-system-running 2>/dev/null || true)
      else
        state="runlevel $(nsenter -t "$lp" -m -u -i -n -p -- runlevel 2>/dev/null | awk '{ print $2 }' || true)"
      fi
    fi
    [[ $proc == pid* && $sshs == open ]] || bad=1
    printf '%-8s %-12s %-8s %-10s %-8s %s\n' "$name" "$addr" "$([[ $sd == true ]] && echo systemd || echo sysvinit)" "$proc" "$sshs" "${state:--}"
  done < <(awk '
      /"name":/       { gsub(/[",]/, "", $2); n=$2 }
      /"address":/    { gsub(/[",]/, "", $2); a=$2 }
      /"systemd":/    { gsub(/[",]/, "", $2); s=$2 }
      /"nspawn_pid":/ { gsub(/[",]/, "", $2); p=$2 }
      /"leader_pid":/ { gsub(/[",]/, "", $2); print n, a, p, $2, s }' "$j")
  return $bad
}

# ---------------------------------------------------------------- one host: stop, start, restart

# The hosts of the lab that is up, as `up` planned them: LAB_HOSTS is taken from lab.json,
# not from the environment, so lab.json is rewritten with the same hosts.
plan_running_hosts() {
  local j=$LAB_OUT/lab.json
  [[ -f $j ]] || die "the lab is not up (no $j); run 'lab/lab.sh up' first"
  LAB_HOSTS=$(grep -c '"name": "lab-[0-9]*"' "$j" || true)
  plan_hosts
}

# Index of host in HOSTS, or die naming the hosts there are.
host_index() { # host
  local i
  for i in "${!HOSTS[@]}"; do
    if [[ ${HOSTS[$i]} == "$1" ]]; then echo "$i"; return 0; fi
  done
  die "no lab host '$1' (hosts: ${HOSTS[*]})"
}

# Shuts one host down as a power button would on a machine with an init: SIGTERM to its
# nspawn makes the container's init shut down cleanly (services stopped, sshd sessions
# closed); SIGTERM again after LAB_STOP_TIMEOUT turns that into an immediate stop, then
# SIGKILL. The overlay (its disk), its network namespace and its keys stay, so `start`
# boots the same host with the same files. Already stopped: nothing to do.
stop_one() { # host
  local h=$1 d=$LAB_STATE/hosts/$1 np lp
  np=$(pid_from_file "$d/nspawn.pid")
  lp=$(pid_from_file "$d/leader.pid")
  if [[ -z $np && -z $lp ]]; then log "$h is not running"; return 0; fi
  local t; t=$(now)
  if [[ -n $np ]]; then
    kill -TERM "$np" 2>/dev/null || true
    if ! wait_gone "$LAB_STOP_TIMEOUT" "$np"; then
      log "$h did not shut down within ${LAB_STOP_TIMEOUT}s; stopping it at once"
      kill -TERM "$np" 2>/dev/null || true
      wait_gone 2 "$np" || kill -KILL "$np" 2>/dev/null || true
    fi
  fi
  lp=$(pid_from_file "$d/leader.pid")   # an init whose nspawn is gone: end its container
  if [[ -n $lp ]]; then kill -KILL "$lp" 2>/dev/null || true; fi
  local left=(); [[ -n $np ]] && left+=("$np"); [[ -n $lp ]] && left+=("$lp")
  wait_gone 5 "${left[@]}" || die "host $h: processes ${left[*]} did not exit"
  log "$h stopped in $(since "$t") s"
}

# Boots one stopped host the way `up` does (start_host, find_leader, wait_host) and
# rewrites lab.json with its new PIDs, so lab.Require and Exec find it. Running: nothing
# to do.
start_one() { # host
  local i h a kind; i=$(host_index "$1")
  h=${HOSTS[$i]} a=${ADDRS[$i]} kind=${KINDS[$i]}
  local d=$LAB_STATE/hosts/$h
  [[ -d $d/merged ]] && mountpoint -q "$d/merged" || die "host $h has no root filesystem mounted ($d/merged); run 'lab/lab.sh up'"
  ip netns list | grep -q "^$NS_PREFIX$h\b" || die "host $h has no network namespace $NS_PREFIX$h; run 'lab/lab.sh up'"
  if [[ -n $(pid_from_file "$d/nspawn.pid") && -n $(pid_from_file "$d/leader.pid") ]]; then
    log "$h is already running"; return 0
  fi
  local t; t=$(now)
  start_host "$h" "$kind"
  find_leader "$h" > /dev/null
  local r; r=$(wait_host "$h" "$a" "$kind" "$t")
  [[ $r == ok* ]] || die "host $h: ${r#fail }"
  write_outputs
  log "$h $a ready after $(since "$t") s"
}

cmd_one() { # stop|start|restart host
  local what=$1 h=${2:-}
  [[ -n $h ]] || die "usage: $0 $what HOST"
  need_root "$what"
  mkdir -p "$LAB_STATE"
  take_lock
  plan_running_hosts
  host_index "$h" > /dev/null
  case $what in
    stop)    stop_one "$h" ;;
    start)   start_one "$h" ;;
    restart) stop_one "$h"; start_one "$h" ;;
  esac
}

case ${1:-} in
  up)     cmd_up ;;
  down)   cmd_down ;;
  status) cmd_status ;;
  stop|start|restart) cmd_one "$1" "${2:-}" ;;
  *) echo "usage: $0 up|down|status|stop HOST|start HOST|restart HOST   (LAB_HOSTS=N, LAB_STATE=DIR; see docs/lab.md)" >&2; exit 2 ;;
esac
