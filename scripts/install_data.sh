#!/usr/bin/env bash
# Install the real data sets from Debian packages (nothing is fetched at run time).
# Needs root (or run it with sudo); safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
sh install_align_data.sh >/dev/null          # UniProt proteins (mmseqs2-examples)
if [ -f install_weather_data.sh ]; then
    sh install_weather_data.sh >/dev/null    # 500 hPa heights and topography
fi
