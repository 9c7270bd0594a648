#!/usr/bin/env bash
# Create a local STAND-IN for the python:3.12-slim base image, for machines that cannot pull
# from a registry: a minimal Debian bookworm root (debootstrap, from this machine's Debian
# mirror) with pyenv's CPython 3.12 copied into /usr/local, imported into podman.
#
# It is not the official image: another Debian release and CPython build, made on this
# machine, with no upstream provenance. Use it to build and test here, never to publish.
#
# Prints nothing but progress on stderr and the image name on stdout. The image is cached:
# it is named after the Python version, so a second run returns at once.
set -euo pipefail

engine=${CONTAINER_ENGINE:-podman}
say() { echo "make_standin_base.sh: $*" >&2; }

python=${STANDIN_PYTHON:-}
if [[ -z $python ]]; then
  root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for candidate in "$root"/versions/3.12*/bin/python3.12; do
    [[ -x $candidate ]] && python=$candidate
  done
fi
[[ -n $python && -x $python ]] || {
  say "no CPython 3.12 to copy (looked for pyenv's versions/3.12*; set STANDIN_PYTHON)"
  exit 1
}
prefix=$(cd "$(dirname "$python")/.." && pwd)
version=$("$python" -c 'import platform; print(platform.python_version())')
image="localhost/sbs-python-standin:${version}-bookworm"

if "$engine" image exists "$image" 2>/dev/null; then
  say "using the cached stand-in base $image"
  echo "$image"
  exit 0
fi

# The machine's own Debian mirror (deb822 or one-line sources), so no other network is needed.
mirror=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  grep -oE 'https?://[^ ]+' | head -n 1 || true)
mirror=${STANDIN_MIRROR:-${mirror:-http://deb.debian.org/debian}}
command -v debootstrap >/dev/null 2>&1 || { say "debootstrap is missing: run scripts/install_podman.sh"; exit 1; }

work=$(mktemp -d /tmp/sbs-standin.XXXXXX)
trap 'rm -rf "$work"' EXIT
say "building a STAND-IN for python:3.12-slim (Debian bookworm minbase from $mirror + CPython $version from $prefix); about a minute ..."
# The shared libraries CPython's extension modules link to, as the official slim image has them.
libraries=ca-certificates,netbase,tzdata,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g
libraries+=,libreadline8,libncursesw6,libuuid1,libexpat1,libnsl2,libtirpc3
debootstrap --variant=minbase --include="$libraries" bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 20 "$work/debootstrap.log" >&2
  say "debootstrap failed"
  exit 1
}

say "copying CPython $version into /usr/local ..."
cp -a "$prefix/." "$work/root/usr/local/"
# What the official slim image also leaves out: test suites, bytecode, static libraries,
# and the package indexes and downloads of the build.
find "$work/root/usr/local" -depth \
  \( \( -type d -a \( -name test -o -name tests -o -name idle_test -o -name __pycache__ \) \) \
  -o \( -type f -a \( -name '*.pyc' -o -name '*.pyo' -o -name 'libpython*.a' \) \) \) \
  -exec rm -rf '{}' +
# Only pip in site-packages, as upstream: whatever this machine added to its Python
# (packages, .pth hooks) stays out.
find "$work/root/usr/local/lib/python3.12/site-packages" -mindepth 1 -maxdepth 1 \
  ! -name 'pip' ! -name 'pip-*.dist-info' ! -name README.txt -exec rm -rf '{}' +
# No Tk here (as in the official slim image), so no _tkinter that could not load.
rm -rf "$work/root/usr/local/lib/python3.12/lib-dynload/_tkinter"* "$work/root/usr/local/lib/tk"* \
  "$work/root/usr/local/lib/tcl"* "$work/root/usr/local/lib/itcl"* "$work/root/usr/local/lib/thread"*
rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/"* "$work/root/var/log/"*
for name in python pip; do ln -sf "${name}3" "$work/root/usr/local/bin/$name"; done
chroot "$work/root" /sbin/ldconfig

say "importing it as $image ..."
tar -C "$work/root" -c . | "$engine" import --quiet \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "STAND-IN for python:3.12-slim, made by scripts/make_standin_base.sh" \
  - "$image" >/dev/null
say "stand-in base ready: $image"
echo "$image"
