#!/usr/bin/env bash
# Installs the Debian packages a test or benchmark needs, only when a command it names is missing:
#   scripts/ensure-debian-packages.sh <command>=<package> [<command>=<package> ...]
#   e.g. scripts/ensure-debian-packages.sh chromium=chromium mosquitto=mosquitto mosquitto_pub=mosquitto-clients
# Runs apt-get (update once, then install -y) as root, or through sudo when there is one; otherwise it names
# the packages to install by hand and exits 1. Idempotent and quiet when everything is already there.
set -euo pipefail

missing=()
for pair in "$@"; do
  command="${pair%%=*}"
  package="${pair#*=}"
  if [[ -z "$command" || -z "$package" || "$pair" != *=* ]]; then
    echo "ensure-debian-packages: '$pair' is not <command>=<package> (e.g. chromium=chromium)" >&2
    exit 2
  fi
  command -v "$command" >/dev/null 2>&1 || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "ensure-debian-packages: missing ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

# One lock for concurrent callers (parallel Jest workers): the second waits, then finds the packages installed.
exec 9>"${TMPDIR:-/tmp}/ensure-debian-packages.lock"
flock 9
still_missing=()
for pair in "$@"; do
  command -v "${pair%%=*}" >/dev/null 2>&1 || still_missing+=("${pair#*=}")
done
[[ ${#still_missing[@]} -eq 0 ]] && exit 0

echo "ensure-debian-packages: installing ${still_missing[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
if ! { "${run[@]}" apt-get update -qq && "${run[@]}" apt-get install -y -qq --no-install-recommends "${still_missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "ensure-debian-packages: apt-get could not install ${still_missing[*]} (output above)" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
