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
  if [[ ",$extras," == *",dev,"* ]]; then
    # TensorFlow's quantization-aware-training tooling, for tests/quantize/test_qat.py. tf-keras declares a
    # dependency on the full "tensorflow" wheel, which would be installed over tensorflow-cpu: install it
    # without dependencies, at the installed TensorFlow's version (what it needs besides is already there).
    tfv="$(python -c 'import importlib.metadata as m; print(".".join(m.version("tensorflow-cpu").split(".")[:2]))')"
    python -m pip install -q --no-deps "tf-keras==$tfv.*" "tensorflow-model-optimization==0.8.*" "mock>=5" "dm-tree>=0.1.8" "attrs>=18.2"
  fi
  touch "$stamp"
fi
