#!/usr/bin/env bash
#! Builds an image for the test node without a registry or a container engine,
#! as an OCI image-layout tar that `ctr -n k8s.io images import` reads, cached
#! by the content of its inputs.
#!
#! images/build.sh pause
#!     The Pod sandbox: pause.c built static; named as containerd's pinned sandbox image.
#! images/build.sh workload
#!     Debian bookworm (mmdebstrap from Debian packages) with python3, pip and twine.
#! images/build.sh ci UV_BINARY
#!     The README's CI runner image (ghcr.io/astral-sh/uv:python3.12-bookworm-slim)
#!     rebuilt from parts: Debian bookworm with python3 and UV_BINARY (the uv
#!     the tests pin, from its PyPI wheel) in /usr/local/bin, and, like the
#!     python:*-slim images, no EXTERNALLY-MANAGED marker (so `uv pip install
#!     --system` works as it does there).
#! images/build.sh operator BINARY
#!     The runtime contents of the Dockerfile's final stage: BINARY (a release
#!     build of codeartifact-operator) with its C runtime libraries and the CA
#!     certificates from Debian 12 (the release distroless cc-debian12 is built
#!     from), user 65532, the same entrypoint and command.
#! images/build.sh python-slim
#!     The stand-in for python:3.12-slim in the README's container build:
#!     Debian bookworm's python3 (3.11) laid out as in the python:*-slim
#!     images, python and pip in /usr/local/bin and packages in
#!     /usr/local/lib/python3.X/site-packages (a virtual environment at
#!     /usr/local gives exactly that; in it `pip install --prefix` writes
#!     lib/python3.X/site-packages, as there, and no EXTERNALLY-MANAGED marker
#!     applies).
#! images/build.sh dockerfile-frontend BINARY
#!     The Dockerfile frontend image (docker/dockerfile:1) as upstream builds
#!     it: BINARY (dockerfile-frontend from the pinned buildkit module) alone
#!     in /bin, its entrypoint and its frontend labels.
#! images/build.sh uv UV_BINARY
#!     The uv image the README's uv build copies uv from
#!     (ghcr.io/astral-sh/uv:VERSION): UV_BINARY (the uv the tests pin) and the
#!     uvx next to it, alone at /uv and /uvx as in upstream's image.
#!
#! Prints `TAR IMAGE_REF` on stdout; progress goes to stderr.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/codeartifact-operator/testenv}/images
# Keep in step with sandbox in up-node.sh's containerd configuration.
PAUSE_IMAGE=registry.k8s.io/pause:3.10
# The Debian release of distroless's cc-debian12 and of the workload image.
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian
WORKLOAD_PACKAGES=python3,python3-pip,twine
CI_PACKAGES=python3,ca-certificates
PYTHON_SLIM_PACKAGES=python3,python3-venv
# The labels of upstream's frontend image (frontend/dockerfile/cmd/dockerfile-frontend/Dockerfile):
# BuildKit reads what the frontend supports from them.
FRONTEND_CAPS=moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring,moby.buildkit.frontend.contexts.zstd

