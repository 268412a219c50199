#!/usr/bin/env bash
# The main job on the small embedded default: installs what it needs, then generates a few objects.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup-env.sh
OUT=${1:-demo-out}
lrmzero generate --out "$OUT/dataset" --num-objects 8 --seed 0 --config demo --workers 2
echo "dataset: $OUT/dataset"
