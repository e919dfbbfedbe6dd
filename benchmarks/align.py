"""Single-core Smith-Waterman throughput: hpcmicro's kernel vs parasail and Biopython.

Queries are drawn (fixed seed) from Debian's mmseqs2-examples QUERY.fasta.gz
and searched against DB.fasta.gz (install with scripts/install_align_data.sh)
with BLOSUM62, gap_open 11, gap_extend 1.  GCUPS = sum of query lengths x sum
of database residues / CPU seconds (``time.process_time``), the median of
``--repeats`` runs.  Every score of every pair is checked against parasail.
Biopython's PairwiseAligner (score only) runs on a small subset.

Usage::

    python benchmarks/align.py            # 50 queries x all 20,000 proteins (~2e11 cells)
    python benchmarks/align.py --quick    # 10 queries x 2,000 proteins
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

DATA = Path("/usr/share/doc/mmseqs2/example-data")
OUT = Path(__file__).resolve().parent / "results"
LETTERS = "ARNDCQEGHILKMFPSTWYVBZX*"
GO, GE = 11, 1


def cpu(fn):
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 queries x 2,000 proteins")
    ap.add_argument("--queries", type=int, help="number of queries (default 50, quick 10)")
    ap.add_argument("--targets", type=int, help="database proteins (default all, quick 2000)")
    ap.add_argument("--repeats", type=int, help="runs per tool (median; default 3, quick 3)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not (DATA / "DB.fasta.gz").exists():
        print(f"{DATA}/DB.fasta.gz not found: run scripts/install_align_data.sh", file=sys.stderr)
        return 1
    import parasail
    from hpcmicro.kernels import smith_waterman as sw
    from hpcmicro.seqio import read_fasta

    n_q = args.queries or (10 if args.quick else 50)
    repeats = args.repeats or 3
    db = read_fasta(DATA / "DB.fasta.gz", "protein")
    qs = read_fasta(DATA / "QUERY.fasta.gz", "protein")
    rng = np.random.default_rng(args.seed)
    qi = np.sort(rng.choice(len(qs), n_q, replace=False))
    n_t = args.targets or (2000 if args.quick else len(db))
    ti = np.sort(rng.choice(len(db), n_t, replace=False)) if n_t < len(db) else np.arange(len(db))
    qcodes = [qs.get(i) for i in qi]
    tcodes = [db.get(i) for i in ti]
    qstr = ["".join(LETTERS[c] for c in s) for s in qcodes]
    tstr = ["".join(LETTERS[c] for c in s) for s in tcodes]
    qcat = np.concatenate(qcodes)
    qoff = np.concatenate([[0], np.cumsum([len(s) for s in qcodes])]).astype(np.int64)
    tcat = np.concatenate(tcodes)
    toff = np.concatenate([[0], np.cumsum([len(s) for s in tcodes])]).astype(np.int64)
    cells = float(len(qcat)) * float(len(tcat))
    mat = sw.load_matrix("BLOSUM62")
    print(f"{n_q} queries ({len(qcat)} residues) x {n_t} proteins ({len(tcat)} residues) "
          f"= {cells:.3g} cells, {repeats} runs each", file=sys.stderr)

    rows = []
    packed = sw.pack_targets(tcat, toff, mat.shape[0])
    sw.search(qcat[:qoff[1]], qoff[:2], tcat[:toff[64]], toff[:65], mat, GO, GE)  # compile
    times = []
    for _ in range(repeats):
        dt, ours = cpu(lambda: sw.search(qcat, qoff, tcat, toff, mat, GO, GE, packed=packed))
        times.append(dt)
        print(f"  hpcmicro: {dt:.1f} s", file=sys.stderr)
    rows.append(("hpcmicro 8-bit lanes + exact rescoring", cells, times))

    for name, make in (("sw_striped_profile_sat", parasail.profile_create_sat),
                       ("sw_striped_profile_16", parasail.profile_create_16)):
        fn = getattr(parasail, name)
        times = []
        for _ in range(repeats):
            def run():
                out = np.zeros((n_q, n_t), np.int64)
                for a, q in enumerate(qstr):
                    prof = make(q, parasail.blosum62)
                    for b, t in enumerate(tstr):
                        out[a, b] = fn(prof, t, GO, GE).score
                return out
            dt, ref = cpu(run)
            times.append(dt)
            print(f"  parasail {name}: {dt:.1f} s", file=sys.stderr)
        bad = int((ref != ours).sum())
        if bad:
            print(f"ERROR: {bad} scores differ from parasail {name}", file=sys.stderr)
            return 2
        rows.append((f"parasail {name}", cells, times))

    from Bio.Align import PairwiseAligner, substitution_matrices
    al = PairwiseAligner(mode="local", substitution_matrix=substitution_matrices.load("BLOSUM62"),
                         open_gap_score=-GO, extend_gap_score=-GE)
    bq, bt = qstr[:2], tstr[:40]
    bcells = float(sum(map(len, bq))) * float(sum(map(len, bt)))
    dt, bio = cpu(lambda: np.array([[al.score(q, t) for t in bt] for q in bq]))
    if not np.array_equal(bio.astype(np.int64), ours[:2, :40]):
        print("ERROR: Biopython scores differ", file=sys.stderr)
        return 2
    rows.append(("Biopython PairwiseAligner (2 x 40 subset)", bcells, [dt]))

    report(rows, n_q, n_t, cells)
    return 0


def report(rows, n_q, n_t, cells) -> None:
    gcups = [(name, c / statistics.median(t) / 1e9, len(t)) for name, c, t in rows]
    ours = gcups[0][1]
    print(f"\nSingle core, BLOSUM62 11/1, {n_q} queries x {n_t} UniProt proteins "
          f"({cells:.3g} cells); all scores identical to parasail.\n")
    print("| tool | GCUPS (median) | runs | ours / tool |")
    print("|---|---:|---:|---:|")
    for name, g, n in gcups:
        print(f"| {name} | {g:.3f} | {n} | {ours / g:.1f}x |")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    OUT.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.barh([n for n, _, _ in gcups][::-1], [g for _, g, _ in gcups][::-1], color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlabel("GCUPS, one core (log scale)")
    ax.set_title(f"Smith-Waterman, {n_q} queries x {n_t} proteins")
    fig.tight_layout()
    fig.savefig(OUT / "align.png", dpi=120)
    print(f"\nplot: {OUT / 'align.png'}")


if __name__ == "__main__":
    sys.exit(main())
