# shellcheck shell=bash
# The test node for `up.sh --node`: containerd (with Debian's runc), the
# kubelet and kube-scheduler, next to the control plane in $CP_DIR; and its
# teardown for down.sh. Sourced after lib.sh and certs.sh, never run.
#
# Everything lives under $CP_DIR/node or listens on 127.0.0.1, except what the
# kubelet and containerd write to fixed host paths whatever they are told;
# node_cleanup_host removes those. One node per machine: the node name is the
# host name and cgroups, /run/containerd/s and the CNI bridge are host-wide,
# so a machine-wide lock (NODE_LOCK) is held for the node's lifetime.

NODE_LOCK=/run/lock/codeartifact-operator-node.lock
# Must match PAUSE_IMAGE in images/build.sh.
NODE_PAUSE_IMAGE=registry.k8s.io/pause:3.10
# The kubelet's cgroup root, created in every v1 hierarchy and removed at teardown.
NODE_CGROUP=codeartifact-node
NODE_BRIDGE=cao-cni0
NODE_SUBNET=10.88.0.0/16
# The bridge's own address, the Pods' gateway: Pods reach the host's loopback
# listeners (kube-apiserver, the emulator) at NODE_HOST_IP:PORT.
NODE_HOST_IP=10.88.0.1
# Our own nat chain, so teardown removes exactly what start added.
NODE_NAT_CHAIN=CAO-TESTENV-NODE
NODE_INPUT_CHAIN=CAO-TESTENV-NODE-IN
CONTAINERD_TIMEOUT=30
KUBE_PROXY_TIMEOUT=60
KUBELET_TIMEOUT=90
SCHEDULER_TIMEOUT=60

# node_preflight: the reasons a node cannot run here, as a loud failure.
node_preflight() {
  (($(id -u) == 0)) || cp_die "the node needs root (the kubelet and runc manage cgroups and mounts); run as root or without --node"
  [[ -x /usr/sbin/runc ]] || cp_die "the node needs /usr/sbin/runc (tests/control-plane/build-node.sh installs it)"
  command -v iptables >/dev/null || cp_die "the node needs iptables for Pod networking (tests/control-plane/build-node.sh installs it)"
  iptables -t nat -S PREROUTING >/dev/null 2>&1 ||
    cp_die "iptables cannot use the nat table here (no netfilter NAT in this kernel?): Pods could not reach kube-apiserver"
  [[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpu && -d /sys/fs/cgroup/pids ]] ||
    cp_die "the node expects cgroup v1 hierarchies (memory, cpu, pids) under /sys/fs/cgroup; see tests/control-plane/README.md"
  local b
  for b in kubelet kube-scheduler kube-proxy containerd containerd-shim-runc-v2 ctr; do
    [[ -x $NODE_BIN/$b ]] || cp_die "missing node binary $NODE_BIN/$b (run tests/control-plane/build-node.sh)"
  done
}

# How long node_lock waits for the teardown of a node whose owner has exited.
NODE_TEARDOWN_WAIT=180

# node_lock: takes the machine-wide lock with a holder process that lives
# until down.sh stops it ("node-lock" in pids); fails at once if another node
# runs. A node whose owner process has exited is being torn down by its
# watchdog (seconds after a test binary ends, while the next may already
# start): that one is waited for, up to NODE_TEARDOWN_WAIT.
node_lock() {
  mkdir -p "$(dirname "$NODE_LOCK")"
  exec 6>>"$NODE_LOCK"
  flock -n 6 || node_lock_wait
  echo "$CP_DIR" >"$NODE_LOCK.owner"
  # The holder inherits fd 6 and keeps the lock after up.sh exits.
  setsid sleep infinity </dev/null >/dev/null 2>&1 9>&- &
  cp_pid_set node-lock $!
  exec 6>&-
}

