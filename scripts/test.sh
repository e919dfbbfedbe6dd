#!/usr/bin/env bash
# Set up everything and run the whole test suite (this is what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
bash scripts/install_data.sh || echo "warning: the real-data packages could not be installed; their tests will skip with the reason"
export PATH="$PWD/.venv/bin:$PATH"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.venv/numba-cache}"
python -m pytest -q -ra "$@"
