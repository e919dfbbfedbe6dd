#!/usr/bin/env bash
# Set up everything and run the built-in example jobs with 2 workers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.venv/numba-cache}"
rm -f results/synthetic.h5
hpcmicro run jobs/synthetic.toml -n 3
echo
echo "Results are in results/. Inspect with: h5ls -r results/synthetic.h5"
