#!/usr/bin/env bash
#! Builds etcd, kube-apiserver, kube-controller-manager, kubectl and helm from
#! the pinned Go modules next to this script, into a cache folder outside the
#! clone keyed by versions and go.sum hashes. Prints the bin folder on stdout
#! (last line); progress goes to stderr. Reuses a complete cache entry.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$HERE/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0

log() { printf '[control-plane build] %s\n' "$*" >&2; }

go_version=$(go env GOVERSION)
sum=$(cat "$HERE"/k8s/go.sum "$HERE"/etcd/go.sum "$HERE"/helm/go.sum | sha256sum | cut -c1-12)
key="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}_${go_version}_${sum}"
root=${TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/codeartifact-operator/testenv}
dest="$root/$key"

mkdir -p "$root"
# One build per key at a time: two test binaries (or `make test` and a shell)
# may ask at once, and the loser would otherwise build again and then move its
# folder *into* the winner's.
exec 8>"$root/$key.lock"
flock -n 8 || { log "another build.sh is building $key; waiting for it"; flock 8; }

if [[ -f "$dest/STAMP" ]]; then
  log "reusing cached binaries in $dest"
  echo "$dest/bin"
  exit 0
fi
[[ -d "$dest" ]] && { log "removing incomplete $dest"; rm -rf "$dest"; }

work="$root/$key.partial.$$"
rm -rf "$work"
mkdir -p "$work/bin"
trap 'rm -rf "$work"' EXIT

start=$(date +%s)
step() { log "$1 ($(($(date +%s) - start))s elapsed)"; }

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldf="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldf="$ldf -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ldf="$ldf -X $p.gitTreeState=clean -X $p.buildDate=2026-01-01T00:00:00Z"
done

step "building etcd $ETCD_VERSION"
(cd "$HERE/etcd" && go build -trimpath -ldflags "-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3)

step "building kube-apiserver, kube-controller-manager, kubectl $K8S_VERSION (the long part on a cold cache)"
(cd "$HERE/k8s" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldf" -o "$work/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)

step "building helm $HELM_VERSION"
(cd "$HERE/helm" && go build -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" -o "$work/bin/helm" helm.sh/helm/v4/cmd/helm)

step "checking versions"
"$work/bin/etcd" --version | grep -q "etcd Version: ${ETCD_VERSION#v}" || { log "etcd version mismatch"; exit 1; }
"$work/bin/kube-apiserver" --version | grep -q "$K8S_VERSION" || { log "kube-apiserver version mismatch"; exit 1; }
"$work/bin/kube-controller-manager" --version | grep -q "$K8S_VERSION" || { log "kcm version mismatch"; exit 1; }
"$work/bin/kubectl" version --client | grep -q "$K8S_VERSION" || { log "kubectl version mismatch"; exit 1; }
"$work/bin/helm" version --short | grep -q "$HELM_VERSION" || { log "helm version mismatch"; exit 1; }

{
  echo "key=$key"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$(($(date +%s) - start))"
  (cd "$work/bin" && sha256sum ./*)
} > "$work/STAMP"
mv "$work" "$dest"
trap - EXIT
step "done: $dest/bin"
echo "$dest/bin"
