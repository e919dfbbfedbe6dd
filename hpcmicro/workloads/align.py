"""``align``: exact Smith-Waterman search of query sequences against a database.

A task is a block of ``queries_per_task`` queries against one chunk of the
database; its estimated cost is the number of DP cells (sum of query lengths
times the chunk's residues).  Each worker reads both FASTA files once
(:meth:`Align.setup_worker`) and returns, per query, the chunk's top-k
targets and scores.  :meth:`Align.finalize` merges the partial lists, aligns
each reported hit once more for coordinates, identities and a CIGAR (the
hits of a query side by side in SIMD lanes, :func:`sw_align_many`), and
writes one row per hit under ``/align``.  :func:`export` writes BLAST
tabular output (outfmt 6).

Ordering and ties: rows are grouped by query in file order; within a query,
score descending, then target index ascending.  Score-0 hits are never
reported.  The alignment of a hit is the one :func:`sw_align` documents
(end cell with the smallest target end, then query end; diagonal, then
query-gap, then target-gap preference).

Statistics: E = K m n exp(-lambda S) with m the query length and n the total
number of database residues, bit score = (lambda S - ln K) / ln 2, using NCBI
BLAST's published gapped lambda and K for the scheme.  NCBI charges a gap of
length k ``existence + k * extension``; hpcmicro charges ``gap_open +
(k - 1) * gap_extend``, so the lookup uses ``existence = gap_open -
gap_extend`` (BLASTP's default 11/1 is ``gap_open = 12, gap_extend = 1``
here).  A scheme without published parameters gets NaN E-values and bit
scores, and the group attribute ``evalue_note`` says why.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError, HpcmicroError
from .base import Workload, option

#: Residues per database chunk when ``db_chunks = 0`` (about a second of
#: kernel time per task with 16 average-length protein queries).
AUTO_CHUNK_RESIDUES = 2_000_000

_HIT_FIELDS = ("query", "target", "score", "bitscore", "evalue", "pident", "length",
               "mismatch", "gapopen", "qstart", "qend", "sstart", "send", "cigar")


@dataclasses.dataclass(frozen=True)
class AlignParams:
    """Parameters of the ``[align]`` table."""

    queries: str = option("", help="query FASTA (plain or .gz), relative to the job file")
    database: str = option("", help="database FASTA (plain or .gz), relative to the job file")
    alphabet: str = option("protein", help="sequence alphabet", choices=("protein", "dna"))
    matrix: str = option("BLOSUM62", help="protein substitution matrix",
                         choices=("BLOSUM45", "BLOSUM50", "BLOSUM62", "BLOSUM80",
                                  "PAM30", "PAM70", "PAM250"))
    match: int = option(2, help="dna: score of a match", min=1, max=127)
    mismatch: int = option(-3, help="dna: score of a mismatch (negative)", min=-127, max=-1)
    gap_open: int = option(11, help="cost of a gap of length 1 (open + (k-1)*extend)",
                           min=1, max=255)
    gap_extend: int = option(1, help="cost of each further gap position", min=0, max=255)
    top_k: int = option(10, help="hits reported per query", min=1, max=100_000)
    queries_per_task: int = option(16, help="queries in one task", min=1)
    db_chunks: int = option(0, help="database chunks (0: about 2M residues each)", min=0)


class Align(Workload):
    """Smith-Waterman search, queries x database chunks."""

    name = "align"
    Params = AlignParams
    #: Threads that align the reported hits in :meth:`finalize` (None: every
    #: CPU this process may use).
    align_threads: int | None = None

    def __init__(self, params: AlignParams, job: Any):
        super().__init__(params, job)
        self._queries = None
        self._db = None
        self._packed: dict = {}
        self._warming: threading.Thread | None = None

    # -- configuration ----------------------------------------------------
    def _path(self, value: str, key: str) -> Path:
        if not value:
            raise ConfigError(f"{key} is missing: give the path of a FASTA file", key=f"align.{key}")
        p = Path(value).expanduser()
        if not p.is_absolute():
            p = Path(getattr(self.job, "base_dir", Path.cwd())) / p
        return p

    def check(self) -> None:
        """Check paths and the scoring scheme (ConfigError names the key)."""
        p = self.params
        for key in ("queries", "database"):
            path = self._path(getattr(p, key), key)
            if not path.is_file():
                raise ConfigError(f"{key} file {str(path)!r} does not exist (relative paths are "
                                  "relative to the job file's directory)", key=f"align.{key}")
        if p.gap_extend > p.gap_open:
            raise ConfigError(f"gap_extend = {p.gap_extend} is larger than gap_open = "
                              f"{p.gap_open}; a gap of length 1 costs gap_open",
                              key="align.gap_extend")

    def scoring(self) -> tuple[np.ndarray, str]:
        """Return the substitution matrix and a description of the scheme."""
        from hpcmicro.kernels import smith_waterman as sw
        p = self.params
        if p.alphabet == "dna":
            return (sw.dna_matrix(p.match, p.mismatch),
                    f"dna match {p.match} mismatch {p.mismatch}, gaps {p.gap_open}/{p.gap_extend}")
        return sw.load_matrix(p.matrix), f"{p.matrix}, gaps {p.gap_open}/{p.gap_extend}"

    def karlin_altschul(self) -> tuple[float, float, bool, str]:
        """Return ``(lambda, K, even_only, note)``; NaN and a reason if unknown."""
        from hpcmicro.kernels import smith_waterman as sw
        p = self.params
        table = sw.karlin_altschul_table()
        existence, extension = p.gap_open - p.gap_extend, p.gap_extend
        if p.alphabet == "dna":
            key = f"{p.match},{p.mismatch}"
            rows, even = table["dna"].get(key, []), key in table["dna_even_scores_only"]
        else:
            key, rows, even = p.matrix, table["protein"].get(p.matrix, []), False
        for ex, ext, lam, k in rows:
            if (ex, ext) == (existence, extension):
                return lam, k, even, ""
        have = ", ".join(f"{a + b}/{b}" for a, b, _, _ in rows) or "none"
        return (math.nan, math.nan, False,
                f"no published Karlin-Altschul parameters for {key} with gap_open "
                f"{p.gap_open}, gap_extend {p.gap_extend}; E-values and bit scores are NaN "
                f"(gap_open/gap_extend pairs with parameters: {have})")

    # -- data -------------------------------------------------------------
    def _load(self) -> None:
        from hpcmicro.seqio import read_fasta
        if self._db is None:
            p = self.params
            self._queries = read_fasta(self._path(p.queries, "queries"), p.alphabet)
            self._db = read_fasta(self._path(p.database, "database"), p.alphabet)

    def _layout(self) -> tuple[int, np.ndarray]:
        """Number of query blocks and the chunk boundaries (target indices)."""
        p, db = self.params, self._db
        n_blocks = -(-len(self._queries) // p.queries_per_task)
        total = int(db.offsets[-1])
        n_chunks = p.db_chunks or max(1, -(-total // AUTO_CHUNK_RESIDUES))
        n_chunks = min(n_chunks, len(db))
        # cut where the cumulative residue count crosses equal shares
        cuts = np.searchsorted(db.offsets[1:], np.arange(1, n_chunks) * total / n_chunks) + 1
        bounds = np.unique(np.concatenate([[0], cuts, [len(db)]])).astype(np.int64)
        return n_blocks, bounds

    def _task(self, task_id: int) -> tuple[int, int, int, int, int]:
        n_blocks, bounds = self._layout()
        n_chunks = len(bounds) - 1
        block, chunk = divmod(task_id, n_chunks)
        q0 = block * self.params.queries_per_task
        q1 = min(q0 + self.params.queries_per_task, len(self._queries))
        return q0, q1, int(bounds[chunk]), int(bounds[chunk + 1]), chunk

    # -- master side ------------------------------------------------------
    def make_tasks(self) -> np.ndarray:
        """Return the cost (DP cells) of every task: query block x database chunk.

        Also starts loading the alignment kernels of :meth:`finalize` in a
        background thread, so that the master does it while the workers
        search, not after them.
        """
        self._load()
        if self._warming is None:
            self._warming = threading.Thread(target=_warm_up_quietly, args=(
                self.scoring()[0], self.params.gap_open, self.params.gap_extend),
                name="hpcmicro-align-warm-up", daemon=True)
            self._warming.start()
        n_blocks, bounds = self._layout()
        qlen = self._queries.lengths()
        qpt = self.params.queries_per_task
        block_res = np.add.reduceat(qlen, np.arange(0, len(qlen), qpt)).astype(np.float64)
        chunk_res = np.diff(self._db.offsets[bounds]).astype(np.float64)
        return np.outer(block_res, chunk_res).ravel()

    def result_fields(self) -> Mapping[str, tuple[tuple[int, ...], str]]:
        """Per task: each query's top-k targets (-1 pads) and scores (0 pads)."""
        shape = (self.params.queries_per_task, self.params.top_k)
        return {"hit_target": (shape, "int32"), "hit_score": (shape, "int32")}

    # -- worker side ------------------------------------------------------
    def prepare_worker(self) -> None:
        """Read both FASTA files and load the search kernels, before the job starts.

        Needs nothing of the output file, so the runtime may call it in a
        background thread while rank 0 prepares (see
        :class:`hpcmicro.runner.WorkerSetup`).
        """
        from hpcmicro.kernels import smith_waterman as sw
        self._load()
        sw.warm_up(self.scoring()[0], self.params.gap_open, self.params.gap_extend)

    def setup_worker(self) -> None:
        """Read the queries and the database once per rank (if not done already)."""
        self._load()

    def run_task(self, task_id: int) -> Mapping[str, Any]:
        """Score one query block against one database chunk; keep each top k."""
        from hpcmicro.kernels import smith_waterman as sw
        self._load()
        p = self.params
        q0, q1, t0, t1, chunk = self._task(task_id)
        qs, db = self._queries, self._db
        mat, _ = self.scoring()
        tcat = db.codes[db.offsets[t0]:db.offsets[t1]]
        toff = db.offsets[t0:t1 + 1] - db.offsets[t0]
        if chunk not in self._packed:
            self._packed[chunk] = sw.pack_targets(tcat, toff, mat.shape[0])
        qcat = qs.codes[qs.offsets[q0]:qs.offsets[q1]]
        qoff = qs.offsets[q0:q1 + 1] - qs.offsets[q0]
        scores = sw.search(qcat, qoff, tcat, toff, mat, p.gap_open, p.gap_extend,
                           packed=self._packed[chunk])
        targets = np.full((p.queries_per_task, p.top_k), -1, np.int32)
        best = np.zeros((p.queries_per_task, p.top_k), np.int32)
        for r in range(q1 - q0):
            idx = top_hits(scores[r], p.top_k)
            targets[r, :idx.size] = idx + t0
            best[r, :idx.size] = scores[r, idx]
        return {"hit_target": targets, "hit_score": best}

    # -- merge and write ----------------------------------------------------
    def finalize(self, group, done: np.ndarray) -> None:
        """Merge the partial top-k lists, align the hits and write ``/align``.

        The hits are aligned on :attr:`align_threads` threads (the workers
        are idle by now); rows and their order do not depend on how many.
        """
        self._load()
        if self._warming is not None:
            self._warming.join()
        p, qs, db = self.params, self._queries, self._db
        mat, scheme = self.scoring()
        n_blocks, bounds = self._layout()
        n_chunks = len(bounds) - 1
        all_t = group["hit_target"][...]
        all_s = group["hit_score"][...]
        lam, k, even_only, note = self.karlin_altschul()
        n_res = float(db.offsets[-1])
        hits: list[tuple[int, int, int]] = []       # (query, target, score), in row order
        incomplete = 0
        for block in range(n_blocks):
            tasks = np.arange(block * n_chunks, (block + 1) * n_chunks)
            ok = tasks[np.asarray(done, bool)[tasks]]
            q0 = block * p.queries_per_task
            nq = min(p.queries_per_task, len(qs) - q0)
            if len(ok) < len(tasks):
                incomplete += nq
            for r in range(nq):
                t = all_t[ok, r].ravel()
                s = all_s[ok, r].ravel()
                keep = t >= 0
                t, s = t[keep], s[keep]
                order = np.lexsort((t, -s))[:p.top_k]
                hits += [(q0 + r, tgt, score)
                         for tgt, score in zip(t[order].tolist(), s[order].tolist())]
        aligned = align_pairs(qs, db, [(q, tgt) for q, tgt, _ in hits], mat, p.gap_open,
                              p.gap_extend, self.align_threads)
        rows: dict[str, list] = {f: [] for f in _HIT_FIELDS}
        for (q, tgt, score), al in zip(hits, aligned):
            if al.score != score:
                raise HpcmicroError(f"internal error: traceback score {al.score} != "
                                    f"kernel score {score} (query {q}, target {tgt})")
            stat_s = score - (score & 1) if even_only else score
            m = float(qs.offsets[q + 1] - qs.offsets[q])
            rows["query"].append(q)
            rows["target"].append(tgt)
            rows["score"].append(score)
            rows["bitscore"].append((lam * stat_s - math.log(k)) / math.log(2))
            rows["evalue"].append(k * m * n_res * math.exp(-lam * stat_s))
            rows["pident"].append(100.0 * al.identities / al.length)
            rows["length"].append(al.length)
            rows["mismatch"].append(al.mismatches)
            rows["gapopen"].append(al.gap_opens)
            rows["qstart"].append(al.qstart)
            rows["qend"].append(al.qend)
            rows["sstart"].append(al.sstart)
            rows["send"].append(al.send)
            rows["cigar"].append(al.cigar)
        _write_hits(group, qs.ids, db.ids, rows)
        group.attrs.update({
            "scheme": scheme, "alphabet": p.alphabet, "gap_open": p.gap_open,
            "gap_extend": p.gap_extend, "top_k": p.top_k,
            "karlin_lambda": lam, "karlin_K": k, "evalue_note": note,
            "search_space": "query length x total database residues "
                            f"({int(n_res)}), no edge-effect correction",
            "tie_break": "score descending, then target index ascending",
            "queries_incomplete": incomplete,
        })


