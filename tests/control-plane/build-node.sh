#!/usr/bin/env bash
#! Builds the node parts for `up.sh --node`: kubelet, kube-scheduler and
#! kube-proxy from the same pinned k8s.io/kubernetes module as the control
#! plane (k8s-node/), containerd, containerd-shim-runc-v2 and ctr from their Go
#! module (containerd/), and installs runc and the CNI plugins from Debian
#! (apt-get, idempotent). Caches the binaries like build.sh, keyed by versions
#! and go.sum hashes. Prints the node bin folder on stdout (last line).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$HERE/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0

log() { printf '[node build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=build-lib.sh
source "$HERE/build-lib.sh"

# Debian packages the node runs with: runc (the OCI runtime containerd's shim
# calls), the CNI plugins (the Pod network; the kubelet reports NotReady
# without one) and iptables (Pods reach kube-apiserver and the emulator on the
# host's loopback through DNAT rules, see node_pod_network in node.sh).
HOST_PACKAGES=(runc containernetworking-plugins iptables)
host_packages "the node" "${HOST_PACKAGES[@]}"
[[ -x /usr/sbin/runc ]] || die "/usr/sbin/runc missing after installing runc"
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
  die "CNI plugins missing in /usr/lib/cni after installing containernetworking-plugins"

go_version=$(go env GOVERSION)
sum=$(cat "$HERE"/k8s-node/go.sum "$HERE"/containerd/go.sum | sha256sum | cut -c1-12)
key="node-k8s-${K8S_VERSION}_containerd-${CONTAINERD_VERSION}_${go_version}_${sum}"
cache_open "$key" build-node.sh
ldf=$(k8s_ldflags)

# Same tags and stamps as build.sh, so a warm Go cache from the control-plane build is reused.
step "building kubelet, kube-scheduler, kube-proxy $K8S_VERSION"
(cd "$HERE/k8s-node" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldf" -o "$work/bin/" \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy)

step "building containerd, containerd-shim-runc-v2, ctr $CONTAINERD_VERSION"
cv="-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
(cd "$HERE/containerd" && go build -trimpath -tags "no_btrfs no_devmapper no_zfs" -ldflags "-s -w $cv" -o "$work/bin/" \
  github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
  github.com/containerd/containerd/v2/cmd/ctr)

step "checking versions"
for b in kubelet kube-scheduler kube-proxy; do
  reports "$K8S_VERSION" "$work/bin/$b" --version || die "$b version mismatch"
done
reports "$CONTAINERD_VERSION" "$work/bin/containerd" --version || die "containerd version mismatch"
reports "$CONTAINERD_VERSION" "$work/bin/ctr" --version || die "ctr version mismatch"

cache_seal "$key"
