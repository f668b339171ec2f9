#!/usr/bin/env bash
#! Installs the chart (charts/codeartifact-operator) with helm on a control
#! plane started with `up.sh --node`, running the operator's image (built by
#! images/build.sh around BINARY, imported into the node) as a Pod. Waits until
#! the Deployment is Available: the kubelet's readiness probe on /readyz passed.
#!
#! install-operator.sh CP_DIR NAMESPACE RELEASE BINARY ENDPOINT [helm flags...]
#!     ENDPOINT: the CodeArtifact endpoint (the emulator on 127.0.0.1).
#!     Extra flags go to `helm install` (e.g. --set watchNamespaces={team}).
#!     Prints the name of a Ready operator Pod.
#!     AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment (the
#!     emulator's keys) go into a Secret RELEASE-aws the Pod reads them from.
#!     OPERATOR_NETWORK=pod|host (default pod) chooses the Pod's network.
#!
#! Networking: the emulator listens on 127.0.0.1 only, kube-apiserver on the
#! node's bridge address; either way the Pod reaches kube-apiserver through the
#! `kubernetes` Service the kubelet announces (10.0.0.1:443, routed by
#! kube-proxy), with the projected ServiceAccount token and the CA it mounts.
#!   pod:  the chart's default. The Pod has its own network namespace on the
#!         node's bridge and reaches the emulator at the bridge's address
#!         (node_pod_network in node.sh translates it to 127.0.0.1).
#!   host: the chart's hostNetwork=true. The Pod shares the host's loopback,
#!         where the emulator is; the metrics port is a free port of the
#!         host, so only one replica fits on the node.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

CP_DIR=${1:?usage: install-operator.sh CP_DIR NAMESPACE RELEASE BINARY ENDPOINT [helm flags...]}
NS=${2:?namespace} RELEASE=${3:?release} BINARY=${4:?binary} ENDPOINT=${5:?endpoint}
shift 5
[[ -d $CP_DIR/node ]] || cp_die "$CP_DIR has no node (start it with up.sh --node)"
BIN=$(cat "$CP_DIR/bin-dir") NODE_BIN=$(cat "$CP_DIR/node-bin-dir")
export KUBECONFIG=$CP_DIR/kubeconfig KUBECACHEDIR=$CP_DIR/kubectl-cache
export HELM_CACHE_HOME=$CP_DIR/helm/cache HELM_CONFIG_HOME=$CP_DIR/helm/config HELM_DATA_HOME=$CP_DIR/helm/data
kubectl() { "$BIN/kubectl" "$@"; }

NETWORK=${OPERATOR_NETWORK:-pod}
[[ $NETWORK == pod || $NETWORK == host ]] || cp_die "OPERATOR_NETWORK must be pod or host, not $NETWORK"

read -r tar image < <("$HERE/images/build.sh" operator "$BINARY")
"$NODE_BIN/ctr" --address "$CP_DIR/node/containerd/containerd.sock" -n k8s.io images import "$tar" >/dev/null 2>&1 ||
  cp_die "importing $tar failed"
fullname=$RELEASE-codeartifact-operator
[[ $RELEASE != *codeartifact-operator* ]] || fullname=$RELEASE

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl create secret generic "$RELEASE-aws" -n "$NS" --dry-run=client -o yaml \
  --from-literal=AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:?}" --from-literal=AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:?}" |
  kubectl apply -f - >/dev/null
if [[ $NETWORK == host ]]; then
  network_values="hostNetwork: true
metrics: {port: $(cp_free_port)}
extraEnv:"
else
  # The emulator as a Pod sees it: the node's bridge address instead of 127.0.0.1.
  pod_host=$(cat "$CP_DIR/node/pod-host-ip") || cp_die "$CP_DIR/node/pod-host-ip missing: the node has no Pod network"
  ENDPOINT=${ENDPOINT/127.0.0.1/$pod_host}
  network_values="extraEnv:"
fi
cat >"$CP_DIR/$RELEASE-values.yaml" <<EOF
image: {repository: "${image%:*}", tag: "${image##*:}", pullPolicy: Never}
aws: {codeartifactEndpoint: "$ENDPOINT"}
$network_values
  - {name: AWS_EC2_METADATA_DISABLED, value: "true"}
  - {name: AWS_ACCESS_KEY_ID, valueFrom: {secretKeyRef: {name: "$RELEASE-aws", key: AWS_ACCESS_KEY_ID}}}
  - {name: AWS_SECRET_ACCESS_KEY, valueFrom: {secretKeyRef: {name: "$RELEASE-aws", key: AWS_SECRET_ACCESS_KEY}}}
EOF
"$BIN/helm" install "$RELEASE" "$HERE/../../charts/codeartifact-operator" --namespace "$NS" \
  --values "$CP_DIR/$RELEASE-values.yaml" "$@" >/dev/null
if ! kubectl rollout status deployment "$fullname" -n "$NS" --timeout=180s >&2; then
  kubectl get pods,events -n "$NS" -o wide >&2
  kubectl logs -n "$NS" "deployment/$fullname" --tail=30 >&2 || true
  cp_die "the operator's Deployment did not become Available"
fi
kubectl get pods -n "$NS" -l app.kubernetes.io/instance="$RELEASE" \
  -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.name}{"\n"}{end}' |
  while read -r pod; do
    [[ -z $(kubectl get pod "$pod" -n "$NS" -o jsonpath='{.metadata.deletionTimestamp}') ]] && { echo "$pod"; break; }
  done
