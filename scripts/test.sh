#!/usr/bin/env bash
# Set up and run the default test suite (slow tests excluded; run them with: scripts/test.sh -m slow).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh" "tensorflow,dev"
cd "$root"
if [[ " $* " == *" slow"* || " $* " == *"-m slow"* ]] && ! ldconfig -p 2>/dev/null | grep -q libusb-1.0.so.0; then
  # tests/metadata/test_crosscheck.py: tflite-support's native module links Debian's libusb-1.0-0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -q libusb-1.0-0 >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 &&
      apt-get install -y -q libusb-1.0-0 >/dev/null 2>&1; } || echo "note: could not install libusb-1.0-0" >&2
  fi
fi
exec python -m pytest -q -p no:cacheprovider "$@"
