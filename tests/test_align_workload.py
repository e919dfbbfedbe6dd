"""The align workload run without MPI: make_tasks, run_task for all, finalize, export."""

from __future__ import annotations

import dataclasses
import gzip
import io
import math
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from hpcmicro.errors import ConfigError, InputError
from hpcmicro.workloads.align import Align, AlignParams, export, top_hits

parasail = pytest.importorskip("parasail")

DEBIAN = Path("/usr/share/doc/mmseqs2/example-data")
REPO = Path(__file__).resolve().parents[1]


def run_workload(params: AlignParams, base_dir: Path, h5path: Path) -> h5py.File:
    """What the runtime does, inline: master and one worker in this process."""
    job = SimpleNamespace(base_dir=base_dir)
    master = Align(params, job)
    master.check()
    costs = master.make_tasks()
    fields = master.result_fields()
    worker = Align(params, job)
    worker.setup_worker()
    f = h5py.File(h5path, "w")
    f.attrs["workload"] = "align"
    g = f.create_group("align")
    for name, (shape, dtype) in fields.items():
        g.create_dataset(name, (len(costs), *shape), dtype)
    for task in range(len(costs)):
        for name, value in worker.run_task(task).items():
            assert value.shape == fields[name][0]
            g[name][task] = value
    master.finalize(g, np.ones(len(costs), bool))
    return f


def random_fasta(path, rng, n, lo, hi, prefix, related=None, gz=False):
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    lines = []
    for k in range(n):
        s = "".join(rng.choice(letters, rng.integers(lo, hi)))
        if related is not None and k % 3 == 0:
            s = s[:10] + related[rng.integers(len(related))][5:60] + s[10:]
        lines.append(f">{prefix}{k} some description\n{s}\n")
    data = "".join(lines).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return ["".join(line.split("\n")[1]) for line in lines]


def brute_force(queries, targets, go, ge, k, matrix):
    out = []
    for q in queries:
        s = np.array([parasail.sw_striped_32(q, t, go, ge, matrix).score for t in targets])
        out.append([(int(s[i]), int(i)) for i in top_hits(s, k)])
    return out


def check_against_brute_force(g, queries, targets, params, matrix):
    expect = brute_force(queries, targets, params.gap_open, params.gap_extend, params.top_k, matrix)
    q, t, s = g["query"][...], g["target"][...], g["score"][...]
    assert np.all(np.diff(q) >= 0), "rows are grouped by query in query order"
    for qi, hits in enumerate(expect):
        rows = q == qi
        assert list(zip(s[rows].tolist(), t[rows].tolist())) == hits
    assert (s > 0).all()


def test_small_search_equals_brute_force_parasail(tmp_path):
    rng = np.random.default_rng(3)
    queries = random_fasta(tmp_path / "q.fasta", rng, 7, 5, 120, "q")
    targets = random_fasta(tmp_path / "db.fasta.gz", rng, 150, 1, 200, "t", queries, gz=True)
    params = AlignParams(queries="q.fasta", database="db.fasta.gz", top_k=5,
                         queries_per_task=3, db_chunks=4)
    with run_workload(params, tmp_path, tmp_path / "out.h5") as f:
        g = f["align"]
        check_against_brute_force(g, queries, targets, params, parasail.blosum62)
        names = [x.decode() for x in g["target_names"][...]]
        assert names == [f"t{k}" for k in range(150)]
        assert g["query_names"].dtype.kind == "O"
        # statistics: BLOSUM62 with gap_open 11, gap_extend 1 is NCBI's 10/1
        assert math.isclose(g.attrs["karlin_lambda"], 0.243)
        s0, e0, m0 = g["score"][0], g["evalue"][0], len(queries[g["query"][0]])
        n = sum(map(len, targets))
        assert math.isclose(e0, 0.024 * m0 * n * math.exp(-0.243 * s0))
        assert np.all((g["pident"][...] > 0) & (g["pident"][...] <= 100))
        assert np.all(g["qend"][...] >= g["qstart"][...])
        out = io.StringIO()
        export(f, "tsv", out)
        lines = out.getvalue().splitlines()
        assert len(lines) == g["query"].shape[0]
        first = lines[0].split("\t")
        assert len(first) == 12 and first[0].startswith("q") and first[1].startswith("t")