# node_lock_wait: the lock is held; waits when its node's owner is gone, else fails.
node_lock_wait() {
  local folder owner start
  folder=$(cat "$NODE_LOCK.owner" 2>/dev/null || echo unknown)
  if read -r owner start 2>/dev/null <"$folder/owner" &&
    [[ "$(cp_start_time "$owner" || true)" != "$start" ]]; then
    cp_log "the node in $folder is being torn down (its owner, pid $owner, has exited); waiting up to ${NODE_TEARDOWN_WAIT}s"
    flock -w "$NODE_TEARDOWN_WAIT" 6 && return 0
    cp_die "the node in $folder was not torn down within ${NODE_TEARDOWN_WAIT}s (lock $NODE_LOCK still held); see $folder/watchdog.log, or stop it with tests/control-plane/down.sh $folder"
  fi
  cp_die "another test node runs on this machine (lock $NODE_LOCK held; its folder: $folder); stop it with tests/control-plane/down.sh FOLDER"
}

node_certs() {
  cp_client_cert kubelet "system:node:$NODE_NAME" system:nodes
  # The bootstrap RBAC role system:kube-scheduler is bound to this user name.
  cp_client_cert scheduler system:kube-scheduler system:kube-scheduler
  # The bootstrap binding system:node-proxier names this user.
  cp_client_cert kube-proxy system:kube-proxy system:node-proxier
}

write_containerd_config() {
  local d=$CP_DIR/node/containerd
  mkdir -p "$d" "$CP_DIR/node/cni/net.d" "$CP_DIR/node/runc"
  # Version 4, the format containerd 2.3 writes (`containerd config default`).
  cat >"$d/config.toml" <<EOF
version = 4
root = "$d/root"
state = "$d/state"
# No drop-ins from /etc/containerd: nothing of the host's configuration applies.
imports = []
[plugins.'io.containerd.server.v1.grpc']
  address = "$d/containerd.sock"
[plugins.'io.containerd.server.v1.ttrpc']
  address = "$d/containerd.sock.ttrpc"
[plugins.'io.containerd.server.v1.debug']
  address = ""
[plugins.'io.containerd.server.v1.metrics']
  address = ""
# NRI would listen on /var/run/nri/nri.sock, a host path.
[plugins.'io.containerd.nri.v1.nri']
  disable = true
[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
  # kubectl exec/attach/port-forward go through this server: loopback only.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$NODE_PAUSE_IMAGE"
[plugins.'io.containerd.cri.v1.runtime']
  # VM constraint 2: these machines lack CAP_SYS_RESOURCE, so even root may not
  # set a negative oom_score_adj, and runc would fail every sandbox ("can't get
  # final child's PID from pipe: EOF"). With this, containers never get a lower
  # score than containerd's own (Guaranteed Pods run with 0 instead of -997).
  restrict_oom_score_adj = true
  # Pod network namespaces under the folder, not /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$CP_DIR/node/cni/net.d"
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "$CP_DIR/node/runc"
        # The kubelet uses the cgroupfs driver (no systemd as PID 1 here).
        SystemdCgroup = false
EOF
  # The Pod network: a bridge (created by node_pod_network) and host-local
  # addresses. No ipMasq: Pods talk only to this host (node_pod_network).
  cat >"$CP_DIR/node/cni/net.d/10-testenv.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "testenv", "plugins": [
  {"type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$NODE_SUBNET", "gateway": "$NODE_HOST_IP"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$CP_DIR/node/cni/ipam"}},
  {"type": "loopback"}]}
EOF
}

# node_bridge: the Pods' bridge, created before kube-apiserver starts because
# the apiserver listens on its address NODE_HOST_IP (up.sh): an address only
# this host and its Pods may reach (the filter chain below drops it from any
# other interface, as a peer routing 10.88.0.0/16 to us could), and one the
# apiserver may advertise as the `kubernetes` Service's endpoint (it refuses
# loopback ones), which kube-proxy then routes ClusterIP 10.0.0.1:443 to. The
# CNI bridge plugin reuses the bridge; node_cleanup_host deletes it.
node_bridge() {
  # From here on, down.sh's stop_node tears the node's host state down.
  mkdir -p "$CP_DIR/node"
  echo "$NODE_BIN" >"$CP_DIR/node-bin-dir"
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || ip link add "$NODE_BRIDGE" type bridge ||
    cp_die "cannot create the bridge $NODE_BRIDGE"
  ip addr replace "$NODE_HOST_IP/${NODE_SUBNET#*/}" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # For node_pod_network's DNAT to 127.0.0.1.
  sysctl -qw "net.ipv4.conf.$NODE_BRIDGE.route_localnet=1"
  iptables -N "$NODE_INPUT_CHAIN" 2>/dev/null || iptables -F "$NODE_INPUT_CHAIN"
  iptables -A "$NODE_INPUT_CHAIN" -i lo -j RETURN
  iptables -A "$NODE_INPUT_CHAIN" -i "$NODE_BRIDGE" -j RETURN
  iptables -A "$NODE_INPUT_CHAIN" -j DROP
  iptables -C INPUT -d "$NODE_HOST_IP/32" -j "$NODE_INPUT_CHAIN" 2>/dev/null ||
    iptables -I INPUT -d "$NODE_HOST_IP/32" -j "$NODE_INPUT_CHAIN"
}

