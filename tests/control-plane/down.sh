#!/usr/bin/env bash
#! Stops a control plane started by up.sh, by the PIDs recorded in its folder,
#! and removes the folder.
#!
#! down.sh DIR
#!     Stops every process listed in DIR/pids and removes DIR.
#! down.sh --watch OWNER_PID OWNER_START DIR
#!     The watchdog started by `up.sh --owner-pid`: waits until the owner has
#!     exited (also by SIGKILL), then does what `down.sh DIR` does.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=node.sh
source "$HERE/node.sh"

# Seconds a component gets to exit after SIGTERM before SIGKILL. kube-apiserver
# stops listening at once but then holds watch connections open until killed,
# and nothing here holds data worth a longer wait.
GRACE=2

teardown() {
  CP_DIR=$1
  if [[ ! -d $CP_DIR ]]; then
    cp_log "nothing to stop: $CP_DIR does not exist"
    return 0
  fi
  [[ -f $CP_DIR/$CP_MARKER ]] || cp_die "$CP_DIR is not a control-plane folder; not touching it"
  stop watchdog "$GRACE"
  # The launcher is killed outright: it may be half-way through start-up and
  # must not start anything more.
  stop launcher 0
  # The node first: its Pods and the kubelet still talk to kube-apiserver.
  stop_node
  # Reverse start order, so no component spends its last seconds on a missing dependency.
  stop kube-controller-manager "$GRACE"
  stop kube-apiserver "$GRACE"
  stop etcd "$GRACE"
  rm -rf "$CP_DIR"
  cp_log "stopped and removed $CP_DIR"
}

case ${1:-} in
  --watch) shift; cp_watch "$@" teardown ;;
  '' | -h | --help) sed -n 's/^#! \{0,1\}//p' "$0" | sed -n '2,10p' >&2; exit 2 ;;
  *) teardown "$1" ;;
esac
