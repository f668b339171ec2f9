# shellcheck shell=bash
# Shell functions shared by up.sh, down.sh and buildkit.sh: logging, free-port
# picking, detached process start-up, bounded readiness waits, PID bookkeeping,
# stopping recorded processes and the watchdog's loop.
# Sourced, never run.

# The marker file that says "this folder belongs to a control plane we started";
# down.sh refuses to delete a folder without it.
# shellcheck disable=SC2034 # used by up.sh and down.sh
CP_MARKER=.codeartifact-control-plane

cp_log() { printf '[control-plane] %s\n' "$*" >&2; }
cp_die() { cp_log "ERROR: $*"; exit 1; }

# Prints a TCP port on 127.0.0.1 that nothing listens on right now. Ports come
# from 20000-32767, below Linux's ephemeral range (32768-60999), so outgoing
# connections of other processes cannot grab them between the check and the
# bind; a real race is still possible and is handled by the callers' retries.
cp_free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 12768))
    # Captured, not piped into `grep -q`: under pipefail a SIGPIPE to ss
    # would make a port in use look free.
    if [[ -z $(ss -Htln "sport = :$port" 2>/dev/null) ]]; then
      echo "$port"
      return 0
    fi
  done
  cp_die "no free port found"
}

# cp_spawn NAME LOG CMD... starts CMD in its own session (so a Ctrl-C aimed at
# the test runner does not reach it), with stdio detached (so callers reading
# our stdout through a pipe are not blocked by it), and records NAME PID in
# $CP_DIR/pids. Sets CP_PID.
cp_spawn() {
  local name=$1 log=$2
  shift 2
  # 9>&-: do not inherit up.sh's lock, or the lock would live as long as the daemon.
  setsid "$@" </dev/null >"$log" 2>&1 9>&- &
  CP_PID=$!
  cp_pid_set "$name" "$CP_PID"
}

# cp_pid_set NAME PID records "NAME PID START" in $CP_DIR/pids, replacing
# NAME's earlier line. START (see cp_start_time) lets cp_owns tell our process
# from an unrelated one that got the same PID later, e.g. after a reboot.
cp_pid_set() {
  local tmp="$CP_DIR/pids.tmp.$$"
  { grep -v "^$1 " "$CP_DIR/pids" 2>/dev/null || true; echo "$1 $2 $(cp_start_time "$2")"; } >"$tmp"
  mv "$tmp" "$CP_DIR/pids"
}

cp_pid_del() {
  local tmp="$CP_DIR/pids.tmp.$$"
  { grep -v "^$1 " "$CP_DIR/pids" 2>/dev/null || true; } >"$tmp"
  mv "$tmp" "$CP_DIR/pids"
}

# cp_owns PID START: true if PID runs and is still the process recorded with START.
cp_owns() { [[ -n $2 && "$(cp_start_time "$1")" == "$2" ]] && cp_alive "$1"; }

# cp_wait NAME PID LOG TIMEOUT CHECK... polls CHECK until it succeeds. Returns 1
# if NAME exits first (the caller may retry, e.g. after a port clash) and 2 on
# timeout; both print the tail of NAME's log.
cp_wait() {
  local name=$1 pid=$2 log=$3 timeout=$4
  shift 4
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! cp_alive "$pid"; then
      cp_log "$name (pid $pid) exited before it became ready; last lines of $log:"
      tail -n 30 "$log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      cp_log "$name not ready after ${timeout}s; last lines of $log:"
      tail -n 30 "$log" >&2
      return 2
    fi
    sleep 0.2
  done
}

# True if LOG shows that a listener could not bind its port.
cp_port_clash() { grep -q 'address already in use' "$1"; }

# True if PID runs; a zombie (our own exited child not yet reaped) counts as gone.
cp_alive() {
  local stat
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# cp_stop PID GRACE: SIGTERM, then SIGKILL after GRACE seconds.
cp_stop() {
  local pid=$1 grace=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    cp_alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  while cp_alive "$pid"; do sleep 0.05; done
}

# stop NAME GRACE: stops NAME if it is still the process recorded for it in
# $CP_DIR/pids (SIGKILL at once when GRACE is 0). Never the calling script or
# its parent (up.sh calls down.sh when its start-up fails).
stop() {
  local pid start
  read -r pid start < <(awk -v n="$1" '$1 == n { print $2, $3 }' "$CP_DIR/pids" 2>/dev/null) || return 0
  [[ $pid != "$$" && $pid != "$PPID" ]] || return 0
  cp_owns "$pid" "$start" || return 0
  if (($2 == 0)); then kill -KILL "$pid" 2>/dev/null || true; else cp_stop "$pid" "$2"; fi
}

# cp_watch OWNER OWNER_START DIR TEARDOWN: a watchdog's loop (down.sh --watch,
# buildkit.sh --watch): waits until OWNER, recognised by its start time, has
# exited (also by SIGKILL), then runs `TEARDOWN DIR` unless DIR is gone.
cp_watch() {
  local owner=$1 owner_start=$2 dir=$3 teardown=$4
  # Half a second keeps teardown prompt after a test binary exits, at negligible CPU cost.
  while [[ -d $dir && "$(cp_start_time "$owner" || true)" == "$owner_start" ]]; do
    sleep 0.5
  done
  [[ ! -d $dir ]] || "$teardown" "$dir"
}

# The start time of PID in clock ticks since boot (field 22 of /proc/PID/stat),
# used with the PID to recognise a process even if its PID is later reused.
cp_start_time() {
  local stat
  # `read`, not `cat`: the watchdog calls this twice a second for hours.
  read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# curl with the admin client certificate of the control plane in $CP_DIR.
cp_curl_admin() {
  curl -fsS --max-time 5 --cacert "$CP_DIR/ca.crt" --cert "$CP_DIR/admin.crt" --key "$CP_DIR/admin.key" "$@"
}