def _warm_up_quietly(matrix: np.ndarray, gap_open: int, gap_extend: int) -> None:
    """Load the search and alignment kernels; a failure here resurfaces where they run."""
    from hpcmicro.kernels import smith_waterman as sw
    try:
        sw.warm_up(matrix, gap_open, gap_extend, align=True)
    except Exception:
        pass


def usable_cpus() -> int:
    """The number of CPUs this process may run on (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not Linux
        return os.cpu_count() or 1


def align_pairs(queries, targets, pairs: list, matrix: np.ndarray, gap_open: int,
                gap_extend: int, threads: int | None = None) -> list:
    """Return ``sw_align`` of each ``(query, target)`` index pair, in order.

    The pairs of one query are aligned together by ``sw_align_many`` (its hits
    side by side in SIMD lanes); queries are spread over threads.

    Parameters
    ----------
    queries, targets : hpcmicro.seqio.Sequences
    pairs : list of (int, int)
    matrix, gap_open, gap_extend
        The scoring scheme.
    threads : int, optional
        Threads to align on (default :func:`usable_cpus`); the alignment
        kernels release the GIL.  The result does not depend on it.
    """
    from hpcmicro.kernels import smith_waterman as sw
    from hpcmicro.kernels.sw_traceback import TB_LANES
    by_query: dict[int, list[int]] = {}
    for k, (q, _) in enumerate(pairs):
        by_query.setdefault(q, []).append(k)

    def one(q: int) -> list:
        ks = by_query[q]
        return sw.sw_align_many(queries.get(q), [targets.get(pairs[k][1]) for k in ks], matrix,
                                gap_open, gap_extend)

    qlen, tlen = np.diff(queries.offsets), np.diff(targets.offsets)
    work = {q: int(qlen[q]) * max(int(tlen[pairs[k][1]]) for k in ks) * -(-len(ks) // TB_LANES)
            for q, ks in by_query.items()}
    order = sorted(by_query, key=lambda q: -work[q])     # largest first: an even finish
    threads = min(threads or usable_cpus(), len(order))
    out: list = [None] * len(pairs)
    if threads <= 1:
        results = [one(q) for q in order]
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="hpcmicro-align") as pool:
            results = list(pool.map(one, order))
    for q, als in zip(order, results):
        for k, al in zip(by_query[q], als):
            out[k] = al
    return out


def top_hits(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best positive scores: score descending, index ascending."""
    pos = np.flatnonzero(scores > 0)
    if pos.size > k:  # cut to the k-th best score (ties included), then sort exactly
        kth = np.partition(scores[pos], pos.size - k)[pos.size - k]
        pos = pos[scores[pos] >= kth]
    order = np.lexsort((pos, -scores[pos]))
    return pos[order[:k]]


