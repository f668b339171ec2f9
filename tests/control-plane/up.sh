#!/usr/bin/env bash
#! Starts a throw-away Kubernetes control plane (etcd, kube-apiserver,
#! kube-controller-manager with only the garbage-collector and namespace
#! controllers) on free loopback ports, and restarts its kube-apiserver on
#! request. See README.md next to this script for the recipe and decisions.
#!
#! up.sh [--dir DIR] [--owner-pid PID] [--bin-dir DIR] [--node [--node-bin-dir DIR]]
#!     Starts a control plane in DIR (default: a new mktemp folder) and prints
#!     two lines a shell can eval: `export KUBECONFIG=...` and `export PATH=...`.
#!     With --dir, an already running control plane in DIR is reused. With
#!     --owner-pid, a watchdog tears everything down once PID has exited.
#!     Binaries: --bin-dir, else $TESTENV_BIN_DIR, else build.sh (cached build).
#!     With --node, also a node (containerd, kubelet, kube-scheduler; node.sh);
#!     its binaries: --node-bin-dir, else $TESTENV_NODE_BIN_DIR, else build-node.sh.
#! up.sh restart-apiserver DIR
#!     Stops kube-apiserver and starts it again on the same port; waits until ready.
#!
#! DIR holds kubeconfig (admin), pids ("NAME PID START" lines), *.log, certificates.
#! With TESTENV_AUDIT_LOG=1, kube-apiserver also writes DIR/audit.log: one JSON line
#! (Metadata level, stage ResponseComplete) per create, update, patch or delete request.
#! With TESTENV_APISERVER_PROFILING=1, kube-apiserver serves /debug/pprof (for
#! profiling it under `make bench`; off otherwise, as in production hardening).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=certs.sh
source "$HERE/certs.sh"
# shellcheck source=node.sh
source "$HERE/node.sh"

# Bounded waits, generous because the suite shares 2 cores with cargo builds:
# etcd is ready in about a second, kube-apiserver in 5-15 s, kube-controller-manager in 1-3 s.
ETCD_TIMEOUT=60
APISERVER_TIMEOUT=120
KCM_TIMEOUT=60
# A port clash makes the component exit at once; retrying with new ports is enough.
PORT_ATTEMPTS=5

usage() { sed -n 's/^#! \{0,1\}//p' "$0" | sed -n '7,21p' >&2; exit 2; }

etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }

start_etcd() {
  local attempt peer
  for ((attempt = 1; attempt <= PORT_ATTEMPTS; attempt++)); do
    ETCD_PORT=$(cp_free_port) peer=$(cp_free_port)
    # --unsafe-no-fsync: the data is thrown away anyway, and fsync dominates etcd latency.
    cp_spawn etcd "$CP_DIR/etcd.log" "$BIN/etcd" --name=testenv --data-dir="$CP_DIR/etcd" \
      --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls="http://127.0.0.1:$peer" --initial-advertise-peer-urls="http://127.0.0.1:$peer" \
      --initial-cluster="testenv=http://127.0.0.1:$peer" --unsafe-no-fsync=true --log-level=warn
    if cp_wait etcd "$CP_PID" "$CP_DIR/etcd.log" "$ETCD_TIMEOUT" etcd_healthy; then return 0; fi
    cp_port_clash "$CP_DIR/etcd.log" || cp_die "etcd did not start"
    cp_log "etcd: port clash, retrying with other ports"
    rm -rf "$CP_DIR/etcd"
  done
  cp_die "etcd: no usable port after $PORT_ATTEMPTS attempts"
}

