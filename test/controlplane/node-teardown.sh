#!/usr/bin/env bash
# Removes everything one local node left on the machine. Idempotent; safe on a half-started node.
# Usage: node-teardown.sh <run record>   (a file in /run/smo-node/runs, see node.ts)
#
# Every process of the node (containerd, its shims, kubelet, kube-proxy, the containers) lives in
# the cgroup tree /smo-node-<id>, and its mounts, network devices and iptables rules live in a
# mount and a network namespace that only those processes hold. Killing the tree frees both
# namespaces, and with them the veth pair, the bridge, the rules and the mounts. Left: the cgroup
# directories, the state directory, and the sysctls the kubelet changed, restored here once the
# last node on the machine is gone.
set -uo pipefail

record=$1
[ -f "$record" ] || exit 0
# shellcheck disable=SC1090
source "$record"
: "${id:?}" "${cgroup:?}"
registry=$(dirname "$(dirname "$record")")

# Processes: kill the whole tree until it is empty (a dying shim may still fork).
for _ in $(seq 1 100); do
  pids=$(find /sys/fs/cgroup/pids/"$cgroup" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | tr '\n' ' ')
  [ -n "${holder:-}" ] && kill -0 "$holder" 2>/dev/null && pids="$pids $holder"
  [ -z "${pids// /}" ] && break
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
  sleep 0.1
done

# Cgroups: deepest first, in every hierarchy.
for hierarchy in /sys/fs/cgroup/*/; do
  [ -d "$hierarchy$cgroup" ] || continue
  find "$hierarchy$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null
  for _ in $(seq 1 50); do
    [ -d "$hierarchy$cgroup" ] || break
    sleep 0.1
    find "$hierarchy$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null
  done
done

# The namespaces go with their last process; the host end of the veth goes with them.
if [ -n "${host_interface:-}" ]; then
  for _ in $(seq 1 50); do
    ip link show "$host_interface" >/dev/null 2>&1 || break
    sleep 0.1
  done
  ip link del "$host_interface" 2>/dev/null || true
fi

# Nothing of the node is mounted in the host's namespace; unmount anything under its
# directories all the same (a state directory bind-mounted by hand, say).
for dir in ${state_dir:-} ${run_dir:-}; do
  [ -n "$dir" ] || continue
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
done

[ -n "${run_dir:-}" ] && rm -rf "$run_dir"
if [ -n "${state_dir:-}" ] && [ -d "$state_dir" ]; then
  if [ "${keep_logs:-false}" = true ]; then
    find "$state_dir" -mindepth 1 -maxdepth 1 ! -name '*.log' -exec rm -rf {} +
  else
    rm -rf "$state_dir"
  fi
fi
rm -f "$record"

# The kubelet sets kernel.panic, kernel.panic_on_oops and vm.overcommit_memory; put them back
# once no node is left.
if [ -z "$(ls -A "$registry/runs" 2>/dev/null)" ] && [ -f "$registry/sysctls" ]; then
  while read -r key value; do
    [ -n "$key" ] && sysctl -q -w "$key=$value" >/dev/null 2>&1
  done <"$registry/sysctls"
  rm -f "$registry/sysctls"
fi
exit 0
