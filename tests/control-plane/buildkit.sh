#!/usr/bin/env bash
#! BuildKit for the tests: a rootful buildkitd (OCI worker on Debian's runc)
#! and a local registry standing in for Docker Hub, all state in one folder.
#!
#! buildkit.sh up DIR OWNER_PID UV_BINARY
#!     Builds or reuses the binaries (build-buildkit.sh) and the images the
#!     README's Dockerfiles pull (images/build.sh python-slim,
#!     dockerfile-frontend and uv), starts the registry on 127.0.0.1 and
#!     copies them in as docker.io's library/python:3.12-slim and
#!     docker/dockerfile:1 and ghcr.io's astral-sh/uv:<UV_BINARY's version>,
#!     starts buildkitd with that registry as the mirror of docker.io and
#!     ghcr.io, and a watchdog that runs `down DIR` once OWNER_PID has exited.
#!     Prints `BIN_DIR BUILDKIT_HOST` on stdout (last line).
#! buildkit.sh down DIR
#!     Stops buildkitd and the registry, kills what is left in the build
#!     containers' cgroups, unmounts what buildkitd mounted under DIR and
#!     removes DIR.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

MARKER=.codeartifact-buildkit
START_TIMEOUT=60
GRACE=5
# The images the README's Dockerfile names, as a Docker Hub mirror serves them.
PYTHON_REPO=library/python:3.12-slim
FRONTEND_REPO=docker/dockerfile:1

bk_log() { printf '[buildkit] %s\n' "$*" >&2; }
bk_die() { bk_log "ERROR: $*"; exit 1; }

