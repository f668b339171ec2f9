#!/usr/bin/env bash
#! Builds the container-build parts for `buildkit.sh up` (the README's
#! BuildKit secret-mount build, tests/e2e_build_secret.rs): buildkitd, buildctl
#! and the Dockerfile frontend (dockerfile-frontend, served as the image
#! docker/dockerfile:1) from the pinned github.com/moby/buildkit module
#! (buildkit/), and the registry binary from Debian's docker-registry package,
#! unpacked, not installed (installing it would start a system-wide registry
#! service). Installs runc and skopeo from Debian (apt-get, idempotent).
#! Caches the binaries like build.sh, keyed by versions and go.sum hash.
#! Prints the bin folder on stdout (last line).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$HERE/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0

log() { printf '[buildkit build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=build-lib.sh
source "$HERE/build-lib.sh"

# runc: the OCI runtime buildkitd's OCI worker runs each RUN step with.
# skopeo: copies the test images (OCI archives) into the local registry.
HOST_PACKAGES=(runc skopeo)
host_packages "BuildKit" "${HOST_PACKAGES[@]}"
[[ -x /usr/sbin/runc ]] || die "/usr/sbin/runc missing after installing runc"
command -v skopeo >/dev/null || die "skopeo missing after installing skopeo"

go_version=$(go env GOVERSION)
sum=$(sha256sum <"$HERE/buildkit/go.sum" | cut -c1-12)
key="buildkit-${BUILDKIT_VERSION}_${go_version}_${sum}"
cache_open "$key" build-buildkit.sh

# The tags of upstream's static release builds (their seccomp tag needs cgo; runc applies the profile anyway).
step "building buildkitd, buildctl, dockerfile-frontend $BUILDKIT_VERSION"
bv="-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION -X main.Version=buildkit-$BUILDKIT_VERSION"
(cd "$HERE/buildkit" && go build -trimpath -tags "osusergo netgo static_build" -ldflags "-s -w $bv" -o "$work/bin/" \
  github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl \
  github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend)

step "unpacking the registry from Debian's docker-registry package"
(
  cd "$work"
  apt-get download docker-registry >&2 || { apt-get update >&2 && apt-get download docker-registry >&2; } ||
    die "apt-get download docker-registry failed"
  dpkg-deb -x docker-registry_*.deb pkg
  install -m 0755 pkg/usr/bin/docker-registry bin/registry
  dpkg-deb -f docker-registry_*.deb Version >registry.version
  rm -rf pkg docker-registry_*.deb
)

step "checking versions"
reports "$BUILDKIT_VERSION" "$work/bin/buildkitd" --version || die "buildkitd version mismatch"
reports "$BUILDKIT_VERSION" "$work/bin/buildctl" --version || die "buildctl version mismatch"
reports "$BUILDKIT_VERSION" "$work/bin/dockerfile-frontend" -version || die "dockerfile-frontend version mismatch"
"$work/bin/registry" --version >&2 || die "the registry binary does not run"

cache_seal "$key"
