"""``hpcmicro sbatch`` and real Slurm: jobs, the time limit, scancel, a bad srun.

The script tests run everywhere.  The cluster tests need a running Slurm
(``scripts/slurm_ci.sh start``, which ``scripts/test.sh`` runs as root); without
one they skip and say why (``pytest -ra`` shows it).  To stay within a few
minutes, every Slurm job is submitted at once by a module fixture (the CI node
declares 16 CPUs) and each test then waits for its own; a background thread
lets requeued jobs start at once instead of after Slurm's ~120 s hold.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import expected_planned, hpcmicro, mpiexec, read_tasks
from hpcmicro.slurm import MARKER, parse_time, render

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "jobs" / "data"
#: Longest a cluster job may take here before the test fails instead of waiting.
JOB_TIMEOUT = 240
#: Seconds a requeued job stays held before the test lets it start.
RELEASE_AFTER = 4.0


# -- the script (no Slurm needed) ------------------------------------------------
def _syn_job(d: Path, name: str, **params) -> Path:
    p = {"n_tasks": 60, "mean_ms": 20.0, "distribution": "constant"}
    p.update(params)
    body = "\n".join(f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"'
                     for k, v in p.items())
    job = d / f"{name}.toml"
    job.write_text(f'[job]\nworkload = "synthetic"\noutput = "{d / (name + ".h5")}"\n'
                   f'seed = 5\ncommit_interval = 0.2\n\n[synthetic]\n{body}\n')
    return job


def test_parse_time_accepts_slurm_forms_and_refuses_others():
    assert parse_time("1") == 60 and parse_time("01:30") == 90
    assert parse_time("02:00:00") == 7200 and parse_time("1-00") == 86400
    assert parse_time("1-02:03:04") == ((26 * 60) + 3) * 60 + 4
    for bad in ("", "1:2:3:4", "abc", "0", "00:00:00"):
        with pytest.raises(Exception):
            parse_time(bad)


def test_script_has_signal_launcher_trap_requeue_and_cache(tmp_path):
    job = _syn_job(tmp_path, "s")
    r = hpcmicro("sbatch", job, "--nodes", 2, "--ntasks-per-node", 4, "--time", "01:00:00",
                 "--partition", "short", "--account", "proj1", "--requeue", "--grace", 90,
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "s.sbatch").read_text()
    for want in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --time=01:00:00",
                 "#SBATCH --partition=short", "#SBATCH --account=proj1",
                 "#SBATCH --signal=B:USR1@90", "#SBATCH --requeue", "srun --mpi=pmi2",
                 "trap 'forward USR1' USR1", "trap 'forward TERM' TERM", 'pid=$!',
                 'wait "$pid"', "scontrol requeue", "export NUMBA_CACHE_DIR=", "REQUEUE=1",
                 "hpcmicro.slurm status"):
        assert want in text, want
    assert "--resume" in text and "pmix" not in text
    assert subprocess.run(["bash", "-n", str(tmp_path / "s.sbatch")]).returncode == 0


def test_script_with_mpiexec_and_no_requeue(tmp_path):
    text = render(job="j.toml", output="o.h5", python="python3", nodes=1, ntasks_per_node=2,
                  time_limit="10", grace=60, requeue=False, max_restarts=3,
                  launcher="mpiexec", mpiexec="/opt/mpi/bin/mpiexec", numba_cache="job")
    assert "#SBATCH --no-requeue" in text and "REQUEUE=0" in text
    assert '"$MPIEXEC" -n "$SLURM_NTASKS"' in text and "srun --mpi" not in text
    assert "hpcmicro-numba-${SLURM_JOB_ID}" in text


@pytest.mark.parametrize("args, message", [
    (["--time", "1:2:3:4"], "not a Slurm time limit"),
    (["--time", "1", "--grace", "60"], "shorter than the time limit"),
    (["--time", "10", "--nodes", "0"], "--nodes 0 must be at least 1"),
])
def test_bad_sbatch_options_are_clear_errors(tmp_path, args, message):
    job = _syn_job(tmp_path, "s")
    base = {"--nodes": "1", "--ntasks-per-node": "2"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    r = hpcmicro("sbatch", job, *[x for kv in base.items() for x in kv], cwd=tmp_path)
    assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "s.sbatch").exists()


def test_a_script_we_did_not_write_is_not_overwritten(tmp_path):
    job = _syn_job(tmp_path, "s")
    (tmp_path / "s.sbatch").write_text("#!/bin/bash\necho mine\n")
    r = hpcmicro("sbatch", job, "--nodes", 1, "--ntasks-per-node", 2, "--time", 10, cwd=tmp_path)
    assert r.returncode != 0 and "was not written by hpcmicro sbatch" in r.stderr
    assert (tmp_path / "s.sbatch").read_text() == "#!/bin/bash\necho mine\n"


def test_ready_made_examples_are_valid_scripts():
    scripts = sorted((REPO / "jobs").glob("*.sbatch"))
    assert scripts, "jobs/ has example batch scripts"
    for s in scripts:
        text = s.read_text()
        assert MARKER in text and "--signal=B:USR1@" in text
        assert (REPO / text.split("JOB=", 1)[1].split()[0]).exists(), f"{s.name} names its job"
        assert subprocess.run(["bash", "-n", str(s)]).returncode == 0


# -- a real cluster ---------------------------------------------------------------
def _slurm_reason() -> str | None:
    """Why the cluster tests cannot run here (None: they can)."""
    for tool in ("sbatch", "squeue", "scontrol", "sinfo", "srun", "scancel"):
        if not shutil.which(tool):
            return (f"no Slurm here ({tool} not on PATH); run 'scripts/slurm_ci.sh start' as "
                    "root (scripts/test.sh does) to run the Slurm tests")
    try:
        r = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                           timeout=15)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 15 s: slurmctld is not running"
    if r.returncode != 0 or not any(s in r.stdout for s in ("idle", "mix", "alloc")):
        return (f"no usable Slurm node (sinfo: {(r.stderr or r.stdout).strip()[:200]}); "
                "run 'scripts/slurm_ci.sh start' as root")
    return None


def _state(jid: str) -> tuple[str, str]:
    """(state, reason) of a job; GONE once it left the queue, UNKNOWN if squeue failed."""
    r = subprocess.run(["squeue", "-h", "-j", jid, "-o", "%T %r"], capture_output=True,
                       text=True)
    if r.returncode != 0 and "Invalid job id" not in r.stderr:
        return ("UNKNOWN", r.stderr.strip())
    parts = r.stdout.split()
    return (parts[0], parts[1]) if parts else ("GONE", "")


class Cluster:
    """Everything the cluster tests submit, submitted at once."""

    def __init__(self, root: Path):
        self.root, self.jobs, self.local = root, {}, {}
        self._stop = threading.Event()
        self._releaser = threading.Thread(target=self._release, daemon=True)

    def _release(self) -> None:
        """Let requeued jobs start soon instead of after Slurm's hold (~120 s).

        Not at once: slurmd must first finish cleaning up the previous run, or
        the new one is killed ("Job credential revoked")."""
        held: dict[str, float] = {}
        while not self._stop.wait(1.0):
            for jid in list(self.jobs.values()):
                st, why = _state(jid)
                if st == "PENDING" and why == "BeginTime":
                    since = held.setdefault(jid, time.monotonic())
                    if time.monotonic() - since >= RELEASE_AFTER:
                        subprocess.run(["scontrol", "update", f"JobId={jid}", "StartTime=now"],
                                       capture_output=True)
                        held.pop(jid)
                else:
                    held.pop(jid, None)

    def submit(self, name: str, job: Path, *args) -> None:
        r = hpcmicro("sbatch", job, "--nodes", 1, "--submit", *args, cwd=self.root)
        assert r.returncode == 0, r.stderr
        self.jobs[name] = r.stdout.strip()

    def wait(self, name: str, timeout: float = JOB_TIMEOUT) -> None:
        jid, t0 = self.jobs[name], time.monotonic()
        while _state(jid)[0] != "GONE":
            if time.monotonic() - t0 > timeout:
                subprocess.run(["scancel", jid])
                pytest.fail(f"Slurm job {name} ({jid}) still queued or running after "
                            f"{timeout} s:\n{self.log(name)}")
            time.sleep(1.0)

    def log(self, name: str) -> str:
        logs = sorted(self.root.glob(f"hpcmicro-{name}-{self.jobs[name]}.out"))
        return logs[0].read_text() if logs else "(no log)"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = _slurm_reason()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("slurm")
    c = Cluster(root)
    syn = _syn_job(root, "syn", n_tasks=80, mean_ms=20.0, distribution="lognormal")
    align = root / "align.toml"
    align.write_text(f'[job]\nworkload = "align"\noutput = "{root / "align.h5"}"\n\n[align]\n'
                     f'queries = "{DATA / "demo_queries.fasta"}"\n'
                     f'database = "{DATA / "demo_db.fasta.gz"}"\n'
                     'top_k = 10\nqueries_per_task = 1\ndb_chunks = 3\n')
    weather = root / "weather.toml"
    weather.write_text(f'[job]\nworkload = "weather"\noutput = "{root / "weather.h5"}"\n'
                       'commit_interval = 0.1\n\n[weather]\ncase = "unstable_jet"\nnx = 64\n'
                       'ny = 32\ntile = 16\nsteps_per_task = 4\nsteps = 48\noutput_every = 16\n'
                       'physics = true\n')
    # Longer than the one-minute limit: 52 tasks of 2.5 s on 2 workers is 65 s of work.
    long = _syn_job(root, "long", n_tasks=52, mean_ms=2500.0)
    cancel = _syn_job(root, "cancel", n_tasks=60, mean_ms=1000.0)
    std = ("--ntasks-per-node", 3, "--time", "5", "--grace", 60)
    c.submit("long", long, "--ntasks-per-node", 3, "--time", "1", "--grace", 30, "--requeue",
             "--max-restarts", 6)
    c._releaser.start()
    for name, job in (("syn", syn), ("align", align), ("weather", weather)):
        c.submit(name, job, *std)
    # The same jobs through a local mpiexec, for comparison (while Slurm runs them).
    for name, job in (("syn", syn), ("align", align), ("weather", weather)):
        out = root / f"local-{name}.h5"
        r = mpiexec(3, "run", job, "-o", out, "-q", timeout=JOB_TIMEOUT)
        assert r.returncode == 0, r.stderr
        c.local[name] = out
    c.submit("cancel", cancel, *std, "--requeue")     # last: it must still run when its test starts
    yield c
    c._stop.set()
    for jid in c.jobs.values():
        subprocess.run(["scancel", jid], capture_output=True)


def test_scancel_mid_run_leaves_a_consistent_resumable_file(cluster):
    out = cluster.root / "cancel.h5"
    jid, t0 = cluster.jobs["cancel"], time.monotonic()
    while True:         # wait for some committed progress
        try:
            with h5py.File(out, "r", locking=False) as f:
                if (f["tasks/status"][...] == 1).sum() >= 4:
                    break
        except (OSError, KeyError):
            pass
        assert time.monotonic() - t0 < JOB_TIMEOUT, cluster.log("cancel")
        time.sleep(0.5)
    subprocess.run(["scancel", jid], check=True)
    cluster.wait("cancel", timeout=60)
    log = cluster.log("cancel")
    assert "requeueing" not in log, "scancel never requeues"
    t = read_tasks(out)
    assert t["attrs"]["status"] == "incomplete"
    done = t["status"] == 1
    assert 4 <= done.sum() < 60
    planned = expected_planned(cluster.root / "cancel.toml")
    assert np.array_equal(t["planned"][done], planned[done])
    r = mpiexec(3, "run", cluster.root / "cancel.toml", "--resume", "-q", timeout=120)
    assert r.returncode == 0, r.stderr
    t = read_tasks(out)
    assert t["attrs"]["status"] == "complete" and np.all(t["attempts"] == 1)
    assert np.array_equal(t["planned"], planned)


def test_srun_mpi_none_is_refused_instead_of_running_twice(cluster):
    job = _syn_job(cluster.root, "twice", n_tasks=10)
    r = subprocess.run(["srun", "--mpi=none", "-n", "2", sys.executable, "-m", "hpcmicro",
                        "run", str(job), "-q"], capture_output=True, text=True, timeout=120,
                       cwd=cluster.root)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("separate one-rank jobs") == 2, "each task explains"
    assert not (cluster.root / "twice.h5").exists(), "the job never ran"
    ok = subprocess.run(["srun", "--mpi=pmi2", "-n", "2", sys.executable, "-m", "hpcmicro",
                         "run", str(job), "-q"], capture_output=True, text=True, timeout=120,
                        cwd=cluster.root)
    assert ok.returncode == 0, ok.stderr
    assert read_tasks(cluster.root / "twice.h5")["attrs"]["n_workers"] == 1


def _complete(path) -> h5py.File:
    f = h5py.File(path, "r")
    assert f.attrs["status"] == "complete"
    assert np.all(f["tasks/status"][...] == 1) and np.all(f["tasks/attempts"][...] == 1)
    return f


def test_synthetic_job_under_slurm_equals_a_local_run(cluster):
    cluster.wait("syn")
    with _complete(cluster.root / "syn.h5") as a, _complete(cluster.local["syn"]) as b:
        assert np.array_equal(a["synthetic/planned"][...], b["synthetic/planned"][...])
        assert np.array_equal(a["tasks/status"][...], b["tasks/status"][...])
        assert a.attrs["n_workers"] == 2
    log = cluster.log("syn")
    assert "the launcher exited with status 0" in log and "is complete" in log


def test_align_job_under_slurm_equals_a_local_run(cluster):
    cluster.wait("align")
    with _complete(cluster.root / "align.h5") as a, _complete(cluster.local["align"]) as b:
        ga, gb = a["align"], b["align"]
        names = ("query_names", "target_names", "query", "target", "score", "bitscore",
                 "evalue", "pident", "length", "mismatch", "gapopen", "qstart", "qend",
                 "sstart", "send", "cigar")
        assert len(ga["query"]) > 0
        for n in names:
            assert np.array_equal(ga[n][...], gb[n][...]), n


def test_weather_job_under_slurm_equals_a_local_run_bit_for_bit(cluster):
    cluster.wait("weather")
    with _complete(cluster.root / "weather.h5") as a, _complete(cluster.local["weather"]) as b:
        for n in ("h", "u", "v", "q"):
            x, y = a["weather"][n][...], b["weather"][n][...]
            assert x.tobytes() == y.tobytes(), n
        for n in ("mass", "energy", "enstrophy"):
            assert np.array_equal(a["weather/diagnostics"][n][...],
                                  b["weather/diagnostics"][n][...]), n


def test_time_limit_drains_requeues_resumes_and_finishes(cluster):
    cluster.wait("long")
    log = cluster.log("long")
    t = read_tasks(cluster.root / "long.h5")
    assert t["attrs"]["status"] == "complete", log
    assert np.all(t["status"] == 1), "no task lost"
    assert np.all(t["attempts"] == 1), "no committed task ran twice"
    assert np.array_equal(t["planned"], expected_planned(cluster.root / "long.toml"))
    requeues = log.count("requeueing job")
    assert requeues >= 1 and "got SIGUSR1" in log, log
    launches = log.count(" ranks, restart ")       # the script's first line, every start
    assert launches == requeues + 1, f"each requeue started one run\n{log}"
    # Each run that reached hpcmicro opened the file (its start line); the file
    # counts every reopening.  Slurm may send USR1 up to 60 s early, so a run
    # can be signalled while it starts: it must still open the file and drain
    # (hpcmicro.signals), so only a signal inside the interpreter's own start
    # could make opened < launches.
    opened = log.count(" already done), ")
    assert opened >= 2 and t["attrs"]["restarts"] == opened - 1, \
        f"each resumed run counted once\n{log}"
