#!/usr/bin/env bash
# Create .venv (if missing) and install hpcmicro into it with everything it needs,
# MPI included (the PyPI mpich wheel provides mpiexec). Usage: scripts/setup.sh [extras]
# e.g. scripts/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ -n "$extras" ]; then
    .venv/bin/python -m pip install -q -e ".[$extras]"
else
    .venv/bin/python -m pip install -q -e .
fi
