#!/usr/bin/env bash
# The main job on the small embedded default: installs what it needs, generates and renders a few
# objects, and writes a contact sheet of them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup-env.sh
OUT=${1:-demo-out}
lrmzero generate --out "$OUT/dataset" --num-objects 8 --seed 0 --config demo --workers 2
lrmzero gallery "$OUT/dataset" --out "$OUT/gallery"
echo "dataset: $OUT/dataset   picture: $OUT/gallery/gallery.png   page: $OUT/gallery/index.html"