# node_pod_network: how Pods reach the test listeners that bind 127.0.0.1 only
# (the emulator): for packets entering from the bridge (and nothing else),
# NODE_HOST_IP:PORT goes to 127.0.0.1:PORT, except kube-apiserver's port, which
# listens on NODE_HOST_IP itself. Services, the `kubernetes` one included, are
# kube-proxy's (start_kube_proxy). node_pod_network_down undoes it.
node_pod_network() {
  iptables -t nat -N "$NODE_NAT_CHAIN" 2>/dev/null || iptables -t nat -F "$NODE_NAT_CHAIN"
  iptables -t nat -C PREROUTING -i "$NODE_BRIDGE" -j "$NODE_NAT_CHAIN" 2>/dev/null ||
    iptables -t nat -A PREROUTING -i "$NODE_BRIDGE" -j "$NODE_NAT_CHAIN"
  iptables -t nat -A "$NODE_NAT_CHAIN" -d "$NODE_HOST_IP/32" -p tcp ! --dport "$(apiserver_port)" \
    -j DNAT --to-destination 127.0.0.1
  echo "$NODE_HOST_IP" >"$CP_DIR/node/pod-host-ip"
}

node_pod_network_down() {
  iptables -D INPUT -d "$NODE_HOST_IP/32" -j "$NODE_INPUT_CHAIN" 2>/dev/null || true
  iptables -F "$NODE_INPUT_CHAIN" 2>/dev/null || true
  iptables -X "$NODE_INPUT_CHAIN" 2>/dev/null || true
  iptables -t nat -D PREROUTING -i "$NODE_BRIDGE" -j "$NODE_NAT_CHAIN" 2>/dev/null || true
  iptables -t nat -F "$NODE_NAT_CHAIN" 2>/dev/null || true
  iptables -t nat -X "$NODE_NAT_CHAIN" 2>/dev/null || true
}

node_ctr() { "$NODE_BIN/ctr" --address "$CP_DIR/node/containerd/containerd.sock" -n k8s.io "$@"; }

start_containerd() {
  write_containerd_config
  # containerd finds containerd-shim-runc-v2 on PATH.
  PATH="$NODE_BIN:$PATH" cp_spawn containerd "$CP_DIR/containerd.log" "$NODE_BIN/containerd" \
    --config "$CP_DIR/node/containerd/config.toml"
  cp_wait containerd "$CP_PID" "$CP_DIR/containerd.log" "$CONTAINERD_TIMEOUT" node_ctr version ||
    cp_die "containerd did not start"
}

# node_import TAR: imports an OCI image-layout tar into containerd's k8s.io namespace.
node_import() { node_ctr images import --no-unpack=false "$1" >&2; }

write_kubelet_config() {
  cat >"$CP_DIR/node/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# VM constraint 1: these machines mount only cgroup v1 hierarchies and our own
# processes live in them, so cgroup v2 is not an option; kubelet 1.36 refuses
# cgroup v1 unless told otherwise.
failCgroupV1: false
# PID 1 is not systemd here.
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
# The kube-apiserver (kubectl logs/exec) authenticates with a client
# certificate of the control plane's CA; nobody else may call the kubelet.
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $CP_DIR/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$CP_DIR/node/containerd/containerd.sock
podLogsDir: $CP_DIR/node/pod-logs
volumePluginDir: $CP_DIR/node/volume-plugins
resolvConf: /etc/resolv.conf
failSwapOn: false
# Images are imported, never pulled: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
# How often the kubelet re-syncs Pods, and so how soon it refreshes mounted
# Secrets (plus its cache TTL): short, so token rotations reach Pods quickly.
syncFrequency: 5s
nodeStatusUpdateFrequency: 5s
shutdownGracePeriod: 0s
serializeImagePulls: false
maxPods: 60
rotateCertificates: false
EOF
}

