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
#!
#! Networking, and why: the emulator and kube-apiserver listen on 127.0.0.1
#! only, and no kube-proxy runs, so the operator's Pod uses hostNetwork (it
#! then shares the host's loopback) and reaches kube-apiserver at
#! 127.0.0.1:<port> through KUBERNETES_SERVICE_HOST/PORT, with the projected
#! ServiceAccount token and CA the kubelet mounts, instead of through the
#! `kubernetes` Service's ClusterIP. The chart has no hostNetwork value, so the
#! Deployment is patched after install. The metrics port is a free one: with
#! hostNetwork it is a port of the host.
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

read -r tar image < <("$HERE/images/build.sh" operator "$BINARY")
"$NODE_BIN/ctr" --address "$CP_DIR/node/containerd/containerd.sock" -n k8s.io images import "$tar" >/dev/null 2>&1 ||
  cp_die "importing $tar failed"
api_port=$(sed -n 's/^--secure-port=//p' "$CP_DIR/apiserver.args")
fullname=$RELEASE-codeartifact-operator
[[ $RELEASE != *codeartifact-operator* ]] || fullname=$RELEASE

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl create secret generic "$RELEASE-aws" -n "$NS" --dry-run=client -o yaml \
  --from-literal=AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:?}" --from-literal=AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:?}" |
  kubectl apply -f - >/dev/null
cat >"$CP_DIR/$RELEASE-values.yaml" <<EOF
image: {repository: "${image%:*}", tag: "${image##*:}", pullPolicy: Never}
aws: {codeartifactEndpoint: "$ENDPOINT"}
metrics: {port: $(cp_free_port)}
extraEnv:
  - {name: KUBERNETES_SERVICE_HOST, value: "127.0.0.1"}
  - {name: KUBERNETES_SERVICE_PORT, value: "$api_port"}
  - {name: AWS_EC2_METADATA_DISABLED, value: "true"}
  - {name: AWS_ACCESS_KEY_ID, valueFrom: {secretKeyRef: {name: "$RELEASE-aws", key: AWS_ACCESS_KEY_ID}}}
  - {name: AWS_SECRET_ACCESS_KEY, valueFrom: {secretKeyRef: {name: "$RELEASE-aws", key: AWS_SECRET_ACCESS_KEY}}}
EOF
"$BIN/helm" install "$RELEASE" "$HERE/../../charts/codeartifact-operator" --namespace "$NS" \
  --values "$CP_DIR/$RELEASE-values.yaml" "$@" >/dev/null
kubectl patch deployment "$fullname" -n "$NS" --type=merge \
  -p '{"spec":{"template":{"spec":{"hostNetwork":true,"dnsPolicy":"ClusterFirstWithHostNet"}}}}' >&2
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
