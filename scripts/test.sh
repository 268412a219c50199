#!/usr/bin/env bash
# Installs lrmzero with its test extras into .venv and runs the test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup-env.sh test
python -m pytest -q "$@"