def test_dna_without_published_statistics_gives_nan_and_says_so(tmp_path):
    rng = np.random.default_rng(4)
    acgt = np.array(list("ACGT"))
    qs = ["".join(rng.choice(acgt, 60)) for _ in range(3)]
    ts = ["".join(rng.choice(acgt, rng.integers(1, 150))) for _ in range(40)] + [qs[0][10:50]]
    (tmp_path / "q.fa").write_text("".join(f">q{i}\n{s}\n" for i, s in enumerate(qs)))
    (tmp_path / "t.fa").write_text("".join(f">t{i}\n{s}\n" for i, s in enumerate(ts)))
    params = AlignParams(queries="q.fa", database="t.fa", alphabet="dna", match=3, mismatch=-2,
                         gap_open=6, gap_extend=2, top_k=4)
    with run_workload(params, tmp_path, tmp_path / "o.h5") as f:
        g = f["align"]
        check_against_brute_force(g, qs, ts, params, parasail.matrix_create("ACGT", 3, -2))
        assert np.isnan(g["evalue"][...]).all() and "no published" in g.attrs["evalue_note"]
        out = io.StringIO()
        export(f, "tsv", out)
        text = out.getvalue()
        assert text.startswith("# no published Karlin-Altschul") and "\tNA\tNA\n" in text
    with pytest.raises(ConfigError):
        export(h5py.File(tmp_path / "o.h5", "r"), "xml", io.StringIO())


def test_bad_configuration_and_input(tmp_path):
    job = SimpleNamespace(base_dir=tmp_path)
    with pytest.raises(ConfigError) as info:
        Align(AlignParams(queries="missing.fa", database="x.fa"), job).check()
    assert info.value.key == "align.queries"
    (tmp_path / "q.fa").write_text(">a\nAC\n")
    (tmp_path / "d.fa").write_text(">a\nAC\n>a\nWW\n")
    with pytest.raises(ConfigError) as info:
        Align(AlignParams(queries="q.fa", database="d.fa", gap_open=1, gap_extend=2), job).check()
    assert info.value.key == "align.gap_extend"
    with pytest.raises(InputError) as info:
        Align(AlignParams(queries="q.fa", database="d.fa"), job).make_tasks()
    assert info.value.line == 3


def test_costs_are_cells_and_padding_is_fixed_shape(tmp_path):
    rng = np.random.default_rng(9)
    qs = random_fasta(tmp_path / "q.fa", rng, 5, 10, 30, "q")
    ts = random_fasta(tmp_path / "d.fa", rng, 20, 10, 30, "t")
    params = AlignParams(queries="q.fa", database="d.fa", queries_per_task=2, db_chunks=3,
                         top_k=50)
    wl = Align(params, SimpleNamespace(base_dir=tmp_path))
    costs = wl.make_tasks()
    assert costs.sum() == sum(map(len, qs)) * sum(map(len, ts))
    assert len(costs) == 3 * 3
    res = wl.run_task(len(costs) - 1)  # last block holds one query
    assert res["hit_target"].shape == (2, 50) and (res["hit_target"][1] == -1).all()


@pytest.mark.slow
@pytest.mark.skipif(not (DEBIAN / "DB.fasta.gz").exists(),
                    reason="Debian mmseqs2-examples not installed (scripts/install_align_data.sh)")
