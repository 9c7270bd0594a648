#!/usr/bin/env bash
# Print the path of a Python 3.12 interpreter: PATH first, then pyenv, then uv.
set -euo pipefail

is_312() {
  "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1
}

for candidate in python3.12 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && is_312 "$candidate"; then
    command -v "$candidate"
    exit 0
  fi
done

if command -v pyenv >/dev/null 2>&1; then
  for candidate in "$(pyenv root)"/versions/3.12*/bin/python3.12; do
    if [[ -x $candidate ]] && is_312 "$candidate"; then
      echo "$candidate"
      exit 0
    fi
  done
fi

if command -v uv >/dev/null 2>&1 && candidate=$(uv python find 3.12 2>/dev/null) && is_312 "$candidate"; then
  echo "$candidate"
  exit 0
fi

echo "Python 3.12 not found: install it (e.g. 'apt-get install python3.12', 'pyenv install 3.12'" \
  "or 'uv python install 3.12') and run make again." >&2
exit 1
