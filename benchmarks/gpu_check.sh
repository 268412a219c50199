#!/usr/bin/env bash
# The project's one GPU check (under 8 minutes on a fresh H100, gsplat's build included; every part is
# cut at a deadline, GPU_CHECK_SECONDS, default 470), printing one summary at the end:
#   1. every `gpu` test (torch vs gsplat parity: colour, alpha, depth, gradients)
#   2. throughput of the `paper` step (bf16, gsplat, no checkpointing): steps/s, MFU, where the time
#      goes, peak memory; eager and compiled (block by block), with the initial Gaussians (0.1 wide) and
#      pixel-sized ones, with a kernel profile
#   3. a two-minute `small` run on freshly generated data (compiled), killed with -9 and resumed
#   4. the best step measured so far (compiled, pixel-sized Gaussians, and with FlashAttention-4 where it
#      came along, a bf16 residual stream) for 20 steps, with a kernel profile
#   5. the paper preset through `lrmzero train` itself on freshly generated 256 px data (the best step's
#      settings, compiled): the steps/s and MFU the trainer logs (Lightning's loop, the loader, the guards
#      and logging included), against the benchmark's step
#   6. the host's share of lrmzero train's step (benchmarks/train_host.py on part 5's data: logging, the loop
#      between steps, garbage collections, where a step waits for the GPU); levers side by side on top of the
#      best step, as far as the deadline allows: the host's gradient guard (optim.guard_on_device=false), with
#      the perceptual loss
#      (the paper preset's step after loss.perceptual_start), the tile size chosen on every render (a wait
#      for the device each time), the network compiled as one graph, gsplat tile sizes, rendering depth
#      too; then attention kernels side by side, the torch rasterizer's first step and peak memory at
#      batch 1, the triplane backbone (base size, batch 1), and, if time is left, one generation worker's
#      seconds per object with gl on the GPU's driver
# GPU_CHECK_PARTS picks parts and their order (default 123456; e.g. 1456: the tests, which build gsplat, the
# best step, the trainer's own figure, then the levers with the time left).
# Prepare here with PACKAGES="omegaconf trimesh manifold3d moderngl glcontext embreex gsplat plyfile webdataset
# braceexpand" bash ../shared/gpu/prepare.sh (lrmzero needs plyfile; the tests import webdataset), then on
# the offline GPU machine: source .gpu/preamble.sh && OUT=$OUT bash benchmarks/gpu_check.sh
# With FlashAttention-4 (model.attention=fa4): also bash benchmarks/gpu_fa4_prepare.sh here, and a first,
# short device call that unpacks its compiler libraries into .fa4-site (that script's header says how).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
W=$(mktemp -d)
# Three files come back: the summary, every part's full output (log.txt) and the kernel profile (a
# device tool may return only a few files from $OUT).
SUMMARY="$OUT/summary.txt" LOG="$OUT/log.txt" PART="$W/part.txt"
: > "$SUMMARY"; : > "$LOG"
# Every part gets at most its own limit and never past the deadline, so the summary always comes back.
DEADLINE=$(( $(date +%s) + ${GPU_CHECK_SECONDS:-470} ))
limit() { local left=$(( DEADLINE - $(date +%s) )); (( left < $1 )) && echo $(( left > 1 ? left : 1 )) || echo "$1"; }
step() { echo "== $(date +%T) $*" | tee -a "$LOG"; }
keep() { cat "$PART" >> "$LOG"; }
note() { echo "$*" | tee -a "$SUMMARY"; }
PARTS=${GPU_CHECK_PARTS:-123456}

note "device: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader) | $(python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)')"

