#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, kube-controller-manager, kubectl, etcd, helm)
# from Go modules into a cache directory outside the repository, keyed by version.
#
# With --node it also builds what a local node needs: kubelet, kube-scheduler, kube-proxy and a
# minimal sandbox ("pause") program for the pod sandbox image.
#
# Prints the directory that holds the binaries on its last line of stdout.
# Skips the build when every binary is already cached. Honours KUBEBUILDER_ASSETS: when it
# names a directory with etcd, kube-apiserver and kubectl, only what it lacks
# (kube-controller-manager, helm) is built.
set -euo pipefail

node=false
[ "${1:-}" = "--node" ] && node=true

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache_root=${SMO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-manager-operator}
key="k8s-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  # The envtest binaries are linked into the directory, so it is keyed by their location too.
  key="envtest-$(printf '%s' "$KUBEBUILDER_ASSETS" | sha256sum | cut -c1-12)-$key"
fi
out="$cache_root/controlplane/$key"
mkdir -p "$out"

log() { printf '[controlplane] %s\n' "$*" >&2; }
have() { [ -x "$out/$1" ] || { [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$1" ]; }; }

if ! command -v go >/dev/null 2>&1; then
  missing=()
  all=(kube-apiserver kube-controller-manager kubectl etcd helm)
  $node && all+=(kubelet kube-scheduler kube-proxy pause)
  for b in "${all[@]}"; do have "$b" || missing+=("$b"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "Go is not installed and these binaries are not cached: ${missing[*]}."
    log "Install Go (https://go.dev/doc/install) or set KUBEBUILDER_ASSETS to an envtest directory."
    exit 1
  fi
fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build_kubernetes() {
  local targets=()
  local wanted=(kube-apiserver kube-controller-manager kubectl)
  $node && wanted+=(kubelet kube-scheduler kube-proxy)
  for b in "${wanted[@]}"; do
    have "$b" || targets+=("k8s.io/kubernetes/cmd/$b")
  done
  [ ${#targets[@]} -gt 0 ] || return 0
  log "building ${targets[*]##*/} from k8s.io/kubernetes@$KUBERNETES_VERSION (slow the first time)"
  local mod="$work/kubernetes"
  mkdir -p "$mod"
  # k8s.io/kubernetes replaces every staging module with ./staging/...; a wrapper module must
  # replace each of them with its published version (v0.X.Y for v1.X.Y) instead.
  local gomod
  gomod=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"
  {
    echo "module smo.local/controlplane"
    echo
    echo "go 1.24"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging_version"'#p' "$gomod"
    echo ")"
  } >"$mod/go.mod"
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$out/" "${targets[@]}")
}

build_etcd() {
  have etcd && return 0
  log "building etcd from go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  local mod="$work/etcd"
  mkdir -p "$mod"
  cat >"$mod/go.mod" <<MOD
module smo.local/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  cat >"$mod/main.go" <<'MAIN'
// A minimal etcd: the server's own entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
MAIN
  (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" .)
}

build_helm() {
  have helm && return 0
  log "building helm from helm.sh/helm/v3@$HELM_VERSION"
  local mod="$work/helm"
  mkdir -p "$mod"
  printf 'module smo.local/helm\n\ngo 1.24\n\nrequire helm.sh/helm/v3 %s\n' "$HELM_VERSION" >"$mod/go.mod"
  # Helm's own build stamps the Kubernetes version of its client-go as the default for
  # `helm template` and `helm lint` (without it they assume Kubernetes 1.20).
  local helm_gomod k8s_minor
  helm_gomod=$(cd "$mod" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  k8s_minor=$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$helm_gomod" | head -n 1)
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  (cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$out/helm" helm.sh/helm/v3/cmd/helm)
}

build_pause() {
  $node || return 0
  have pause && return 0
  log "building the pod sandbox program (pause)"
  local mod="$work/pause"
  mkdir -p "$mod"
  printf 'module smo.local/pause\n\ngo 1.24\n' >"$mod/go.mod"
  cat >"$mod/main.go" <<'MAIN'
// The pod sandbox's only process: holds the pod's namespaces, reaps orphans, exits on a signal.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
MAIN
  (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$out/pause" .)
}

start=$(date +%s)
build_etcd
build_helm
build_kubernetes
build_pause
elapsed=$(( $(date +%s) - start ))
[ "$elapsed" -gt 2 ] && log "built in ${elapsed}s into $out"

# Link the envtest binaries beside the built ones so callers need one directory.
if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  for b in etcd kube-apiserver kubectl; do
    [ -x "$KUBEBUILDER_ASSETS/$b" ] && [ ! -e "$out/$b" ] && ln -s "$KUBEBUILDER_ASSETS/$b" "$out/$b"
  done
fi
echo "$out"
