"""``hpcmicro report``: metrics on hand-made traces, figures and summaries of real
(small) outputs of every workload, incomplete files, and bad files."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import synthetic_job
from hpcmicro.cli import main
from hpcmicro.config import load_job
from hpcmicro.errors import HpcmicroError
from hpcmicro.jobtrace import (JobTrace, efficiency, merged_intervals, utilisation, vorticity,
                               worker_times)
from hpcmicro.report import make_report
from hpcmicro.runner import run_local

JOB_FIGURES = ["job_gantt.png", "job_utilisation.png", "job_workers.png", "job_durations.png"]
WEATHER_FIGURES = ["weather_h.png", "weather_vorticity.png", "weather_moisture.png",
                   "weather_diagnostics.png", "weather_tiles.png"]


def assert_pictures(outdir: Path, names) -> None:
    """Every PNG exists, is a real image and is not blank."""
    from matplotlib.image import imread
    for name in names:
        path = outdir / name
        assert path.is_file(), f"{name} was not written"
        img = imread(path)
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300, name
        assert img[..., :3].std() > 0.05, f"{name} looks blank"
        assert path.stat().st_size < 400_000, f"{name} is too large"


def trace(worker, start, stop, status=None, stolen=None, n_workers=None) -> JobTrace:
    worker = np.asarray(worker)
    n = len(worker)
    return JobTrace(Path("x.h5"), {"n_workers": n_workers or int(worker.max()),
                                   "wall_seconds": 10.0},
                    np.ones(n, np.uint8) if status is None else np.asarray(status, np.uint8),
                    worker, np.asarray(start, float), np.asarray(stop, float),
                    np.ones(n, np.uint16),
                    np.zeros(n, bool) if stolen is None else np.asarray(stolen, bool), {})


# -- metrics on hand-made traces ----------------------------------------------------
def test_merged_intervals():
    s, e = merged_intervals(np.array([3.0, 0.0, 1.0, 5.0]), np.array([4.0, 2.0, 1.5, 6.0]))
    assert s.tolist() == [0.0, 3.0, 5.0] and e.tolist() == [2.0, 4.0, 6.0]


def test_worker_times_and_efficiency():
    # Worker 1: tasks [0,1], [1.0005,2] (a 0.5 ms gap: overhead), [3,4] (1 s gap: idle).
    # Worker 2: one task [0,1], then idle until the job ends at 4.
    # Worker 3 never ran: idle throughout.  A pending task is ignored.
    t = trace([1, 1, 1, 2, 3], [0, 1.0005, 3, 0, 9], [1, 2, 4, 1, 9.5],
              status=[1, 1, 1, 1, 0], n_workers=3)
    t.worker[4] = -1
    wt = worker_times(t, threshold=1e-3)
    assert wt.ranks.tolist() == [1, 2, 3] and wt.span == (0.0, 4.0)
    np.testing.assert_allclose(wt.busy, [2.9995, 1.0, 0.0])
    np.testing.assert_allclose(wt.overhead, [0.0005, 0.0, 0.0])
    np.testing.assert_allclose(wt.idle, [1.0, 3.0, 4.0])
    np.testing.assert_allclose(wt.busy + wt.overhead + wt.idle, 4.0)
    e = efficiency(t)
    assert e["workers"] == 3 and e["longest"] == 1.0
    assert math.isclose(e["efficiency"], 3.9995 / 3 / 4.0)
    assert math.isclose(e["bound"], 1.0)            # sum/W = 1.33 > longest task
    assert math.isclose(e["wall_efficiency"], 3.9995 / 3 / 10.0)


def test_ideal_bound_is_set_by_the_longest_task():
    t = trace([1, 2], [0.0, 0.0], [4.0, 1.0])
    e = efficiency(t)
    assert math.isclose(e["bound"], (5.0 / 2) / 4.0)
    assert math.isclose(e["efficiency"], e["bound"])     # this schedule is optimal


def test_utilisation_is_an_exact_average():
    t = trace([1, 2], [0.0, 0.0], [2.0, 1.0])
    edges, frac = utilisation(t, bins=4)
    np.testing.assert_allclose(edges, [0, 0.5, 1, 1.5, 2])
    np.testing.assert_allclose(frac, [1, 1, 0.5, 0.5])
    # The time average equals the makespan efficiency.
    assert math.isclose(frac.mean(), efficiency(t)["efficiency"])


def test_vorticity_of_a_shear_flow():
    ny, nx, dx, dy = 8, 6, 2.0, 3.0
    y = (np.arange(ny) + 0.5) * dy
    u = np.repeat((-0.5 * y)[:, None], nx, axis=1)       # du/dy = -0.5
    x = (np.arange(nx) + 0.5) * dx
    v = np.repeat((0.25 * x)[None, :], ny, axis=0)       # dv/dx = 0.25
    z = vorticity(u, v, dx, dy, walls=True)
    assert np.isnan(z[0]).all()
    np.testing.assert_allclose(z[1:, 1:], 0.75)


# -- real outputs -------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic_output(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("syn")
    job = synthetic_job(tmp, scheduler="static", n_tasks=60, distribution="pareto",
                        mean_ms=2.0, fail_tasks=[7])
    assert run_local(load_job(job, environ={}, overrides=("job.max_attempts=1",)),
                     n_workers=2, quiet=True) == 3
    return tmp / "job.h5"


def test_synthetic_report(synthetic_output, tmp_path):
    rep = make_report(synthetic_output, tmp_path / "rep")
    assert [n for n, _ in rep.figures] == JOB_FIGURES
    assert_pictures(tmp_path / "rep", JOB_FIGURES)
    text = rep.summary.read_text()
    assert "makespan efficiency" in text and "ideal bound" in text
    with h5py.File(synthetic_output, "r") as f:
        ok = f["tasks/status"][...] > 0
        d = (f["tasks/stop"][...] - f["tasks/start"][...])[ok]
        span = f["tasks/stop"][...][ok].max() - f["tasks/start"][...][ok].min()
    assert f"**{100 * d.sum() / 2 / span:.1f} %**" in text
    assert "1 of 60 tasks failed" in text and "synthetic failure of task 7" in text
    assert "overhead" in text and "gaps shorter than 1 ms" in text


def test_incomplete_synthetic_report(synthetic_output, tmp_path):
    path = tmp_path / "inc.h5"
    shutil.copy(synthetic_output, path)
    with h5py.File(path, "r+") as f:
        s = f["tasks/status"][...]
        s[40:] = 0
        f["tasks/status"][...] = s
        f["tasks/worker"][40:] = -1
        f.attrs["status"] = "incomplete"
    rep = make_report(path, tmp_path / "rep")
    assert_pictures(tmp_path / "rep", JOB_FIGURES)
    text = rep.summary.read_text()
    assert "20 of 60 tasks are pending" in text and "--resume" in text
    assert any("pending" in m for m in rep.missing)
    # A running job (it holds the lock file) is reported as a snapshot.
    Path(f"{path}.lock").write_text("{}")
    text = make_report(path, tmp_path / "rep").summary.read_text()
    assert "probably still running" in text and "--resume" not in text


def test_report_of_a_file_with_no_finished_task(synthetic_output, tmp_path):
    path = tmp_path / "none.h5"
    shutil.copy(synthetic_output, path)
    with h5py.File(path, "r+") as f:
        f["tasks/status"][...] = 0
        f["tasks/worker"][...] = -1
        f.attrs["status"] = "incomplete"
    rep = make_report(path, tmp_path / "rep")
    assert rep.figures == []
    assert "60 of 60 tasks are pending" in rep.summary.read_text()


def _weather_job(tmp: Path) -> Path:
    job = tmp / "w.toml"
    job.write_text(f'[job]\nworkload = "weather"\noutput = "{tmp}/w.h5"\n'
                   'commit_interval = 0.05\n\n[weather]\ncase = "unstable_jet"\nnx = 32\n'
                   'ny = 16\ntile = 16\nsteps_per_task = 4\nsteps = 8\noutput_every = 4\n'
                   'physics = true\n')
    return job


@pytest.fixture(scope="module")
def weather_output(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wx")
    assert run_local(load_job(_weather_job(tmp), environ={}), n_workers=2, quiet=True) == 0
    return tmp / "w.h5"


def test_weather_report(weather_output, tmp_path):
    rep = make_report(weather_output, tmp_path / "rep")
    assert [n for n, _ in rep.figures] == JOB_FIGURES + WEATHER_FIGURES
    assert_pictures(tmp_path / "rep", JOB_FIGURES + WEATHER_FIGURES)
    text = rep.summary.read_text()
    assert "## Weather" in text and "output times: 3, written: 3" in text
    assert "Tiles: 2 (2 x 1), 2 rounds, 2 finished" in text
    assert "Nothing is missing" in text


def test_incomplete_weather_report_skips_missing_times(weather_output, tmp_path):
    path = tmp_path / "w.h5"
    shutil.copy(weather_output, path)
    with h5py.File(path, "r+") as f:         # as if stopped after round 0
        g = f["weather"]
        for name in ("h", "u", "v", "q"):
            g[name][2] = np.nan
        for name in ("mass", "energy", "enstrophy", "physics_cost"):
            g["diagnostics"][name][2] = np.nan
        f["tasks/status"][2:] = 0
        f.attrs["status"] = "incomplete"
    rep = make_report(path, tmp_path / "rep")
    assert_pictures(tmp_path / "rep", WEATHER_FIGURES)
    text = rep.summary.read_text()
    assert "1 of 3 weather output times are not written yet (NaN)" in text
    assert "2 of 4 tasks are pending" in text
    assert "Tiles: 2 (2 x 1), 2 rounds, 1 finished" in text


def _fake_align(path: Path, n_queries=25, per_query=4, evalue=None) -> None:
    """An align output as finalize writes it, made by hand (no alignment run)."""
    rng = np.random.default_rng(5)
    n = n_queries * per_query
    text = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        f.attrs.update({"workload": "align", "status": "complete", "scheduler": "steal",
                        "n_workers": 2, "wall_seconds": 1.0, "restarts": 0})
        t = f.create_group("tasks")
        t["status"] = np.ones(10, "u1")
        t["worker"] = np.repeat([1, 2], 5).astype("i4")
        t["start"] = np.r_[np.arange(5), np.arange(5)] * 0.1
        t["stop"] = t["start"][...] + 0.09
        t["attempts"] = np.ones(10, "u2")
        t["stolen"] = np.zeros(10, "u1")
        t.create_dataset("error", (10,), text)
        g = f.create_group("align")
        g.create_dataset("query_names", data=[f"sp|Q{i}|QUERY_{i}" for i in range(n_queries)],
                         dtype=text)
        g.create_dataset("target_names", data=[f"tr|T{i}|TARGET_{i}" for i in range(50)],
                         dtype=text)
        score = np.sort(rng.integers(30, 900, n).reshape(n_queries, per_query))[:, ::-1]
        g["query"] = np.repeat(np.arange(n_queries), per_query).astype("i4")
        g["target"] = rng.integers(0, 50, n).astype("i4")
        g["score"] = score.ravel().astype("i4")
        g["bitscore"] = score.ravel() * 0.35
        e = 1e4 * np.exp(-0.25 * score.ravel()) if evalue is None else np.full(n, evalue)
        e[0] = 0.0 if evalue is None else e[0]
        g["evalue"] = e
        g["pident"] = rng.uniform(20, 100, n)
        g["length"] = rng.integers(50, 400, n).astype("i4")
        g.attrs.update({"scheme": "BLOSUM62, gaps 11/1", "top_k": per_query,
                        "evalue_note": "" if evalue is None else "no parameters",
                        "queries_incomplete": 0})


def test_align_report(tmp_path):
    _fake_align(tmp_path / "a.h5")
    rep = make_report(tmp_path / "a.h5", tmp_path / "rep")
    assert_pictures(tmp_path / "rep", JOB_FIGURES + ["align_scores.png"])
    text = rep.summary.read_text()
    assert "| query | rank | target | score | bit score | E-value |" in text
    with h5py.File(tmp_path / "a.h5", "r") as f:
        best = f["align/target_names"][f["align/target"][0]].decode()
        score = int(f["align/score"][0])
    # '|' in sequence ids is escaped so the table keeps its columns
    assert f"| sp\\|Q0\\|QUERY_0 | 1 | {best.replace('|', chr(92) + '|')} | {score} |" in text
    rows = [line for line in text.splitlines() if line.startswith("| sp\\|")]
    assert len(rows) == 20 * 3                       # the first 20 queries, top 3 each
    assert "QUERY_20" not in text


def test_align_report_without_evalues_or_hits_table(tmp_path):
    _fake_align(tmp_path / "a.h5", n_queries=3, evalue=np.nan)
    rep = make_report(tmp_path / "a.h5", tmp_path / "rep")
    assert_pictures(tmp_path / "rep", ["align_scores.png"])
    assert "E-values: no parameters" in rep.summary.read_text()
    with h5py.File(tmp_path / "a.h5", "r+") as f:   # stopped before finalize
        for name in ("query", "target", "score"):
            del f["align"][name]
        f["tasks/status"][5:] = 0
        f.attrs["status"] = "incomplete"
    rep = make_report(tmp_path / "a.h5", tmp_path / "rep2")
    text = rep.summary.read_text()
    assert "hits table is not written yet" in text and "5 of 10 tasks are pending" in text
    assert "align_scores.png" not in [n for n, _ in rep.figures]


# -- the command and bad input ----------------------------------------------------------
def test_command_default_outdir(synthetic_output, tmp_path, capsys):
    path = tmp_path / "copy.h5"
    shutil.copy(synthetic_output, path)
    assert main(["report", str(path)]) == 0
    out = tmp_path / "copy_report"
    assert (out / "summary.md").is_file() and (out / "job_gantt.png").is_file()
    assert "copy_report" in capsys.readouterr().out
    assert main(["report", str(path), "-o", str(tmp_path / "elsewhere"), "--gap-ms", "5"]) == 0
    assert "shorter than 5 ms" in (tmp_path / "elsewhere" / "summary.md").read_text()


@pytest.mark.parametrize("kind, message", [
    ("missing", "no such file"),
    ("text", "not a readable HDF5 file"),
    ("hdf5", "not an hpcmicro output (missing workload, status, /tasks)"),
    ("dir", "it is a directory"),
])
def test_bad_files_give_a_clear_error(tmp_path, capsys, kind, message):
    path = tmp_path / "bad.h5"
    if kind == "text":
        path.write_text("hello\n")
    elif kind == "hdf5":
        with h5py.File(path, "w") as f:
            f["x"] = 1
    elif kind == "dir":
        path.mkdir()
    with pytest.raises(HpcmicroError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_report(path, tmp_path / "rep")
    assert main(["report", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hpcmicro: cannot report on") and message in err
    assert "Traceback" not in err