# FlashAttention-4 where benchmarks/gpu_fa4_prepare.sh's wheels (.fa4) came along and an earlier call on
# this machine unpacked its compiler libraries (.fa4-site); the .pth that puts the DSL on sys.path is
# not read from PYTHONPATH, hence the explicit entry
FA4=""
if [ -d .fa4 ] && [ -d .fa4-site/nvidia_cutlass_dsl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .fa4/*.whl >> "$LOG" 2>&1 \
    && cp -a .fa4-site/. /tmp/site/ && export PYTHONPATH=$PYTHONPATH:/tmp/site/nvidia_cutlass_dsl/dsl_packages
  FA4=$(python3 -c 'import flash_attn.cute; print("importable")' 2>&1 | tail -1)
  note "FlashAttention-4: $FA4"
else
  note "FlashAttention-4: not brought along (.fa4: $([ -d .fa4 ] && echo yes || echo no)," \
       ".fa4-site: $([ -d .fa4-site ] && echo yes || echo no))"
fi

part_1() {
step "1/6 gpu tests (gsplat builds on first use; FlashAttention-4 compiles its kernels on first use)"
timeout $(limit 300) python3 -m pytest -q -m gpu tests/ -p no:cacheprovider 2>&1 | tee "$PART" | tail -15
keep; note "gpu tests: $(tail -1 "$PART")"
}

bench() {  # bench NAME SECONDS ARGS...: one benchmarks/train.py run, its figures into the summary
  local name=$1 seconds=$2; shift 2
  echo "-- bench $name" >> "$LOG"
  timeout $(limit "$seconds") python3 benchmarks/train.py --preset paper "$@" 2>&1 | tee "$PART" | tail -4
  # the benchmark's own lines, and an exception's last line (not inductor's logged, recovered ones)
  local lines='^(first step|steps/s|transformer TFLOP|per step|device time per step)|^[A-Za-z_.]+(Error|Exception): '
  local figures; figures=$(grep -hE "$lines" "$PART" | tr '\n' ' ')
  keep; note "paper, $name: ${figures:-none (cut at the deadline, or failed: see log.txt)}"
}
part_2() {
step "2/6 throughput of the paper step (bf16, gsplat, batch 8, 256 px, 4 in / 8 target views)"
bench eager 60 --steps 10
bench compiled 90 --steps 10 --compile
# Gaussians about a pixel wide (exp(-5) = 0.0067 at ~2 units: ~0.8 px) instead of the initial 0.1
bench compiled-pixel-gaussians 60 --steps 10 --compile --profile "$OUT/profile.txt" model.scale_bias=5
}

part_3() {
step "3/6 small preset: generate, train two minutes, kill -9, --resume"
timeout $(limit 60) python3 -m lrmzero.cli generate --out "$W/data" --num-objects 64 --seed 0 --workers 14 --quiet \
  --config demo render.views=8 render.resolution=128 2>&1 | tail -1 | tee -a "$LOG"
# compiled (trainer.compile=true): the trainer's compile path runs with inductor here, as the CPU test cannot afford
ARGS=(--data "$W/data" --out "$W/run" --preset small --max-steps 600 --quiet trainer.checkpoint_every=200
      trainer.log_every=10 data.num_workers=6 data.val_objects=4 trainer.val_every=300 trainer.compile=true)
setsid python3 -m lrmzero.cli train "${ARGS[@]}" > "$W/train-first.txt" 2>&1 &
PID=$!
for _ in $(seq 1 $(( 2 * $(limit 90) ))); do
  [ -f "$W/run/checkpoints/last.ckpt" ] && [ "$(wc -l < "$W/run/logs/metrics.csv" 2>/dev/null || echo 0)" -gt 20 ] && break
  sleep 0.5
done
kill -9 -- -$PID 2>/dev/null; wait $PID 2>/dev/null
t0=$(date +%s.%N)
cat "$W/train-first.txt" >> "$LOG"
timeout $(limit 120) python3 -m lrmzero.cli train "${ARGS[@]}" --resume 2>&1 | tail -3 | tee -a "$LOG"
python3 - "$W/run" "$t0" <<'PY' | tee -a "$SUMMARY"
import csv, sys, time, torch
run, t0 = sys.argv[1], float(sys.argv[2])
try:
    ck = torch.load(f"{run}/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    rows = list(csv.DictReader(open(f"{run}/logs/metrics.csv")))
except OSError as exc:
    sys.exit(print(f"small run: FAILED, {exc} (see log.txt)"))
val = [r for r in rows if r.get("val_psnr")]
steps = [int(r["step"]) for r in rows if r.get("loss")]
print(f"small run: global_step {ck['global_step']}, resumed part {time.time() - t0:.0f} s, "
      f"loss {rows[0].get('loss')} -> {[r['loss'] for r in rows if r.get('loss')][-1]}, "
      f"val_psnr {[round(float(r['val_psnr']), 2) for r in val]}, log rows increasing: {steps == sorted(set(steps))}")
PY
rm -rf "$W/data" "$W/run"
}

# the best step measured so far (2026-11-28, H100: 38.8% MFU in benchmarks/train.py, 39.6% as lrmzero train logs
# it over 500 steps): pixel-sized Gaussians, FA4, a bf16 residual stream. inductor's max-autotune was dropped from
# the levers: it kept cuBLAS for every matmul of the step (2026-11-28, H100) after minutes of benchmarking.
BEST=(model.scale_bias=5)
[ "$FA4" = importable ] && BEST+=(model.attention=fa4 model.low_precision_residual=true)

part_4() {
step "4/6 the best step so far, 20 steps, with a kernel profile"
# options first: the key=value overrides are benchmarks/train.py's last arguments
bench "best (${BEST[*]})" 180 --steps 20 --compile --profile "$OUT/profile-best.txt" "${BEST[@]}"
}

part_6() {
step "6/6 levers side by side on the best step so far (what the deadline leaves time for)"
if [ -d "$W/paper-data" ]; then  # part 5's data: the host's share of the trainer's step, garbage collections
  echo "-- the host's share of lrmzero train's step" >> "$LOG"
  timeout $(limit 150) python3 benchmarks/train_host.py --preset paper --data "$W/paper-data" --steps 150 \
    trainer.compile=true data.num_workers=12 "${BEST[@]}" 2>&1 | tee "$PART" | tail -8
  keep; note "paper, host share of lrmzero train's step: $(grep -h 'per step\|garbage' "$PART" | tr '\n' ' ')"
  note "paper, $(sed -n '/^waits for the device/,$p' "$PART" | grep -h '^waits\|^  [0-9]* x' | tr '\n' ';')"
fi
# the gradient guard reading the norm every step (a wait for the GPU), as before optim.guard_on_device
bench best-host-guard 60 --steps 20 --compile "${BEST[@]}" optim.guard_on_device=false
bench best-with-perceptual-loss 90 --steps 10 --compile --perceptual "${BEST[@]}"
bench best-choosing-tiles-every-render 60 --steps 20 --compile "${BEST[@]}" model.rasterizers.gsplat.choose_every=1
bench best-whole-graph 120 --steps 20 --compile --compile-whole "${BEST[@]}"
bench best-tile16 60 --steps 20 --compile "${BEST[@]}" model.rasterizers.gsplat.tile_size=16
bench best-with-depth 60 --steps 10 --compile --with-depth "${BEST[@]}"
if [ "$FA4" = importable ]; then
  bench compiled-pixel-fa4 60 --steps 10 --compile model.scale_bias=5 model.attention=fa4
fi
bench compiled-pixel-bf16-residual 60 --steps 10 --compile model.scale_bias=5 model.low_precision_residual=true
bench compiled-pixel-cudnn 60 --steps 10 --compile model.scale_bias=5 model.attention=cudnn
bench compiled-pixel-flash 60 --steps 10 --compile model.scale_bias=5 model.attention=flash
bench compiled-pixel-efficient 60 --steps 10 --compile model.scale_bias=5 model.attention=efficient
bench compiled-tile32 45 --steps 10 --compile model.rasterizers.gsplat.tile_size=32
bench torch-rasterizer-batch1 45 --steps 1 --batch-size 1 model.rasterizer=torch
# the second backbone on CUDA (tested on CPUs only so far): OpenLRM's base size, NeRF volume rendering
bench triplane-base-batch1 60 --steps 4 --batch-size 1 model.name=triplane_lrm model.preset=base

# generation with gl on the NVIDIA driver, one worker (issue 11's < 1 s per object at 256 px, < 2 s at 512 px,
# which llvmpipe cannot reach on 2 CPU cores)
echo "-- generation, one worker" >> "$LOG"
timeout $(limit 60) python3 benchmarks/render.py --objects 6 --renderers gl --resolutions 256 512 2>&1 \
  | tee "$PART" | tail -3
keep; note "generation, gl, one worker: $(grep -h ' s/object' "$PART" | tr -s ' ' | tr '\n' ';' || true)"
}

part_5() {
step "5/6 the paper preset through lrmzero train (generated 256 px data, ${BEST[*]}, compiled)"
timeout $(limit 90) python3 -m lrmzero.cli generate --out "$W/paper-data" --num-objects 96 --seed 1 --workers 14 \
  --quiet --config demo render.views=12 render.resolution=256 2>&1 | tail -1 | tee -a "$LOG"
# as many steps as ~2.5 minutes allow (~400 after compiling; timeout's SIGTERM: the trainer stops after a
# whole step and saves it)
timeout $(limit 160) python3 -m lrmzero.cli train --data "$W/paper-data" --out "$W/paper-run" --preset paper \
  --max-steps 5000 --quiet trainer.compile=true trainer.log_every=10 trainer.checkpoint_every=100000 \
  data.num_workers=12 "${BEST[@]}" > "$PART" 2>&1
keep
python3 - "$W/paper-run/logs/metrics.csv" <<'PY' | tee -a "$SUMMARY"
import csv, sys
try:
    rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("steps_per_s")]
except OSError as exc:
    sys.exit(print(f"paper preset through lrmzero train: FAILED, {exc} (see log.txt)"))
warm = [r for r in rows if int(r["step"]) >= 40]  # compiled and warm: the 10-step windows from step 40 on
rates = [float(r["steps_per_s"]) for r in warm]
if not rates:
    sys.exit(print("paper preset through lrmzero train: FAILED, no 10-step window from step 40 on (see log.txt)"))
steps_per_s = len(rates) / sum(1 / x for x in rates)  # all the windows' steps over all their time
mfu_per_rate = float(warm[0]["mfu"]) / rates[0] if warm[0].get("mfu") else float("nan")
objects_per_step = float(warm[0]["objects_per_s"]) / rates[0]
print(f"paper preset through lrmzero train: steps {warm[0]['step']}-{warm[-1]['step']}, steps/s {steps_per_s:.3f} "
      f"(windows {min(rates):.3f}-{max(rates):.3f}), objects/s {steps_per_s * objects_per_step:.1f}, "
      f"MFU {100 * steps_per_s * mfu_per_rate:.1f}% (as logged: the card's dense peak; windows "
      f"{100 * min(rates) * mfu_per_rate:.1f}-{100 * max(rates) * mfu_per_rate:.1f}%)")
PY
}

for (( i = 0; i < ${#PARTS}; i++ )); do
  p=${PARTS:i:1}
  if [[ $p != [1-6] ]]; then note "GPU_CHECK_PARTS: no part '$p' (allowed: digits 1 to 6)"; continue; fi
  if (( $(limit 2) < 2 )); then note "part $p: not run, the deadline has passed"; continue; fi
  "part_$p"
done

rm -rf "$W"
step "done"
echo "==== summary"
cat "$SUMMARY"
