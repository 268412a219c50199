#!/usr/bin/env bash
# Run once on a connected machine, from the project root (after ../shared/gpu/prepare.sh): brings
# FlashAttention-4 (model.attention=fa4) for the offline GPU machine's Python 3.12 into git-ignored folders.
# A device call carries at most 64 MiB with the working tree, and FA4's compiler library alone is a 92 MB
# wheel (227 MB unpacked), so it travels on its own, unpacked and xz-compressed (~61 MiB):
#   .fa4-libs/  nvidia-cutlass-dsl-libs-cu13 as a .tar.xz. First device call: carry [".fa4-libs"] with
#               mkdir -p .fa4-site && tar -xJf .fa4-libs/cutlass-dsl-libs-cu13.tar.xz -C .fa4-site
#               (.fa4-site is ignored, so it stays on the machine for its next calls, within its idle time)
#   .fa4/       the other wheels (~10 MB). Next call: carry [".whl", ".gl", ".gpu", ".fa4"] with
#               source .gpu/preamble.sh && OUT=$OUT bash benchmarks/gpu_check.sh   (it installs both)
# FA4_PACKAGE picks the distribution of flash_attn.cute: flash-attn-4 upstream; the registry this project's
# machines reach mirrors it as tokenspeed-fa4 (the same module and authors), pinned to the version read here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for d in /.fa4/ /.fa4-libs/ /.fa4-site/; do  # ignored here too, as .gitignore says
  grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude
done
rm -rf .fa4 .fa4-libs && mkdir -p .fa4 .fa4-libs
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
du -sh .fa4 .fa4-libs
# the first call carries .fa4-libs with the working tree: both must stay under the 64 MiB a call takes
tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
libs=$(du -b .fa4-libs/cutlass-dsl-libs-cu13.tar.xz | cut -f1)
if (( tree + libs > 63 * 1024 * 1024 )); then
  echo "warning: working tree $((tree >> 20)) MiB + .fa4-libs $((libs >> 20)) MiB is over what one device call carries;"
  echo "split it (split -b 30M) into two folders carried by two calls, and cat the parts before tar -xJ"
fi
echo "ready: see this script's header for the two device calls"