registry_ready() { curl -fsS --max-time 2 "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null; }

start_registry() {
  local attempt
  for ((attempt = 1; attempt <= 5; attempt++)); do
    REGISTRY_PORT=$(cp_free_port)
    cat >"$CP_DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $CP_DIR/registry
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
    cp_spawn registry "$CP_DIR/registry.log" "$BIN/registry" serve "$CP_DIR/registry.yml"
    if cp_wait registry "$CP_PID" "$CP_DIR/registry.log" "$START_TIMEOUT" registry_ready; then return 0; fi
    cp_port_clash "$CP_DIR/registry.log" || bk_die "the registry did not start (log: $CP_DIR/registry.log)"
  done
  bk_die "the registry: no usable port after 5 attempts"
}

# push TAR REPO: copies the OCI archive TAR into the registry as REPO.
push() {
  skopeo copy --quiet --policy "$CP_DIR/policy.json" --dest-tls-verify=false \
    "oci-archive:$1" "docker://127.0.0.1:$REGISTRY_PORT/$2" >&2 || bk_die "skopeo could not copy $1 to the registry as $2"
}

push_images() {
  local tar
  # skopeo refuses to run without a signature policy; these images are our own builds.
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$CP_DIR/policy.json"
  read -r tar _ < <("$HERE/images/build.sh" python-slim) || bk_die "images/build.sh python-slim failed"
  push "$tar" "$PYTHON_REPO"
  read -r tar _ < <("$HERE/images/build.sh" dockerfile-frontend "$BIN/dockerfile-frontend") ||
    bk_die "images/build.sh dockerfile-frontend failed"
  push "$tar" "$FRONTEND_REPO"
  read -r tar _ < <("$HERE/images/build.sh" uv "$UV") || bk_die "images/build.sh uv failed"
  push "$tar" "astral-sh/uv:$("$UV" --version | awk '{ print $2 }')"
}

buildkitd_ready() { [[ -n $("$BIN/buildctl" --addr "$BUILDKIT_HOST" debug workers 2>/dev/null) ]]; }

start_buildkitd() {
  # A cgroup parent of our own in every v1 hierarchy, so teardown finds the
  # build containers' processes and cgroups (runc removes them on a clean exit).
  echo "codeartifact-buildkit-$$" >"$CP_DIR/cgroup"
  # The registry is the only mirror of docker.io and ghcr.io (plain HTTP on
  # the loopback): FROM python:3.12-slim, `# syntax=docker/dockerfile:1` and
  # COPY --from=ghcr.io/astral-sh/uv resolve to it as they would to those
  # registries. OTEL's socket defaults to /run/buildkit.
  cat >"$CP_DIR/buildkitd.toml" <<EOF
root = "$CP_DIR/root"
[grpc]
  address = ["$BUILDKIT_HOST"]
[otel]
  socketPath = "$CP_DIR/otel-grpc.sock"
[worker.oci]
  enabled = true
  binary = "/usr/sbin/runc"
  defaultCgroupParent = "$(cat "$CP_DIR/cgroup")"
  gc = false
[worker.containerd]
  enabled = false
[registry."docker.io"]
  mirrors = ["127.0.0.1:$REGISTRY_PORT"]
[registry."ghcr.io"]
  mirrors = ["127.0.0.1:$REGISTRY_PORT"]
[registry."127.0.0.1:$REGISTRY_PORT"]
  http = true
EOF
  # --oci-worker-net=host: RUN steps share the host's network, so pip reaches
  # the emulator on 127.0.0.1 (Docker's default bridge network would not).
  # No OOM score is set on build containers (buildkitd sets none by default),
  # so runc never writes a negative oom_score_adj, which these VMs refuse
  # without CAP_SYS_RESOURCE; cgroup v1 works with runc's cgroupfs driver.
  cp_spawn buildkitd "$CP_DIR/buildkitd.log" "$BIN/buildkitd" --config "$CP_DIR/buildkitd.toml" \
    --oci-worker-net=host
  cp_wait buildkitd "$CP_PID" "$CP_DIR/buildkitd.log" "$START_TIMEOUT" buildkitd_ready ||
    bk_die "buildkitd did not start (log: $CP_DIR/buildkitd.log)"
}

up() {
  CP_DIR=${1:?usage: buildkit.sh up DIR OWNER_PID UV_BINARY}
  local owner=${2:?usage: buildkit.sh up DIR OWNER_PID UV_BINARY} owner_start t0=$SECONDS
  UV=${3:?usage: buildkit.sh up DIR OWNER_PID UV_BINARY}
  [[ -x $UV ]] || bk_die "uv binary $UV missing (make pytools)"
  (($(id -u) == 0)) || bk_die "buildkitd runs rootful here (runc, mounts, cgroups): run as root"
  [[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/pids ]] ||
    bk_die "expected the cgroup v1 hierarchies of these VMs under /sys/fs/cgroup; see tests/control-plane/README.md"
  BIN=$("$HERE/build-buildkit.sh" | tail -1) || bk_die "build-buildkit.sh failed"
  mkdir -p "$CP_DIR"
  CP_DIR=$(cd "$CP_DIR" && pwd)
  [[ -z "$(ls -A "$CP_DIR")" ]] || bk_die "$CP_DIR is not empty"
  touch "$CP_DIR/$MARKER"
  owner_start=$(cp_start_time "$owner") || bk_die "owner pid $owner does not exist"
  cp_spawn watchdog "$CP_DIR/watchdog.log" "$0" --watch "$owner" "$owner_start" "$CP_DIR"
  trap 'bk_log "start-up failed; tearing down"; "$0" down "$CP_DIR" || true' EXIT
  BUILDKIT_HOST="unix://$CP_DIR/buildkitd.sock"
  start_registry
  push_images
  local t1=$SECONDS
  start_buildkitd
  trap - EXIT
  bk_log "registry on 127.0.0.1:$REGISTRY_PORT, buildkitd ready in $((SECONDS - t1))s ($((SECONDS - t0))s in all)"
  echo "$BIN $BUILDKIT_HOST"
}

down() {
  CP_DIR=${1:?usage: buildkit.sh down DIR}
  [[ -d $CP_DIR ]] || { bk_log "nothing to stop: $CP_DIR does not exist"; return 0; }
  [[ -f $CP_DIR/$MARKER ]] || bk_die "$CP_DIR is not a buildkit.sh folder; not touching it"
  stop watchdog "$GRACE"
  stop buildkitd "$GRACE"
  stop registry "$GRACE"
  local cg d m
  cg=$(cat "$CP_DIR/cgroup" 2>/dev/null || true)
  if [[ -n $cg ]]; then
    for d in /sys/fs/cgroup/*/"$cg"; do
      [[ -d $d ]] || continue
      # shellcheck disable=SC2038 # the files hold PIDs, one a line
      find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
  fi
  # Snapshots and secret mounts left by a killed buildkitd, deepest first.
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$CP_DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
  rm -rf "$CP_DIR"
  bk_log "stopped and removed $CP_DIR"
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) shift; down "$@" ;;
  --watch) shift; cp_watch "$@" down ;;
  *) sed -n 's/^#! \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
