#!/usr/bin/env bash
# The main job on the small embedded default, end to end on a CPU: installs what it needs, generates
# and renders Zeroverse-style objects, trains the tiny GS-LRM for a few minutes, evaluates it on
# held-out objects, reconstructs one of them, and writes pictures of all of it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${1:-demo-out}
STEPS=${DEMO_STEPS:-300}
source scripts/setup-env.sh ""   # an explicit (empty) extras argument: the script's own $1 is the output folder
echo "== 1/5 generate: 64 training objects and 16 held-out objects (demo config: 8 views, 128 px)"
lrmzero generate --out "$OUT/train" --num-objects 64 --seed 0 --config demo --workers 2
lrmzero generate --out "$OUT/heldout" --num-objects 16 --seed 1 --config demo --workers 2
lrmzero gallery "$OUT/train" --out "$OUT/gallery"
echo "== 2/5 train the tiny GS-LRM for $STEPS steps on the CPU"
# --auto-resume: a second demo run (or one after Ctrl-C, which saves the step it was in) continues the first
lrmzero train --data "$OUT/train" --out "$OUT/run" --preset tiny --max-steps "$STEPS" --auto-resume
echo "== 3/5 evaluate on the 16 held-out objects (4 input views, the other 4 as targets)"
lrmzero eval --checkpoint "$OUT/run/checkpoints/last.ckpt" --data "$OUT/heldout" --json "$OUT/eval.json" \
  --report "$OUT/report"
echo "== 4/5 reconstruct a held-out object"
OBJ="$OUT/heldout/00000000"
lrmzero reconstruct --checkpoint "$OUT/run/checkpoints/last.ckpt" --images "$OBJ" \
  --cameras "$OBJ/opencv_cameras.json" --out "$OUT/reconstruction"
echo "== 5/5 pictures"
echo "dataset contact sheet : $OUT/gallery/gallery.png (and $OUT/gallery/index.html)"
echo "training targets/preds: $OUT/run/images/"
echo "reconstruction        : $OUT/reconstruction/turntable.png, turntable.gif, gaussians.ply"
echo "numbers               : $OUT/eval.json, per view: $OUT/report/per_view.csv"
echo "THE PICTURE           : $OUT/report/summary.png (held-out inputs | truth | prediction | error, with the numbers)"
echo "look around in 3D     : source .venv/bin/activate && pip install -e '.[view]' && lrmzero view $OUT/reconstruction"