kubelet_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" | grep -qx ok; }
# Ready, and schedulable: node-lifecycle-controller has removed the not-ready taint.
node_ready() {
  "$BIN/kubectl" --kubeconfig "$CP_DIR/kubeconfig" get node "$NODE_NAME" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints}' 2>/dev/null | grep -qx 'True '
}

start_kubelet() {
  local d
  for d in /sys/fs/cgroup/*/; do
    [[ -f $d/cgroup.procs && ! -L ${d%/} ]] && mkdir -p "$d$NODE_CGROUP"
  done
  KUBELET_PORT=$(cp_free_port) KUBELET_HEALTHZ_PORT=$(cp_free_port)
  write_kubelet_config
  cp_kubeconfig "$CP_DIR/node/kubelet.kubeconfig" "$(apiserver_addr)" kubelet
  cp_spawn kubelet "$CP_DIR/kubelet.log" "$NODE_BIN/kubelet" \
    --config="$CP_DIR/node/kubelet.yaml" --kubeconfig="$CP_DIR/node/kubelet.kubeconfig" \
    --root-dir="$CP_DIR/node/kubelet" --cert-dir="$CP_DIR/node/kubelet-pki" \
    --hostname-override="$NODE_NAME" --v=1
  cp_wait kubelet "$CP_PID" "$CP_DIR/kubelet.log" "$KUBELET_TIMEOUT" kubelet_healthy || cp_die "the kubelet did not start"
  cp_wait kubelet "$CP_PID" "$CP_DIR/kubelet.log" "$KUBELET_TIMEOUT" node_ready ||
    cp_die "node $NODE_NAME did not become Ready"
}

start_scheduler() {
  local port
  port=$(cp_free_port)
  cp_kubeconfig "$CP_DIR/node/scheduler.kubeconfig" "$(apiserver_addr)" scheduler
  cp_spawn kube-scheduler "$CP_DIR/kube-scheduler.log" "$NODE_BIN/kube-scheduler" \
    --kubeconfig="$CP_DIR/node/scheduler.kubeconfig" --leader-elect=false --bind-address=127.0.0.1 --secure-port="$port"
  # /healthz is always allowed, so anonymous curl works.
  cp_wait kube-scheduler "$CP_PID" "$CP_DIR/kube-scheduler.log" "$SCHEDULER_TIMEOUT" \
    curl -fsSk --max-time 2 "https://127.0.0.1:$port/healthz" || cp_die "kube-scheduler did not start"
}

# start_kube_proxy: Services on this node, in iptables mode (Debian's
# iptables, as the preflight checks). Its listeners on loopback; NodePorts
# only on the bridge's address, so no port opens on the machine's own
# interfaces; and no conntrack sysctl is touched (these VMs' host settings
# are not ours to change). Ready once it has synced its rules (/healthz).
start_kube_proxy() {
  local health metrics
  health=$(cp_free_port) metrics=$(cp_free_port)
  cp_kubeconfig "$CP_DIR/node/kube-proxy.kubeconfig" "$(apiserver_addr)" kube-proxy
  cat >"$CP_DIR/node/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $CP_DIR/node/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $NODE_SUBNET
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$health
metricsBindAddress: 127.0.0.1:$metrics
nodePortAddresses: ["$NODE_HOST_IP/32"]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  cp_spawn kube-proxy "$CP_DIR/kube-proxy.log" "$NODE_BIN/kube-proxy" --config="$CP_DIR/node/kube-proxy.yaml" --v=1
  cp_wait kube-proxy "$CP_PID" "$CP_DIR/kube-proxy.log" "$KUBE_PROXY_TIMEOUT" \
    curl -fsS --max-time 2 "http://127.0.0.1:$health/healthz" || cp_die "kube-proxy did not start"
}

# start_node: after node_lock and the control plane (its certificates in $CP_DIR).
start_node() {
  local t0=$SECONDS pause
  mkdir -p "$CP_DIR/node"
  echo "$NODE_BIN" >"$CP_DIR/node-bin-dir"
  node_certs
  node_pod_network
  cp_log "starting containerd"
  start_containerd
  read -r pause _ < <("$HERE/images/build.sh" pause)
  node_import "$pause"
  cp_log "starting kube-scheduler and the kubelet (node $NODE_NAME)"
  start_scheduler
  start_kubelet
  cp_log "starting kube-proxy"
  start_kube_proxy
  cp_log "node $NODE_NAME ready in $((SECONDS - t0))s"
}

# ---- teardown (down.sh) ----

# Kills every process in the node's cgroups (containers and, with them, their
# shims' children), then the shims of this containerd, found by its socket path.
node_kill_workloads() {
  local f pid cmd
  for f in /sys/fs/cgroup/*/"$NODE_CGROUP"; do
    [[ -d $f ]] || continue
    find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  done
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    cmd=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
    [[ $cmd == *containerd-shim-runc-v2*"-address $CP_DIR/node/containerd/containerd.sock"* ]] &&
      kill -KILL "$pid" 2>/dev/null
  done
  return 0
}

