#!/usr/bin/env bash
# Set up everything and run the built-in examples with 2 workers (mpiexec -n 3),
# then write a report (figures + summary.md) for each.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.venv/numba-cache}"
mkdir -p results
rm -f results/demo_align.h5 results/demo_synthetic.h5 results/demo_weather.h5
echo "== align: 4 protein queries against 289 UniProt proteins (shipped in jobs/data)"
hpcmicro run jobs/align_demo.toml -n 3 -o results/demo_align.h5
hpcmicro export results/demo_align.h5 --format tsv -o results/demo_align.tsv
head -n 5 results/demo_align.tsv
echo "== synthetic: 400 skewed sleep tasks, work stealing"
hpcmicro run jobs/synthetic.toml -n 3 -o results/demo_synthetic.h5
echo "== weather: the moist unstable jet, 128 x 64 cells, first 1600 steps"
hpcmicro run jobs/weather_demo.toml -n 3 -o results/demo_weather.h5 \
    --set weather.steps=1600 --set weather.output_every=400
for f in results/demo_align.h5 results/demo_synthetic.h5 results/demo_weather.h5; do
    hpcmicro report "$f"
done
echo
echo "Done. Results: results/demo_*.h5; reports: results/demo_*_report/ (summary.md and PNGs)."
