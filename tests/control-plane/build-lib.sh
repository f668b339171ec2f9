# shellcheck shell=bash
# The build cache of build.sh, build-node.sh and build-buildkit.sh: one folder
# per key outside the clone, one build per key at a time, a STAMP written last
# so that only complete entries are reused; the version stamps of Kubernetes
# binaries; and the Debian packages a build needs on the host.
# Sourced after the caller defines log(), never run.

# cache_open KEY SCRIPT: prints the cached bin folder and exits when the entry
# for KEY is complete; otherwise sets $dest, a fresh $work (removed on exit
# unless sealed) and the start time of step().
cache_open() {
  local key=$1 script=$2
  local root=${TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/codeartifact-operator/testenv}
  dest="$root/$key"
  mkdir -p "$root"
  # One build per key at a time: two test binaries (or `make test` and a shell)
  # may ask at once, and the loser would otherwise build again and then move its
  # folder *into* the winner's.
  exec 8>"$root/$key.lock"
  flock -n 8 || { log "another $script is building $key; waiting for it"; flock 8; }
  if [[ -f "$dest/STAMP" ]]; then
    log "reusing cached binaries in $dest"
    echo "$dest/bin"
    exit 0
  fi
  if [[ -d "$dest" ]]; then
    log "removing incomplete $dest"
    rm -rf "$dest"
  fi
  work="$root/$key.partial.$$"
  rm -rf "$work"
  mkdir -p "$work/bin"
  trap 'rm -rf "$work"' EXIT
  start=$(date +%s)
}

step() { log "$1 ($(($(date +%s) - start))s elapsed)"; }

# k8s_ldflags: linker flags that stamp a Kubernetes binary with $K8S_VERSION,
# as the release build does (version checks and skew rules read them).
k8s_ldflags() {
  local minor=${K8S_VERSION#v1.} p ldf="-s -w"
  minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldf="$ldf -X $p.gitTreeState=clean -X $p.buildDate=2026-01-01T00:00:00Z"
  done
  echo "$ldf"
}

# reports VERSION CMD...: whether CMD's output (stdout and stderr) names
# VERSION. The output is captured first: `CMD | grep -q` under pipefail fails
# at random, when grep exits at its first match while CMD still writes (SIGPIPE;
# etcd --version lost that race 32 times in 200).
reports() {
  local want=$1 out
  shift
  out=$("$@" 2>&1) || return 1
  [[ $out == *"$want"* ]]
}

# cache_seal KEY: writes the STAMP, moves $work into place and prints the bin folder.
cache_seal() {
  {
    echo "key=$1"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$(($(date +%s) - start))"
    (cd "$work/bin" && sha256sum ./*)
  } >"$work/STAMP"
  mv "$work" "$dest"
  trap - EXIT
  step "done: $dest/bin"
  echo "$dest/bin"
}

# host_packages WHO PKG...: installs the Debian packages PKG that are missing
# (apt-get, idempotent; one `apt-get update` when the lists are stale or
# missing on a new machine). Fails loudly without apt-get or root.
host_packages() {
  local who=$1 missing=() p
  shift
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || { log "ERROR: $who needs the Debian packages ${missing[*]} and this machine has no apt-get"; exit 1; }
  (($(id -u) == 0)) || { log "ERROR: $who needs the Debian packages ${missing[*]}; install them as root (apt-get install ${missing[*]})"; exit 1; }
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; } ||
    { log "ERROR: apt-get install ${missing[*]} failed"; exit 1; }
}
