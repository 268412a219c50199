#!/usr/bin/env bash
# Creates .venv (if missing) and installs lrmzero into it: CPU torch pinned first, then the project.
# Usage: source scripts/setup-env.sh [extras]     e.g. extras "test"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade "pip>=23" "setuptools>=70" wheel
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
python -c "import torch" 2>/dev/null || python -m pip install -q torch==2.13.0
extras=${1:-}
if [ -n "$extras" ]; then
  python -m pip install -q -e ".[$extras]"
else
  python -m pip install -q -e .
fi
