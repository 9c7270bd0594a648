#!/usr/bin/env bash
# Install and configure podman so `make image` and the image tests can build and run the
# image on a Debian/Ubuntu machine without a Docker engine. Idempotent: what is already
# there is left alone. `--check` only reports whether anything is missing (exit 1 if so);
# `--list` prints its packages (scripts/install_test_packages.sh installs them with the rest).
set -euo pipefail

# catatonit: the pause process of the pods `podman kube play` creates (tests/image).
packages=(podman runc slirp4netns debootstrap catatonit)
conf=/etc/containers/containers.conf
# Why each setting: no CAP_SYS_RESOURCE on these machines (podman's default ulimits fail),
# crun refuses hybrid cgroups, and without systemd only cgroupfs and a file event log work.
marker="# sbs-platform: podman settings for machines without systemd"

missing_packages() {
  local package
  for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      echo "$package"
  done
}

# A machine booted with systemd (a GitHub runner, a laptop) runs podman as packaged.
configured() {
  [[ -d /run/systemd/system ]] || { [[ -f $conf ]] && grep -qF "$marker" "$conf"; }
}

if [[ ${1:-} == "--list" ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

mapfile -t missing < <(missing_packages)
if [[ ${1:-} == "--check" ]]; then
  status=0
  ((${#missing[@]} == 0)) || { echo "missing packages: ${missing[*]}"; status=1; }
  configured || { echo "$conf lacks the sbs-platform settings"; status=1; }
  exit "$status"
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "install_podman.sh: run as root (or install sudo) to install ${missing[*]:-podman settings}" >&2
    exit 1
  }
  sudo=(sudo)
fi

if ((${#missing[@]} > 0)); then
  command -v apt-get >/dev/null 2>&1 || {
    echo "install_podman.sh: no apt-get here; install ${missing[*]} with this system's package manager" >&2
    exit 1
  }
  echo "Installing ${missing[*]} (Debian packages, about 20 s) ..."
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "podman and its helpers are installed."
fi

if configured; then
  echo "$conf already has the sbs-platform settings."
elif [[ -f $conf ]] && grep -qE '^\s*\[(containers|engine)\]' "$conf"; then
  echo "install_podman.sh: $conf has its own [containers]/[engine] sections; add these by hand:" >&2
  echo '  [containers] default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]' >&2
  echo '  [engine] runtime = "runc", cgroup_manager = "cgroupfs", events_logger = "file"' >&2
  exit 1
else
  echo "Writing the podman settings to $conf ..."
  "${sudo[@]}" mkdir -p "$(dirname "$conf")"
  "${sudo[@]}" tee -a "$conf" >/dev/null <<CONF
$marker
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi
