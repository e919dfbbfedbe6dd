#!/bin/sh
# Install the real data of the weather workload's "real" case from Debian
# (nothing is fetched at run time; needs root):
#   libncarg-data    /usr/share/ncarg/data/cdf/hgt.nc        500 hPa heights, 2.5 degrees
#   ferret-datasets  /usr/share/ferret-vis/data/etopo20.cdf  ETOPO20 relief
set -eu
export DEBIAN_FRONTEND=noninteractive
missing=""
for p in libncarg-data ferret-datasets; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root (apt-get install needs it), e.g. sudo $0" >&2
    exit 1
fi
apt-cache show $missing >/dev/null 2>&1 || apt-get update -q
apt-get install -y -q --no-install-recommends $missing