# Writes apiserver.args, one flag a line, so restart-apiserver reuses them verbatim.
write_apiserver_args() {
  # Without a node, loopback only, and no endpoints for the `kubernetes` Service
  # (the apiserver refuses to advertise a loopback address). With a node, the
  # node's bridge address (node_bridge, a host-only interface): kube-proxy then
  # routes the `kubernetes` Service to the endpoint the apiserver maintains.
  local host=127.0.0.1 reconciler=none
  [[ -z ${WITH_NODE:-} ]] || host=$NODE_HOST_IP reconciler=lease
  cat >"$CP_DIR/apiserver.args" <<EOF
--etcd-servers=http://127.0.0.1:$ETCD_PORT
--bind-address=$host
--secure-port=$1
--advertise-address=$host
--endpoint-reconciler-type=$reconciler
--cert-dir=$CP_DIR/apiserver-certs
--tls-cert-file=$CP_DIR/apiserver.crt
--tls-private-key-file=$CP_DIR/apiserver.key
--client-ca-file=$CP_DIR/ca.crt
--service-account-issuer=https://kubernetes.default.svc.cluster.local
--service-account-key-file=$CP_DIR/sa.pub
--service-account-signing-key-file=$CP_DIR/sa.key
--service-cluster-ip-range=10.0.0.0/24
--allow-privileged=true
--enable-priority-and-fairness=false
--profiling=$([[ ${TESTENV_APISERVER_PROFILING:-} == 1 ]] && echo true || echo false)
EOF
  if [[ -n ${WITH_NODE:-} ]]; then
    # Pods get projected ServiceAccount tokens (the ServiceAccount admission
    # plugin), the kubelet is authorised as its node, and kubectl logs/exec
    # reach the kubelet by the node's host name (which resolves to 127.0.0.1,
    # where the kubelet listens) with the admin certificate.
    cat >>"$CP_DIR/apiserver.args" <<EOF
--authorization-mode=Node,RBAC
--kubelet-preferred-address-types=Hostname
--kubelet-client-certificate=$CP_DIR/admin.crt
--kubelet-client-key=$CP_DIR/admin.key
EOF
  else
    # No node: no Pods, and no default ServiceAccounts to check them against.
    printf '%s\n' --authorization-mode=RBAC --disable-admission-plugins=ServiceAccount >>"$CP_DIR/apiserver.args"
  fi
  [[ ${TESTENV_AUDIT_LOG:-} != 1 ]] || write_audit_args
}

# Opt-in (TESTENV_AUDIT_LOG=1, used by `make bench`): an audit log of every write
# request, no-op ones included, so a benchmark can count what a client writes.
# Reads are not logged: they would dominate the file and cost the server time.
write_audit_args() {
  cat >"$CP_DIR/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
EOF
  cat >>"$CP_DIR/apiserver.args" <<EOF
--audit-policy-file=$CP_DIR/audit-policy.yaml
--audit-log-path=$CP_DIR/audit.log
--audit-log-format=json
EOF
}

apiserver_port() { sed -n 's/^--secure-port=//p' "$CP_DIR/apiserver.args"; }
# HOST:PORT where kube-apiserver listens (what kubeconfigs name).
apiserver_addr() { echo "$(sed -n 's/^--bind-address=//p' "$CP_DIR/apiserver.args"):$(apiserver_port)"; }
apiserver_ready() { cp_curl_admin "https://$(apiserver_addr)/readyz" | grep -qx ok; }
namespaces_exist() {
  local ns
  for ns in default kube-system; do
    cp_curl_admin "https://$(apiserver_addr)/api/v1/namespaces/$ns" >/dev/null || return 1
  done
}

# run_apiserver: starts kube-apiserver with apiserver.args; returns cp_wait's status.
run_apiserver() {
  local args
  mapfile -t args <"$CP_DIR/apiserver.args"
  cp_spawn kube-apiserver "$CP_DIR/kube-apiserver.log" "$BIN/kube-apiserver" "${args[@]}"
  cp_wait kube-apiserver "$CP_PID" "$CP_DIR/kube-apiserver.log" "$APISERVER_TIMEOUT" apiserver_ready || return
  # Like the kubernetes integration framework: ready means the system namespaces exist too.
  cp_wait kube-apiserver "$CP_PID" "$CP_DIR/kube-apiserver.log" 30 namespaces_exist
}

start_apiserver() {
  local attempt
  for ((attempt = 1; attempt <= PORT_ATTEMPTS; attempt++)); do
    write_apiserver_args "$(cp_free_port)"
    if run_apiserver; then return 0; fi
    cp_port_clash "$CP_DIR/kube-apiserver.log" || cp_die "kube-apiserver did not start"
    cp_log "kube-apiserver: port clash, retrying with another port"
  done
  cp_die "kube-apiserver: no usable port after $PORT_ATTEMPTS attempts"
}