def _write_hits(group, query_ids: list, target_ids: list, rows: dict) -> None:
    import h5py
    text = h5py.string_dtype("utf-8")
    dtypes = {"bitscore": "f8", "evalue": "f8", "pident": "f8", "cigar": text}
    for name in ("query_names", "target_names", *_HIT_FIELDS):
        if name in group:
            del group[name]
    group.create_dataset("query_names", data=np.array(query_ids, dtype=object), dtype=text)
    group.create_dataset("target_names", data=np.array(target_ids, dtype=object), dtype=text)
    for name in _HIT_FIELDS:
        dt = dtypes.get(name, "i4")
        data = np.array(rows[name], dtype=object if dt is text else dt)
        group.create_dataset(name, data=data, dtype=dt, shape=(len(rows[name]),))


def export(h5file, fmt: str, out) -> None:
    """Write the hits of an ``align`` output as BLAST tabular output (outfmt 6).

    Parameters
    ----------
    h5file : h5py.File
        An output file of a finished ``align`` job.
    fmt : str
        ``"tsv"``: qseqid sseqid pident length mismatch gapopen qstart qend
        sstart send evalue bitscore, tab-separated, one hit per line.
    out : text stream
        Where to write.  When E-values are unknown for the scheme, a first
        line starting with ``#`` says so and those columns read ``NA``.
    """
    if fmt != "tsv":
        raise ConfigError(f"unknown export format {fmt!r} for align; choose from tsv")
    g = h5file["align"]
    if "query" not in g:
        raise HpcmicroError("this align output has no hits table: the job did not finish "
                            "(run it again with --resume)")
    note = g.attrs.get("evalue_note", "")
    if note:
        out.write(f"# {note}\n")
    qn = [s.decode() if isinstance(s, bytes) else s for s in g["query_names"][...]]
    tn = [s.decode() if isinstance(s, bytes) else s for s in g["target_names"][...]]
    cols = {f: g[f][...] for f in _HIT_FIELDS if f != "cigar"}
    for r in range(cols["query"].shape[0]):
        e, b = cols["evalue"][r], cols["bitscore"][r]
        evalue = "NA" if math.isnan(e) else _blast_evalue(e)
        bits = "NA" if math.isnan(b) else f"{b:.1f}"
        out.write(f"{qn[cols['query'][r]]}\t{tn[cols['target'][r]]}\t{cols['pident'][r]:.3f}\t"
                  f"{cols['length'][r]}\t{cols['mismatch'][r]}\t{cols['gapopen'][r]}\t"
                  f"{cols['qstart'][r]}\t{cols['qend'][r]}\t{cols['sstart'][r]}\t"
                  f"{cols['send'][r]}\t{evalue}\t{bits}\n")


def _blast_evalue(e: float) -> str:
    if e < 1e-180:
        return "0.0"
    if e < 0.1:
        return f"{e:.2e}"
    return f"{e:.3g}"


__all__ = ["Align", "AlignParams", "align_pairs", "export", "top_hits", "usable_cpus"]
