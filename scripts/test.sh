#!/usr/bin/env bash
# Set up everything and run the whole test suite (this is what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
bash scripts/install_data.sh || echo "warning: the real-data packages could not be installed; their tests will skip with the reason"
export PATH="$PWD/.venv/bin:$PATH"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.venv/numba-cache}"
# A one-node Slurm cluster for tests/test_slurm.py, stopped (by pid) on exit.
# If it cannot start here, those tests skip and -ra shows the reason.
if slurm_env="$(bash scripts/slurm_ci.sh start)"; then
    trap 'bash scripts/slurm_ci.sh stop' EXIT
    eval "$slurm_env"
else
    echo "warning: no Slurm cluster could be started; the Slurm tests will skip with the reason"
fi
python -m pytest -q -ra "$@"