kcm_healthy() { curl -fsSk --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz" | grep -qx ok; }

start_kcm() {
  local attempt
  for ((attempt = 1; attempt <= PORT_ATTEMPTS; attempt++)); do
    KCM_PORT=$(cp_free_port)
    local controllers=garbage-collector-controller,namespace-controller extra=()
    if [[ -n ${WITH_NODE:-} ]]; then
      # What Pods of Deployments and Jobs need: default ServiceAccounts, the
      # kube-root-ca.crt ConfigMap of projected tokens, and the workload controllers.
      controllers+=,serviceaccount-controller,root-ca-certificate-publisher-controller
      controllers+=,deployment-controller,replicaset-controller,job-controller,pod-garbage-collector-controller
      # The EndpointSlices of Services, which kube-proxy routes to.
      controllers+=,endpointslice-controller
      # Removes the not-ready taint the kubelet registers the node with, once it is Ready.
      controllers+=,node-lifecycle-controller
      extra=(--root-ca-file="$CP_DIR/ca.crt")
    fi
    # --leader-elect=false: a single instance, and no waiting on a lease left by an earlier run.
    cp_spawn kube-controller-manager "$CP_DIR/kube-controller-manager.log" "$BIN/kube-controller-manager" \
      --kubeconfig="$CP_DIR/kcm.kubeconfig" \
      --controllers="$controllers" "${extra[@]}" \
      --leader-elect=false --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
      --cert-dir="$CP_DIR/kcm-certs"
    if cp_wait kube-controller-manager "$CP_PID" "$CP_DIR/kube-controller-manager.log" "$KCM_TIMEOUT" kcm_healthy; then
      return 0
    fi
    cp_port_clash "$CP_DIR/kube-controller-manager.log" || cp_die "kube-controller-manager did not start"
    cp_log "kube-controller-manager: port clash, retrying with another port"
  done
  cp_die "kube-controller-manager: no usable port after $PORT_ATTEMPTS attempts"
}

# find_bins sets BIN: --bin-dir, else $TESTENV_BIN_DIR, else build.sh's cached build.
find_bins() {
  BIN=${BIN:-${TESTENV_BIN_DIR:-}}
  [[ -n $BIN ]] || BIN=$("$HERE/build.sh" | tail -n 1)
  local b
  for b in etcd kube-apiserver kube-controller-manager kubectl helm; do
    [[ -x $BIN/$b ]] || cp_die "missing binary $BIN/$b (run tests/control-plane/build.sh)"
  done
  if [[ -n ${WITH_NODE:-} ]]; then
    NODE_BIN=${NODE_BIN:-${TESTENV_NODE_BIN_DIR:-}}
    [[ -n $NODE_BIN ]] || NODE_BIN=$("$HERE/build-node.sh" | tail -n 1)
    NODE_NAME=$(hostname | tr '[:upper:]' '[:lower:]')
    node_preflight
  fi
}

print_exports() {
  printf 'export KUBECONFIG=%q\n' "$CP_DIR/kubeconfig"
  # shellcheck disable=SC2016 # $PATH is for the shell that evals this line
  printf 'export PATH=%q:$PATH\n' "$(cat "$CP_DIR/bin-dir")"
}

# True if DIR holds a control plane whose three processes run and which answers.
running_in() {
  local name pid start
  [[ -f $CP_DIR/pids && -f $CP_DIR/kubeconfig ]] || return 1
  local names=(etcd kube-apiserver kube-controller-manager)
  # With --node, a control plane without one (or with one) is not reused as is.
  if [[ -n ${WITH_NODE:-} ]]; then names+=(containerd kubelet kube-scheduler kube-proxy); else [[ ! -d $CP_DIR/node ]] || return 1; fi
  for name in "${names[@]}"; do
    read -r pid start < <(awk -v n="$name" '$1 == n { print $2, $3 }' "$CP_DIR/pids") || return 1
    cp_owns "$pid" "$start" || return 1
  done
  apiserver_ready
}

# prepare_dir: a fresh mktemp folder, or --dir (reusing a running control plane there).
prepare_dir() {
  if [[ -z ${CP_DIR:-} ]]; then
    CP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/codeartifact-cp.XXXXXX")
  else
    mkdir -p "$CP_DIR"
    CP_DIR=$(cd "$CP_DIR" && pwd)
    # Serialise concurrent `make control-plane` runs on the same folder.
    exec 9>"$CP_DIR.lock"
    flock 9
    if running_in; then
      cp_log "reusing the control plane already running in $CP_DIR"
      print_exports
      exit 0
    fi
    if [[ -f $CP_DIR/$CP_MARKER ]]; then
      "$HERE/down.sh" "$CP_DIR"
      mkdir -p "$CP_DIR"
    elif [[ -n "$(ls -A "$CP_DIR")" ]]; then
      cp_die "$CP_DIR is not empty and not a control-plane folder; refusing to use it"
    fi
  fi
  touch "$CP_DIR/$CP_MARKER"
  echo "$BIN" >"$CP_DIR/bin-dir"
}

# start_watchdog OWNER: down.sh --watch tears down once OWNER has exited. It is
# started before anything else, so that even an owner killed during start-up
# (which also kills this launcher, recorded as "launcher") leaves nothing behind.
start_watchdog() {
  local start
  start=$(cp_start_time "$1") || cp_die "owner pid $1 does not exist"
  # For node_lock: a later run may wait for this one's teardown once the owner is gone.
  echo "$1 $start" >"$CP_DIR/owner"
  cp_spawn watchdog "$CP_DIR/watchdog.log" "$HERE/down.sh" --watch "$1" "$start" "$CP_DIR"
}

cmd_up() {
  local owner=''
  while (($#)); do
    case $1 in
      --dir) CP_DIR=$2; shift 2 ;;
      --owner-pid) owner=$2; shift 2 ;;
      --bin-dir) BIN=$2; shift 2 ;;
      --node) WITH_NODE=1; shift ;;
      --node-bin-dir) NODE_BIN=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  find_bins
  local t0=$SECONDS
  prepare_dir
  # Any failure from here on removes what was started so far.
  trap '[[ $? == 0 ]] || "$HERE/down.sh" "$CP_DIR" >&2' EXIT
  cp_pid_set launcher $$
  [[ -z $owner ]] || start_watchdog "$owner"
  # Before anything starts: a second node on this machine fails here, at once.
  [[ -z ${WITH_NODE:-} ]] || node_lock
  cd "$CP_DIR"
  cp_make_certs
  # The node's bridge first: kube-apiserver listens on its address.
  [[ -z ${WITH_NODE:-} ]] || node_bridge
  cp_log "starting etcd in $CP_DIR"
  start_etcd
  cp_log "starting kube-apiserver"
  start_apiserver
  cp_kubeconfig "$CP_DIR/kubeconfig" "$(apiserver_addr)" admin
  cp_kubeconfig "$CP_DIR/kcm.kubeconfig" "$(apiserver_addr)" kcm
  cp_log "starting kube-controller-manager"
  start_kcm
  [[ -z ${WITH_NODE:-} ]] || start_node
  cp_pid_del launcher
  trap - EXIT
  cp_log "ready in $((SECONDS - t0))s: kube-apiserver https://$(apiserver_addr)"
  print_exports
}

