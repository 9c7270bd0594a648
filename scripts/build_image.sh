#!/usr/bin/env bash
# Build the Dockerfile as $SBS_IMAGE (default ghcr.io/sbs-platform/sbs:local) with docker when a
# Docker engine answers, else with podman (installed and configured by install_podman.sh).
#
# The base is the Dockerfile's python:3.12 slim image. When it is neither present nor pullable
# (no registry access) and the engine is podman, the build uses a locally made STAND-IN
# (make_standin_base.sh) and says so: such an image is for this machine's tests, not to publish.
#
# Environment: SBS_IMAGE, CONTAINER_ENGINE (docker|podman), SBS_BASE_IMAGE (use this base as is),
# APP_BUILD (default: the commit). Prints the image name on stdout; progress goes to stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
image=${SBS_IMAGE:-ghcr.io/sbs-platform/sbs:local}
say() { echo "build_image.sh: $*" >&2; }

engine=${CONTAINER_ENGINE:-}
if [[ -z $engine ]]; then
  if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
    engine=docker
  else
    engine=podman
  fi
fi
case $engine in
  docker) ;;
  podman) scripts/install_podman.sh --check >/dev/null 2>&1 || scripts/install_podman.sh >&2 ;;
  *) say "CONTAINER_ENGINE must be docker or podman, not '$engine'"; exit 2 ;;
esac
say "container engine: $engine"

base=${SBS_BASE_IMAGE:-}
standin=false
if [[ -z $base ]]; then
  base=$(sed -nE 's/^ARG PYTHON_IMAGE=(.+)$/\1/p' Dockerfile)
  [[ -n $base ]] || { say "no 'ARG PYTHON_IMAGE=' in the Dockerfile"; exit 1; }
  # A fully qualified name: podman may refuse short names where it cannot prompt.
  first=${base%%/*}
  if [[ $base != */* ]]; then
    base="docker.io/library/$base"
  elif [[ $first != *[.:]* && $first != localhost ]]; then
    base="docker.io/$base"
  fi
  if "$engine" image inspect "$base" >/dev/null 2>&1; then
    say "base image $base is present"
  elif say "pulling the base image $base ..." && timeout 300 "$engine" pull -q "$base" >/dev/null; then
    say "pulled $base"
  elif [[ $engine == podman ]]; then
    say "cannot pull $base (no registry access?): building on a LOCAL STAND-IN for it"
    base=$(scripts/make_standin_base.sh)
    standin=true
  else
    say "cannot pull $base and no stand-in is made for docker; use CONTAINER_ENGINE=podman"
    exit 1
  fi
fi

build_args=(--build-arg "PYTHON_IMAGE=$base"
  --build-arg "APP_BUILD=${APP_BUILD:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}")
extra=()
# The OCI format would drop the HEALTHCHECK.
[[ $engine == docker ]] || extra+=(--format docker)
if [[ $standin == true ]]; then
  # The stand-in reaches the package index through this machine's TLS setup: lend the build
  # the host's CA bundle (a bind mount, not a layer; only the builder stage's pip reads it).
  bundle=/etc/ssl/certs/ca-certificates.crt
  if [[ -f $bundle ]]; then
    extra+=(-v "$bundle:/etc/ssl/host-ca-certificates.crt:ro")
    build_args+=(--build-arg "PIP_CERT=/etc/ssl/host-ca-certificates.crt")
  fi
fi

say "building $image (base $base) ..."
started=$SECONDS
"$engine" build "${extra[@]}" "${build_args[@]}" -t "$image" -f Dockerfile . >&2
size=$("$engine" image inspect --format '{{.Size}}' "$image")
say "built $image in $((SECONDS - started)) s, $((size / 1000000)) MB"
if [[ $standin == true ]]; then
  say "NOTE: this image sits on a STAND-IN base ($base), not on the official python:3.12 slim"
  say "      image: fine for the tests on this machine, never publish it. A machine with"
  say "      registry access builds on the real base (CI does)."
fi
echo "$image"
