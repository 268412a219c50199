#!/usr/bin/env bash
# The checks that need a CUDA device, in one run (the device lease is short): the GPU-marked tests,
# the bad-input tests with training on the GPU (bf16), and a kill -9 + --resume of a `small` run on
# freshly generated data. Logs go to ${OUT:-gpu-out}/. On the offline GPU machine run it as
#   source .gpu/preamble.sh && bash scripts/gpu_checks.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
W=$(mktemp -d)
step() { echo "== $(date +%T) $*"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

if [ -z "${SKIP_GSPLAT:-}" ]; then
  step "1/3 pytest -m gpu (gsplat builds on first use)"
  timeout 400 python3 -m pytest -q -m gpu tests/ -p no:cacheprovider 2>&1 | tail -15 | tee "$OUT/pytest-gpu.txt"
fi

step "2/3 bad-input and model tests with training on CUDA"
timeout 300 python3 -m pytest -q tests/test_bad_input.py tests/test_models.py -p no:cacheprovider 2>&1 | tail -8 \
  | tee "$OUT/pytest-bad-input.txt"

step "3/3 small preset: generate, train, kill -9 mid-run, --resume"
python3 -m lrmzero.cli generate --out "$W/data" --num-objects 64 --seed 0 --workers 14 --quiet \
  --config demo render.views=8 render.resolution=128 2>&1 | tail -1
ARGS=(--data "$W/data" --out "$W/run" --preset small --max-steps 60 --quiet trainer.checkpoint_every=20
      trainer.log_every=1 data.num_workers=4)
setsid python3 -m lrmzero.cli train "${ARGS[@]}" > "$OUT/train-first.txt" 2>&1 &
PID=$!
for _ in $(seq 1 300); do
  [ -f "$W/run/checkpoints/last.ckpt" ] && [ "$(wc -l < "$W/run/logs/metrics.csv" 2>/dev/null || echo 0)" -gt 30 ] && break
  sleep 0.5
done
kill -9 -- -$PID 2>/dev/null; wait $PID 2>/dev/null
echo "killed after $(($(wc -l < "$W/run/logs/metrics.csv") - 1)) logged steps"
t0=$(date +%s.%N)
python3 -m lrmzero.cli train "${ARGS[@]}" --resume 2>&1 | tail -3 | tee "$OUT/train-resume.txt"
echo "resume ran $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"
python3 - "$W/run" <<'EOF' | tee "$OUT/train-check.txt"
import csv, sys, torch
run = sys.argv[1]
ck = torch.load(f"{run}/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
steps = [int(r["step"]) for r in csv.DictReader(open(f"{run}/logs/metrics.csv"))]
print("global_step", ck["global_step"], "| metrics rows", len(steps), "| steps == 0..59:", steps == list(range(60)))
print("checkpoint files", sorted(__import__("os").listdir(f"{run}/checkpoints")))
EOF
step "triplane_lrm at OpenLRM's base size: a short run (64 px, batch 2)"
python3 -m lrmzero.cli train --data "$W/data" --out "$W/tri" --preset small --max-steps 20 --quiet \
  model.name=triplane_lrm model.preset=base data.resolution=64 data.batch_size=2 trainer.log_every=1 2>&1 | tail -2
python3 -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]+'/logs/metrics.csv'))); print('triplane base: steps', len(r), '| first/last loss', r[0]['loss'], r[-1]['loss'])" "$W/tri" | tee "$OUT/triplane-base.txt"
rm -rf "$W"
step "done"