# Unmounts everything under the node's folder (volumes, rootfs overlays, shm), deepest first.
node_unmount() {
  local m
  awk -v d="$CP_DIR/node" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# The host paths the kubelet and containerd use whatever their configuration says.
node_cleanup_host() {
  local d l
  for d in /sys/fs/cgroup/*/"$NODE_CGROUP"; do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  # The kubelet links each container's log here; ours point into the folder.
  for l in /var/log/containers/*; do
    [[ -L $l && $(readlink "$l") == "$CP_DIR"/* ]] && rm -f "$l" || true
  done
  rmdir /var/log/containers 2>/dev/null || true
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock
  rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet /var/log/pods 2>/dev/null || true
  # Shim sockets no process listens on any more (ours were just killed).
  local listening
  listening=$(ss -Hxl)
  for l in /run/containerd/s/*; do
    [[ -S $l && $listening != *"$l"* ]] && rm -f "$l" || true
  done
  rmdir /run/containerd/s /run/containerd/fifo /run/containerd 2>/dev/null || true
  node_pod_network_down
  node_kubelet_chains_down
  # kube-proxy's own way of removing every chain and rule it made.
  local proxy
  proxy="$(cat "$CP_DIR/node-bin-dir" 2>/dev/null)/kube-proxy"
  [[ ! -x $proxy ]] || "$proxy" --cleanup >/dev/null 2>&1 || true
  ip link del "$NODE_BRIDGE" 2>/dev/null || true
  rm -rf /var/lib/cni/results/testenv-* 2>/dev/null || true
}

# node_kubelet_chains_down: the chains the kubelet makes in the host's
# iptables and ip6tables whatever its configuration says (its canary, the
# iptables-mode hint and the localnet firewall), with their jumps. Safe to
# remove: one test node per machine (node_lock), and it has stopped.
node_kubelet_chains_down() {
  local cmd table
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in mangle nat filter; do
      "$cmd" -t "$table" -X KUBE-KUBELET-CANARY 2>/dev/null || true
    done
    "$cmd" -t mangle -X KUBE-IPTABLES-HINT 2>/dev/null || true
    while "$cmd" -D INPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
    while "$cmd" -D OUTPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
    "$cmd" -F KUBE-FIREWALL 2>/dev/null || true
    "$cmd" -X KUBE-FIREWALL 2>/dev/null || true
  done
}

# stop_node: the node's processes, containers, mounts and host paths; then the lock.
stop_node() {
  [[ -d $CP_DIR/node ]] || return 0
  stop kubelet "$GRACE"
  stop kube-scheduler "$GRACE"
  stop kube-proxy "$GRACE"
  node_kill_workloads
  stop containerd "$GRACE"
  node_unmount
  node_cleanup_host
  if [[ "$(cat "$NODE_LOCK.owner" 2>/dev/null)" == "$CP_DIR" ]]; then rm -f "$NODE_LOCK.owner"; fi
  stop node-lock 0
}
