#!/usr/bin/env bash
# Run once on a connected machine, from the project root (after ../shared/gpu/prepare.sh, given plyfile too,
# which the GPU tests' modules import and its default list lacks (2026-11-28: 3 collection errors without it):
#   PACKAGES="omegaconf trimesh manifold3d moderngl glcontext embreex gsplat plyfile" bash ../shared/gpu/prepare.sh): brings
# FlashAttention-4 (model.attention=fa4) for the offline GPU machine's Python 3.12 into git-ignored folders.
# A device call carries at most 64 MiB with the working tree, and FA4's compiler library alone is a 92 MB
# wheel (227 MB unpacked), so it travels on its own, unpacked, xz-compressed (~61 MiB) and cut in two halves
# that two calls bring (each half + the working tree under 64 MiB). Name the kind nvidia-h100-x1 in every
# call: issue 12's target is an H100, and a call without a kind may start an H200 (other figures). Two calls,
# the second within the machine's idle time (ignored folders a call brought stay on the machine for the next):
#   Call 1: carry [".fa4-libs", ".fa4", ".gl", ".gpu"], timeout 60:
#             mkdir -p .fa4-site && mv .fa4-libs/libs.tar.xz.part-1 .fa4-site/
#   Call 2: carry [".fa4-libs-2", ".whl"], timeout 600:
#             cat .fa4-site/libs.tar.xz.part-1 .fa4-libs-2/libs.tar.xz.part-2 | tar -xJ -C .fa4-site
#             && rm .fa4-site/libs.tar.xz.part-1 && source .gpu/preamble.sh
#             && GPU_CHECK_PARTS=4516 GPU_CHECK_SECONDS=530 OUT=$OUT bash benchmarks/gpu_check.sh > $OUT/stdout.txt 2>&1;
#             tail -c 6000 $OUT/summary.txt
# (2026-11-28, H100: call 1 33 s with the machine's start, call 2 554 s; gpu_check.sh installs the wheels of
# .fa4 and copies .fa4-site next to them.)
# .fa4-libs/ and .fa4-libs-2/ hold the two halves, .fa4/ the other wheels (~10 MB).
# --split: only cut an archive an earlier run made (.fa4-libs/cutlass-dsl-libs-cu13.tar.xz) into the halves.
# FA4_PACKAGE picks the distribution of flash_attn.cute: flash-attn-4 upstream; the registry this project's
# machines reach mirrors it as tokenspeed-fa4 (the same module and authors), pinned to the version read here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for d in /.fa4/ /.fa4-libs/ /.fa4-libs-2/ /.fa4-site/; do  # ignored here too, as .gitignore says
  grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude
done

split_in_halves() {  # the archive -> .fa4-libs/libs.tar.xz.part-1 + .fa4-libs-2/libs.tar.xz.part-2
  local archive=$1 half
  half=$(( ($(du -b "$archive" | cut -f1) + 1) / 2 ))
  mkdir -p .fa4-libs .fa4-libs-2
  head -c "$half" "$archive" > .fa4-libs/libs.tar.xz.part-1.tmp
  tail -c +"$((half + 1))" "$archive" > .fa4-libs-2/libs.tar.xz.part-2
  rm "$archive" && mv .fa4-libs/libs.tar.xz.part-1.tmp .fa4-libs/libs.tar.xz.part-1
  du -sh .fa4-libs .fa4-libs-2
  echo "ready: see this script's header for the three device calls"
}

if [ "${1:-}" = "--split" ]; then
  split_in_halves .fa4-libs/cutlass-dsl-libs-cu13.tar.xz
  exit 0
fi
rm -rf .fa4 .fa4-libs .fa4-libs-2 && mkdir -p .fa4 .fa4-libs
plat="--platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64"
get() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $plat "$@"; }
get -d .fa4 "${FA4_PACKAGE:-tokenspeed-fa4==4.0.0.post20260923}" tokenspeed-quack==0.6.4.post20260923 \
  nvidia-cutlass-dsl==4.8.0 nvidia-cutlass-dsl-libs-base==4.8.0 nvidia-cutlass-dsl-libs-core==4.8.0 \
  apache-tvm-ffi==0.1.15.post2 torch-c-dlpack-ext==0.1.5
tmp=$(mktemp -d)
get -d "$tmp" nvidia-cutlass-dsl-libs-cu13==4.8.0
mkdir "$tmp/unpacked" && python3 -m zipfile -e "$tmp"/nvidia_cutlass_dsl_libs_cu13-*.whl "$tmp/unpacked"
echo "compressing the compiler libraries (xz -9e: a few minutes on 2 cores)"
tar -C "$tmp/unpacked" -cf - . | xz -T0 -9e > .fa4-libs/cutlass-dsl-libs-cu13.tar.xz
rm -rf "$tmp"
du -sh .fa4
split_in_halves .fa4-libs/cutlass-dsl-libs-cu13.tar.xz
