#!/usr/bin/env bash
# Set up and run the main job on the built-in example: build a Keras CNN, convert it, verify it in LiteRT.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup.sh" tensorflow
exec liteconvert demo "$@"
