#!/bin/sh
# Install Debian's mmseqs2-examples package (UniProt proteins, CC BY 4.0) and
# print where its FASTA files are.  Runs non-interactively; needs root.
#
#   sudo scripts/install_align_data.sh
#
# Prints lines "DB=<path>" and "QUERY=<path>" (DB.fasta.gz: 20,000 proteins;
# QUERY.fasta.gz: 500 queries).  jobs/align_uniprot.toml expects them under
# /usr/share/mmseqs2-examples/ (or wherever dpkg says they are).
set -eu

PKG=mmseqs2-examples
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
    echo "error: run as root (apt-get install needs it), e.g. sudo $0" >&2
    exit 1
fi

if ! dpkg -s "$PKG" >/dev/null 2>&1; then
    if ! apt-cache show "$PKG" >/dev/null 2>&1; then
        apt-get update -q
    fi
    apt-get install -y -q --no-install-recommends "$PKG"
fi

db=$(dpkg -L "$PKG" | grep '/DB\.fasta\(\.gz\)\?$' | head -n 1 || true)
query=$(dpkg -L "$PKG" | grep '/QUERY\.fasta\(\.gz\)\?$' | head -n 1 || true)
if [ -z "$db" ] || [ -z "$query" ]; then
    echo "error: $PKG is installed but DB.fasta.gz / QUERY.fasta.gz were not found in 'dpkg -L $PKG'" >&2
    exit 1
fi
echo "DB=$db"
echo "QUERY=$query"