def test_real_uniprot_subset_equals_brute_force(tmp_path):
    from hpcmicro.seqio import read_fasta
    db = read_fasta(DEBIAN / "DB.fasta.gz", "protein")
    qs = read_fasta(DEBIAN / "QUERY.fasta.gz", "protein")
    letters = "ARNDCQEGHILKMFPSTWYVBZX*"
    pick_q = [3, 141, 400]
    pick_t = list(range(0, 20000, 25))  # 800 proteins
    (tmp_path / "q.fa").write_text("".join(
        f">{qs.ids[i]}\n{''.join(letters[c] for c in qs.get(i))}\n" for i in pick_q))
    (tmp_path / "d.fa").write_text("".join(
        f">{db.ids[i]}\n{''.join(letters[c] for c in db.get(i))}\n" for i in pick_t))
    q_str = ["".join(letters[c] for c in qs.get(i)) for i in pick_q]
    t_str = ["".join(letters[c] for c in db.get(i)) for i in pick_t]
    params = AlignParams(queries="q.fa", database="d.fa", top_k=10, queries_per_task=2)
    with run_workload(params, tmp_path, tmp_path / "o.h5") as f:
        check_against_brute_force(f["align"], q_str, t_str, params, parasail.blosum62)


def test_demo_job_runs(tmp_path):
    import tomllib
    job_file = REPO / "jobs" / "align_demo.toml"
    table = tomllib.loads(job_file.read_text())["align"]
    params = dataclasses.replace(AlignParams(), **table)
    with run_workload(params, job_file.parent, tmp_path / "demo.h5") as f:
        g = f["align"]
        assert g["query"].shape[0] == 4 * params.top_k
        assert g["evalue"][0] < 1e-50  # each demo query's first hit is itself
        assert g["cigar"][0].decode().endswith("M")


def test_finalize_is_the_same_on_one_and_several_threads(tmp_path):
    rng = np.random.default_rng(12)
    queries = random_fasta(tmp_path / "q.fasta", rng, 9, 5, 150, "q")
    random_fasta(tmp_path / "db.fasta", rng, 120, 1, 250, "t", queries)
    params = AlignParams(queries="q.fasta", database="db.fasta", top_k=6, queries_per_task=4,
                         db_chunks=3)
    tables = []
    for threads in (1, 3):
        Align.align_threads = threads
        try:
            with run_workload(params, tmp_path, tmp_path / f"t{threads}.h5") as f:
                g = f["align"]
                tables.append({name: g[name][...] for name in g if name not in
                               ("hit_target", "hit_score")})
        finally:
            Align.align_threads = None
    assert tables[0].keys() == tables[1].keys() and len(tables[0]["query"]) > 20
    for name, column in tables[0].items():
        assert np.array_equal(column, tables[1][name], equal_nan=column.dtype.kind == "f"), name


def test_align_pairs_keeps_order():
    from hpcmicro.kernels import smith_waterman as sw
    from hpcmicro.seqio import Sequences
    from hpcmicro.workloads.align import align_pairs
    rng = np.random.default_rng(13)
    lens = rng.integers(1, 80, 30)
    seqs = Sequences([f"s{k}" for k in range(30)], rng.integers(0, 20, lens.sum()).astype(np.uint8),
                     np.concatenate([[0], np.cumsum(lens)]).astype(np.int64))
    mat = sw.load_matrix("BLOSUM62")
    pairs = [(int(a), int(b)) for a, b in rng.integers(0, 30, (50, 2))]
    expect = [sw.sw_align(seqs.get(a), seqs.get(b), mat, 11, 1) for a, b in pairs]
    assert align_pairs(seqs, seqs, pairs, mat, 11, 1, threads=4) == expect
    assert align_pairs(seqs, seqs, [], mat, 11, 1, threads=4) == []


def test_prepare_worker_reads_the_input_before_setup(tmp_path):
    rng = np.random.default_rng(14)
    random_fasta(tmp_path / "q.fa", rng, 3, 10, 30, "q")
    random_fasta(tmp_path / "d.fa", rng, 10, 10, 30, "t")
    wl = Align(AlignParams(queries="q.fa", database="d.fa"), SimpleNamespace(base_dir=tmp_path))
    wl.prepare_worker()
    db = wl._db
    wl.setup_worker()                       # nothing read twice
    assert wl._db is db and len(db) == 10
    assert wl.run_task(0)["hit_score"][0, 0] > 0
