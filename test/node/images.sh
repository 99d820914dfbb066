#!/usr/bin/env bash
# Builds the images the local node runs, with buildah and no registry:
#   - stand-ins for the Dockerfile's public base images (node:24-bookworm-slim and distroless
#     nodejs24-debian12:nonroot): a Debian 12 rootfs from debootstrap plus the Node 24 binary
#     that the `node@24` npm package ships (and npm from the machine's npm for the build stage);
#   - a busybox stand-in (Debian's busybox-static) named as the examples name it;
#   - the pod sandbox image (the `pause` program that build.sh --node builds);
#   - the operator image, from the repository's own Dockerfile, on the stand-ins.
# Writes one docker-archive tarball per image into <out dir> for `ctr images import`, and prints
# one line "<role> <name> <tarball>" per image.
# Usage: images.sh <out dir> <bin dir with pause> [--operator]
#
# Base images and buildah's storage are cached outside the repository, keyed by what they hold;
# the operator image is rebuilt from scratch every time, as a user's first `docker build` would
# (no layer cache: with the vfs driver every cached layer is a full copy of the rootfs, and the
# store would grow by hundreds of MB a run). vfs, not overlay: a build killed midway leaves no
# mount behind.
set -euo pipefail
shopt -s inherit_errexit

out=$1
bin=$2
with_operator=false
[ "${3:-}" = "--operator" ] && with_operator=true
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache_root=${SMO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-manager-operator}
cache="$cache_root/images"
mkdir -p "$cache" "$out"

log() { printf '[images] %s\n' "$*" >&2; }
# One storage for every run on this machine; buildah locks it itself.
storage=(--root "$cache/storage" --runroot "$cache/runroot" --storage-driver vfs)
bh() { buildah "${storage[@]}" "$@"; }

# Working containers of a failed step would stay in the store: remove this run's on the way out
# (only its own: another run may be using the same store).
ours=$(mktemp)
# Keeps the script's exit status (the trap's own commands may fail: committed containers are gone).
trap 'rc=$?; xargs -r buildah "${storage[@]}" rm <"$ours" >/dev/null 2>&1 || true; rm -f "$ours"; exit $rc' EXIT
new_container() {
  local c
  c=$(bh from --pull=never scratch)
  echo "$c" >>"$ours"
  echo "$c"
}

node_bin=$(command -v node)
node_bin=$(readlink -f "$node_bin")
node_version=$("$node_bin" --version)
case "$node_version" in v24.*) ;; *) log "Node 24 is needed for the images, found $node_version"; exit 1 ;; esac
# npm itself, wherever the machine's `npm` command lives.
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[ -f "$npm_dir/bin/npm-cli.js" ] || { log "npm not found at $npm_dir"; exit 1; }
npm_version=$(node -p "require('$npm_dir/package.json').version")


# Images in the store are named by content: a changed input gives a new tag.
has_image() { bh inspect --type image "$1" >/dev/null 2>&1; }

