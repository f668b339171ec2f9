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
# shellcheck source=build-lib.sh
source "$HERE/build-lib.sh"

go_version=$(go env GOVERSION)
sum=$(cat "$HERE"/k8s/go.sum "$HERE"/etcd/go.sum "$HERE"/helm/go.sum | sha256sum | cut -c1-12)
key="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}_${go_version}_${sum}"
cache_open "$key" build.sh
ldf=$(k8s_ldflags)

step "building etcd $ETCD_VERSION"
(cd "$HERE/etcd" && go build -trimpath -ldflags "-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3)

step "building kube-apiserver, kube-controller-manager, kubectl $K8S_VERSION (the long part on a cold cache)"
(cd "$HERE/k8s" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldf" -o "$work/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)

step "building helm $HELM_VERSION"
(cd "$HERE/helm" && go build -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" -o "$work/bin/helm" helm.sh/helm/v4/cmd/helm)

step "checking versions"
reports "etcd Version: ${ETCD_VERSION#v}" "$work/bin/etcd" --version || { log "etcd version mismatch"; exit 1; }
reports "$K8S_VERSION" "$work/bin/kube-apiserver" --version || { log "kube-apiserver version mismatch"; exit 1; }
reports "$K8S_VERSION" "$work/bin/kube-controller-manager" --version || { log "kcm version mismatch"; exit 1; }
reports "$K8S_VERSION" "$work/bin/kubectl" version --client || { log "kubectl version mismatch"; exit 1; }
reports "$HELM_VERSION" "$work/bin/helm" version --short || { log "helm version mismatch"; exit 1; }

cache_seal "$key"
