#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for hpcmicro's Slurm tests.
#
#   scripts/slurm_ci.sh install   apt-get install slurm-wlm and munge (root; Debian/Ubuntu)
#   scripts/slurm_ci.sh start     install if needed, write the config, start munged,
#                                 slurmctld and slurmd; wait until the node is idle
#   scripts/slurm_ci.sh stop      stop the daemons this script started, by their pids
#   scripts/slurm_ci.sh env       print "export SLURM_CONF=..." for the clients
#
# Everything lives in $HPCMICRO_SLURM_DIR (default /tmp/hpcmicro-slurm): the
# config (made from scripts/slurm/slurm.conf.in), state, logs and pid files.
# No systemd, no cgroups, no accounting database.  The clients find the cluster
# through SLURM_CONF, which `start` prints and scripts/test.sh exports.
# Exit status of `start`: 0 running; 1 it could not run (the reason is printed);
# tests then skip with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${HPCMICRO_SLURM_DIR:-/tmp/hpcmicro-slurm}"
CONF="$DIR/slurm.conf"
CPUS="${HPCMICRO_SLURM_CPUS:-16}"     # declared CPUs (config_overrides lets us exceed nproc)

say() { echo "slurm_ci: $*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
    else say "needs root (or passwordless sudo) for: $*"; return 1; fi
}

install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return 0
    fi
    command -v apt-get >/dev/null || { say "no apt-get: install slurm-wlm and munge yourself"; return 1; }
    say "installing slurm-wlm and munge (apt-get)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null \
        || { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive \
             apt-get install -y -qq slurm-wlm munge >/dev/null; }
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_munge() {
    if [ -S /run/munge/munge.socket.2 ] && munge -n </dev/null >/dev/null 2>&1; then
        return 0                             # a munged is already serving
    fi
    as_root mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
    if [ ! -s /etc/munge/munge.key ]; then
        as_root sh -c 'dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null'
    fi
    as_root chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
    as_root chmod 0700 /etc/munge && as_root chmod 0400 /etc/munge/munge.key
    as_root runuser -u munge -- /usr/sbin/munged --force
    echo started > "$DIR/munged.ours"
    for _ in $(seq 50); do
        munge -n </dev/null >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    say "munged did not start"; return 1
}

start() {
    install
    if [ -f "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
        say "already running ($CONF)"; echo "export SLURM_CONF=$CONF"; return 0
    fi
    mkdir -p "$DIR/ctld" "$DIR/d"
    local host mem
    host="$(hostname -s)"
    mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
    sed -e "s|@STATE@|$DIR|g" -e "s|@HOST@|$host|g" -e "s|@CPUS@|$CPUS|g" -e "s|@MEM@|$mem|g" \
        -e "s|@CTLD_PORT@|$(free_port)|g" -e "s|@D_PORT@|$(free_port)|g" \
        scripts/slurm/slurm.conf.in > "$CONF"
    export SLURM_CONF="$CONF"
    start_munge
    as_root /usr/sbin/slurmctld -f "$CONF" -i      # -i: ignore saved state from an old run
    as_root /usr/sbin/slurmd -f "$CONF"
    for _ in $(seq 100); do
        if sinfo -h -o %T 2>/dev/null | grep -q idle; then
            say "running: $(sinfo -h -o '%N %c CPUs %T')"
            echo "export SLURM_CONF=$CONF"
            return 0
        fi
        sleep 0.2
    done
    say "the node did not become idle; logs in $DIR"
    tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
    return 1
}

stop() {
    local f pid
    for f in slurmd slurmctld; do
        if [ -f "$DIR/$f.pid" ]; then
            pid="$(cat "$DIR/$f.pid")"
            as_root kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            rm -f "$DIR/$f.pid"
        fi
    done
    if [ -f "$DIR/munged.ours" ] && [ -f /run/munge/munged.pid ]; then
        as_root kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
        rm -f "$DIR/munged.ours"
    fi
    say "stopped"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac
