#!/usr/bin/env bash
# Set up and run the default test suite (slow tests excluded; run them with: scripts/test.sh -m slow).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh" "tensorflow,dev"
cd "$root"
exec python -m pytest -q -p no:cacheprovider "$@"