cmd_restart_apiserver() {
  CP_DIR=${1:?usage: up.sh restart-apiserver DIR}
  [[ -f $CP_DIR/$CP_MARKER && -f $CP_DIR/apiserver.args ]] || cp_die "$CP_DIR is not a control-plane folder"
  BIN=$(cat "$CP_DIR/bin-dir")
  local pid start t0=$SECONDS
  read -r pid start < <(awk '$1 == "kube-apiserver" { print $2, $3 }' "$CP_DIR/pids")
  cp_owns "$pid" "$start" || cp_die "kube-apiserver (pid $pid) is not running"
  cp_log "stopping kube-apiserver (pid $pid)"
  # SIGKILL after 2 s: it stops listening at once but holds watches open until killed.
  cp_stop "$pid" 2
  mv "$CP_DIR/kube-apiserver.log" "$CP_DIR/kube-apiserver.log.1"
  # Same flags, so the same port: clients keep their kubeconfig and reconnect.
  run_apiserver || cp_die "kube-apiserver did not come back"
  cp_log "kube-apiserver restarted in $((SECONDS - t0))s"
}

case ${1:-} in
  restart-apiserver) shift; cmd_restart_apiserver "$@" ;;
  -h | --help) usage ;;
  *) cmd_up "$@" ;;
esac