log() { printf '[images] %s\n' "$*" >&2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
die() { log "ERROR: $*"; exit 1; }

# key BUILDER INPUT...: a short hash of the inputs (file contents or strings),
# the builder function's text and oci_image.py: a change to the recipe makes
# a new image, an edit elsewhere in this script does not.
key() {
  { declare -f "$1"; cat "$HERE/oci_image.py"; shift; printf '%s\n' "$@"; } | sha256sum | cut -c1-12
}

# cached NAME KEY BUILDER...: prints the cached tar for NAME-KEY, building it
# with BUILDER TAR_PATH under a lock when missing.
cached() {
  local name=$1 k=$2
  shift 2
  local tar="$ROOT/$name-$k.tar"
  mkdir -p "$ROOT"
  exec 7>"$ROOT/$name-$k.lock"
  flock 7
  if [[ ! -f $tar ]]; then
    local t0=$SECONDS
    log "building the $name image ($tar)"
    "$@" "$tar.partial"
    mv "$tar.partial" "$tar"
    log "$name image built in $((SECONDS - t0))s"
  fi
  exec 7>&-
  echo "$tar"
}

build_pause() {
  local out=$1 dir
  dir=$(mktemp -d -p "$WORK")
  command -v gcc >/dev/null || die "gcc is needed to build the pause image"
  gcc -static -O2 -s -o "$dir/pause" "$HERE/pause.c" || die "building pause.c failed (needs a static libc: apt-get install libc6-dev)"
  mkdir "$dir/rootfs" && mv "$dir/pause" "$dir/rootfs/pause"
  python3 "$HERE/oci_image.py" "$out" "$PAUSE_IMAGE" --rootfs "$dir/rootfs" \
    --entrypoint '["/pause"]' --user 65535:65535 >/dev/null
}

build_workload() {
  local k=$1 out=$2 dir
  if ! command -v mmdebstrap >/dev/null; then
    (($(id -u) == 0)) || die "the workload image needs mmdebstrap (apt-get install mmdebstrap)"
    log "installing mmdebstrap"
    # A new machine may have no package lists yet: update once and try again.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap >&2 ||
      { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap >&2; } ||
      die "apt-get install mmdebstrap failed"
  fi
  dir=$(mktemp -d -p "$WORK")
  # essential + the listed packages: no apt in the image, nothing else.
  SOURCE_DATE_EPOCH=0 mmdebstrap --quiet --variant=essential --include="$WORKLOAD_PACKAGES" \
    --format=tar "$DEBIAN_SUITE" "$dir/rootfs.tar" "$DEBIAN_MIRROR" >&2 || die "mmdebstrap failed"
  python3 "$HERE/oci_image.py" "$out" "localhost/codeartifact-workload:$k" --layer "$dir/rootfs.tar" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["python3"]' >/dev/null
}

build_ci() {
  local uv=$1 k=$2 out=$3 dir
  dir=$(mktemp -d -p "$WORK")
  command -v mmdebstrap >/dev/null || die "the ci image needs mmdebstrap (images/build.sh workload installs it)"
  SOURCE_DATE_EPOCH=0 mmdebstrap --quiet --variant=essential --include="$CI_PACKAGES" \
    --customize-hook="copy-in $uv /usr/local/bin" \
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
    --format=tar "$DEBIAN_SUITE" "$dir/rootfs.tar" "$DEBIAN_MIRROR" >&2 || die "mmdebstrap failed"
  python3 "$HERE/oci_image.py" "$out" "localhost/codeartifact-ci:$k" --layer "$dir/rootfs.tar" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["sh"]' >/dev/null
}

build_python_slim() {
  local k=$1 out=$2 dir
  dir=$(mktemp -d -p "$WORK")
  command -v mmdebstrap >/dev/null || die "the python-slim image needs mmdebstrap (images/build.sh workload installs it)"
  # shellcheck disable=SC2016 # $1 is mmdebstrap's, expanded in its hook
  SOURCE_DATE_EPOCH=0 mmdebstrap --quiet --variant=essential --include="$PYTHON_SLIM_PACKAGES" \
    --customize-hook='chroot "$1" python3 -m venv /usr/local' \
    --format=tar "$DEBIAN_SUITE" "$dir/rootfs.tar" "$DEBIAN_MIRROR" >&2 || die "mmdebstrap failed"
  python3 "$HERE/oci_image.py" "$out" "localhost/codeartifact-python-slim:$k" --layer "$dir/rootfs.tar" \
    --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 --cmd '["python3"]' >/dev/null
}

build_dockerfile_frontend() {
  local bin=$1 k=$2 out=$3 dir
  dir=$(mktemp -d -p "$WORK")
  install -D -m 0755 "$bin" "$dir/rootfs/bin/dockerfile-frontend"
  python3 "$HERE/oci_image.py" "$out" "localhost/codeartifact-dockerfile-frontend:$k" --rootfs "$dir/rootfs" \
    --entrypoint '["/bin/dockerfile-frontend"]' --label moby.buildkit.frontend.network.none=true \
    --label "moby.buildkit.frontend.caps=$FRONTEND_CAPS" >/dev/null
}

build_uv() {
  local uv=$1 k=$2 out=$3 dir
  dir=$(mktemp -d -p "$WORK")
  install -D -m 0755 "$uv" "$dir/rootfs/uv"
  install -D -m 0755 "$(dirname "$uv")/uvx" "$dir/rootfs/uvx"
  python3 "$HERE/oci_image.py" "$out" "localhost/codeartifact-uv:$k" --rootfs "$dir/rootfs" \
    --entrypoint '["/uv"]' >/dev/null
}

# The files of the Dockerfile's final stage (distroless cc-debian12:nonroot):
# glibc and libgcc from the host's Debian 12 packages (only those the binary
# loads), the CA bundle, passwd/group with nonroot 65532, /tmp, /home/nonroot.
build_operator() {
  local bin=$1 k=$2 out=$3 dir lib
  dir=$(mktemp -d -p "$WORK")
  local r=$dir/rootfs
  install -D -m 0755 "$bin" "$r/usr/local/bin/codeartifact-operator"
  # The release profile strips symbols (strip = true); a debug build's are
  # dropped here too, to keep the image small.
  strip --strip-debug "$r/usr/local/bin/codeartifact-operator"
  for lib in $(ldd "$bin" | awk '/=>/ { print $3 } /^[[:space:]]*\/.*ld-linux/ { print $1 }'); do
    install -D -m 0755 "$(readlink -f "$lib")" "$r$lib"
  done
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$r/etc"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$r/etc/group"
  install -d -m 1777 "$r/tmp"
  install -d -m 0700 -o 65532 -g 65532 "$r/home/nonroot"
  python3 "$HERE/oci_image.py" "$out" "localhost/codeartifact-operator:$k" --rootfs "$r" \
    --user 65532:65532 --entrypoint '["/usr/local/bin/codeartifact-operator"]' --cmd '["run"]' \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt --expose 8080 \
    --label org.opencontainers.image.title=codeartifact-operator >/dev/null
}

case ${1:-} in
  pause)
    k=$(key build_pause "$(cat "$HERE/pause.c")" "$(gcc --version | head -1)")
    echo "$(cached pause "$k" build_pause) $PAUSE_IMAGE"
    ;;
  workload)
    k=$(key build_workload "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$WORKLOAD_PACKAGES")
    echo "$(cached workload "$k" build_workload "$k") localhost/codeartifact-workload:$k"
    ;;
  ci)
    uv=${2:?usage: images/build.sh ci UV_BINARY}
    [[ -x $uv && $(basename "$uv") == uv ]] || die "uv binary $uv missing (make pytools)"
    # The workload recipe installs mmdebstrap when missing.
    command -v mmdebstrap >/dev/null || "$0" workload >/dev/null
    k=$(key build_ci "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$CI_PACKAGES" "$(sha256sum <"$uv")")
    echo "$(cached ci "$k" build_ci "$uv" "$k") localhost/codeartifact-ci:$k"
    ;;
  operator)
    bin=${2:?usage: images/build.sh operator BINARY}
    [[ -x $bin ]] || die "operator binary $bin missing (cargo build --release -p codeartifact-operator)"
    k=$(key build_operator "$(sha256sum <"$bin")" "$(dpkg-query -W libc6 libgcc-s1 ca-certificates)")
    echo "$(cached operator "$k" build_operator "$bin" "$k") localhost/codeartifact-operator:$k"
    ;;
  python-slim)
    command -v mmdebstrap >/dev/null || "$0" workload >/dev/null
    k=$(key build_python_slim "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$PYTHON_SLIM_PACKAGES")
    echo "$(cached python-slim "$k" build_python_slim "$k") localhost/codeartifact-python-slim:$k"
    ;;
  dockerfile-frontend)
    bin=${2:?usage: images/build.sh dockerfile-frontend BINARY}
    [[ -x $bin ]] || die "dockerfile-frontend binary $bin missing (build-buildkit.sh)"
    k=$(key build_dockerfile_frontend "$(sha256sum <"$bin")" "$FRONTEND_CAPS")
    echo "$(cached dockerfile-frontend "$k" build_dockerfile_frontend "$bin" "$k") localhost/codeartifact-dockerfile-frontend:$k"
    ;;
  uv)
    uv=${2:?usage: images/build.sh uv UV_BINARY}
    [[ -x $uv && $(basename "$uv") == uv && -x $(dirname "$uv")/uvx ]] || die "uv binary $uv (with uvx next to it) missing (make pytools)"
    k=$(key build_uv "$(cat "$uv" "$(dirname "$uv")/uvx" | sha256sum)")
    echo "$(cached uv "$k" build_uv "$uv" "$k") localhost/codeartifact-uv:$k"
    ;;
  *) sed -n 's/^#! \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