debian_rootfs() {
  local tar="$cache/debian-bookworm-minbase.tar"
  if [ ! -f "$tar" ]; then
    log "debootstrap: Debian 12 (bookworm) minbase rootfs (once)"
    local dir
    dir=$(mktemp -d "$cache/rootfs.XXXXXX")
    debootstrap --variant=minbase bookworm "$dir" >"$cache/debootstrap.log" 2>&1 ||
      { log "debootstrap failed, see $cache/debootstrap.log"; rm -rf "$dir"; exit 1; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar -C "$dir" --numeric-owner -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"
    rm -rf "$dir"
  fi
  echo "$tar"
}

# node:24-bookworm-slim stand-in: Debian + /usr/local/bin/node + npm, as the official image lays them out.
node_base() {
  local name="localhost/smo-stand-in/node:24-bookworm-slim-${node_version#v}-npm$npm_version-$(sha256sum /etc/ssl/certs/ca-certificates.crt 2>/dev/null | cut -c1-8)"
  if ! has_image "$name"; then
    log "building $name"
    local dir
    dir=$(mktemp -d "$cache/node.XXXXXX")
    mkdir -p "$dir/usr/local/bin" "$dir/usr/local/lib/node_modules"
    cp "$node_bin" "$dir/usr/local/bin/node"
    cp -a "$npm_dir" "$dir/usr/local/lib/node_modules/npm"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
    # npm's global config: the mounted cache before the network, no update check, and this
    # machine's CA bundle (the npm registry may be reached through a TLS-inspecting proxy whose CA
    # only the machine trusts; without it every fetch is retried with back-off for minutes).
    mkdir -p "$dir/usr/local/etc" "$dir/etc/ssl/certs"
    printf 'update-notifier=false\nprefer-offline=true\n' >"$dir/usr/local/etc/npmrc"
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
      cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
      printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >>"$dir/usr/local/etc/npmrc"
    fi
    tar -C "$dir" --numeric-owner --owner=0 --group=0 -cf "$dir.tar" .
    local c
    c=$(new_container)
    bh add "$c" "$(debian_rootfs)" / >/dev/null
    bh add "$c" "$dir.tar" / >/dev/null
    rm -rf "$dir" "$dir.tar"
    bh config --env NODE_VERSION="${node_version#v}" --cmd node "$c"
    bh commit --quiet --rm "$c" "$name" >/dev/null
  fi
  echo "$name"
}

# distroless nodejs24-debian12:nonroot stand-in: glibc and libstdc++ from Debian 12, /nodejs/bin/node,
# the nonroot user (65532) with its home, /tmp, CA certificates, no shell, no package manager.
runtime_base() {
  local name="localhost/smo-stand-in/nodejs24-debian12:nonroot-${node_version#v}"
  if ! has_image "$name"; then
    log "building $name"
    local dir
    dir=$(mktemp -d "$cache/runtime.XXXXXX")
    local rootfs="$dir/rootfs" debian="$dir/debian"
    mkdir -p "$rootfs" "$debian"
    tar -C "$debian" -xf "$(debian_rootfs)" ./usr/lib/x86_64-linux-gnu ./usr/lib64 ./etc/ssl ./usr/share/ca-certificates 2>/dev/null || true
    mkdir -p "$rootfs/usr/lib/x86_64-linux-gnu" "$rootfs/usr/lib64" "$rootfs/nodejs/bin" \
      "$rootfs/etc/ssl/certs" "$rootfs/home/nonroot" "$rootfs/tmp"
    ln -s usr/lib "$rootfs/lib"
    ln -s usr/lib64 "$rootfs/lib64"
    local lib
    for lib in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 libgcc_s.so.1 libstdc++.so.6; do
      cp -L "$debian/usr/lib/x86_64-linux-gnu/$lib" "$rootfs/usr/lib/x86_64-linux-gnu/$lib"
    done
    ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$rootfs/usr/lib64/ld-linux-x86-64.so.2"
    cp "$node_bin" "$rootfs/nodejs/bin/node"
    [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
    printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
    printf 'PRETTY_NAME="Distroless stand-in (Debian GNU/Linux 12)"\nID=debian\nVERSION_ID="12"\n' >"$rootfs/etc/os-release"
    chown 65532:65532 "$rootfs/home/nonroot"
    chmod 1777 "$rootfs/tmp"
    tar -C "$rootfs" --numeric-owner -cf "$dir/rootfs.tar" .
    local c
    c=$(new_container)
    bh add "$c" "$dir/rootfs.tar" / >/dev/null
    bh config --user 65532:65532 --workingdir /home/nonroot --entrypoint '["/nodejs/bin/node"]' \
      --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$c"
    bh commit --quiet --rm "$c" "$name" >/dev/null
    rm -rf "$dir"
  fi
  echo "$name"
}

# One static binary in an otherwise empty image.
single_binary_image() {
  local name=$1 file=$2 dest=$3
  shift 3
  if ! has_image "$name"; then
    log "building $name"
    local c
    c=$(new_container)
    bh copy "$c" "$file" "$dest" >/dev/null
    [ $# -gt 0 ] && bh config "$@" "$c"
    bh commit --quiet --rm "$c" "$name" >/dev/null
  fi
  echo "$name"
}

busybox_image() {
  local busybox=/bin/busybox
  [ -x "$busybox" ] || { log "busybox-static is not installed"; exit 1; }
  local sum name
  sum=$(sha256sum "$busybox" | cut -c1-12)
  # The examples name busybox:1.36; this stand-in is Debian's busybox-static.
  name=docker.io/library/busybox:1.36
  local stamp="$cache/busybox.sum"
  if ! has_image "$name" || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    log "building $name from Debian's busybox-static"
    local dir
    dir=$(mktemp -d "$cache/busybox.XXXXXX")
    mkdir -p "$dir/bin" "$dir/tmp" "$dir/etc"
    cp "$busybox" "$dir/bin/busybox"
    local applet
    for applet in $("$busybox" --list); do [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"; done
    chmod 1777 "$dir/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$dir/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\n' >"$dir/etc/group"
    tar -C "$dir" --numeric-owner -cf "$dir.tar" .
    local c
    c=$(new_container)
    bh add "$c" "$dir.tar" / >/dev/null
    bh config --cmd sh --env PATH=/bin "$c"
    bh commit --quiet --rm "$c" "$name" >/dev/null
    rm -rf "$dir" "$dir.tar"
    echo "$sum" >"$stamp"
  fi
  echo "$name"
}

export_image() {
  local name=$1 file=$2
  rm -f "$file"
  bh push --quiet "$name" "docker-archive:$file:$name" >/dev/null
  echo "$name $file"
}

export_image() {
  local role=$1 name=$2 file=$3
  rm -f "$file"
  bh push --quiet "$name" "docker-archive:$file:$name" >/dev/null
  echo "$role $name $file"
}

pause_image=$(single_binary_image localhost/smo-stand-in/pause:3.10-"$(sha256sum "$bin/pause" | cut -c1-12)" "$bin/pause" /pause --entrypoint '["/pause"]')
busybox=$(busybox_image)
export_image pause "$pause_image" "$out/pause.tar"
export_image busybox "$busybox" "$out/busybox.tar"
$with_operator || exit 0

start=$(date +%s)
node_image=$(node_base)
runtime_image=$(runtime_base)
base_s=$(( $(date +%s) - start ))

operator=localhost/secrets-manager-operator:local
log "building $operator from the Dockerfile (bases: $node_image, $runtime_image)"
start=$(date +%s)
# The build stages run `npm ci`: they reach the npm registry on the host's network and reuse the
# machine's npm cache, as a developer's docker build with a cache mount would.
npm_cache=$(npm config get cache)
bh bud --quiet --pull=never --network host --isolation chroot \
  --volume "$npm_cache:/root/.npm" \
  --build-arg NODE_IMAGE="$node_image" --build-arg RUNTIME_IMAGE="$runtime_image" \
  --build-arg REVISION="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  -f "$repo/Dockerfile" -t "$operator" "$repo" >"$out/operator-build.log" 2>&1 ||
  { log "the operator image did not build:"; tail -n 30 "$out/operator-build.log" >&2; exit 1; }
build_s=$(( $(date +%s) - start ))
size=$(bh images --noheading --format '{{.Size}}' "$operator" 2>/dev/null | head -n 1)
# The previous operator image, now untagged, and any intermediate image of a killed build.
bh rmi --prune >/dev/null 2>&1 || true
log "bases ready in ${base_s}s; operator image built in ${build_s}s ($size uncompressed)"
export_image operator "$operator" "$out/operator.tar"
