#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install liteconvert with the given extras.
# Usage: source scripts/setup.sh [extras]   (default extras: tensorflow)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-tensorflow}"
py="${PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
  "$py" -m venv "$root/.venv"
fi
# shellcheck disable=SC1091
. "$root/.venv/bin/activate"
stamp="$root/.venv/.liteconvert-$extras-$(cat "$root/pyproject.toml" | cksum | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
  python -m pip install -q --upgrade pip >/dev/null
  python -m pip install -q -e "$root[$extras]"
  touch "$stamp"
fi
