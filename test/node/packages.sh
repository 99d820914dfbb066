#!/usr/bin/env bash
# Makes sure the Debian packages a local node needs are installed: as root with apt-get, installs
# the missing ones; otherwise exits 1 naming them. The test global setup and `npm run cluster --
# --node` run this, so a fresh machine needs nothing but `npm ci` and `npm test`.
set -euo pipefail

# package: a file it provides
required=(
  "containerd:/usr/bin/containerd"
  "containerd:/usr/bin/containerd-shim-runc-v2"
  "runc:/usr/sbin/runc"
  "containernetworking-plugins:/usr/lib/cni/bridge"
  "iptables:/usr/sbin/iptables"
  "conntrack:/usr/sbin/conntrack"
  "iproute2:/usr/sbin/ip"
  "util-linux:/usr/bin/nsenter"
  "buildah:/usr/bin/buildah"
  "debootstrap:/usr/sbin/debootstrap"
  "busybox-static:/bin/busybox"
  "openssl:/usr/bin/openssl"
)

missing=()
for entry in "${required[@]}"; do
  pkg=${entry%%:*}
  file=${entry#*:}
  [ -e "$file" ] && continue
  [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "[node] missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "[node] installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# containerd's package starts its own service where systemd runs; the node never uses it.
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
