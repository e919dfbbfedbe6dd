"""Exact Smith-Waterman local alignment with affine gaps (Gotoh).

Scores follow parasail's conventions exactly: a gap of length ``k`` costs
``gap_open + (k - 1) * gap_extend`` and a score is the best cell of the local
alignment matrix (0 when nothing aligns).  ``parasail.sw(s1, s2, gap_open,
gap_extend, matrix).score`` equals :func:`sw_score` for every pair.

Letters and their codes
-----------------------
Protein sequences use parasail's letter order ``ARNDCQEGHILKMFPSTWYVBZX*``.
``B``, ``Z`` and ``X`` have their own rows in every supported matrix; ``*``
has its row too.  ``U`` (selenocysteine), ``O`` (pyrrolysine) and ``J``
(Leu/Ile) are not in the published matrices: like parasail, which maps every
unknown letter to ``*``, they are scored as ``*``.  DNA sequences use
``ACGTN``: ``A, C, G, T`` score ``match``/``mismatch`` and ``N`` scores 0
against everything (as parasail's ``matrix_create("ACGT", match, mismatch)``
does).  Lowercase letters are the same as uppercase.

The fast path
-------------
:func:`search` scores many queries against a packed database
(:func:`pack_targets`): :data:`LANES` database sequences are aligned side
by side, the lane being the innermost, contiguous dimension (SWIPE-style
inter-sequence SIMD), each lane holding one target after another, in
signed 8-bit arithmetic (the kernels and how they are made to vectorise
are in :mod:`.sw_simd`).  Pairs whose 8-bit score could have overflowed
are rescored exactly: per query in 16 lanes of 16-bit arithmetic, and in
32-bit scalar code if even that could have overflowed.
"""

from __future__ import annotations

import json
import pathlib
from typing import NamedTuple

import numba
import numpy as np

from .sw_simd import LANES8, LANES16, PROF, QROWS, ROWS, STRIP, search_i8, search_i16

#: Database sequences aligned side by side by the 8-bit kernel.
LANES = LANES8
#: Most letters a matrix may have (the kernels' profile rows, less the pad letter).
MAX_LETTERS = ROWS - PROF - 1

PROTEIN_LETTERS = "ARNDCQEGHILKMFPSTWYVBZX*"
#: Letters outside the matrices, scored as ``*`` (parasail does the same).
PROTEIN_AS_STOP = "UOJ"
DNA_LETTERS = "ACGTN"
MATRIX_NAMES = ("BLOSUM45", "BLOSUM50", "BLOSUM62", "BLOSUM80", "PAM30", "PAM70", "PAM250")
#: Code of a letter not allowed by the alphabet in :func:`letter_codes`.
INVALID = 255

_DATA = pathlib.Path(__file__).resolve().parent / "data" / "matrices.json"
_CACHE: dict = {}


def _data() -> dict:
    if "json" not in _CACHE:
        _CACHE["json"] = json.loads(_DATA.read_text())
    return _CACHE["json"]


def letter_codes(alphabet: str) -> np.ndarray:
    """Return the byte -> code lookup table of an alphabet.

    Parameters
    ----------
    alphabet : {"protein", "dna"}

    Returns
    -------
    numpy.ndarray
        ``uint8[256]``; ``table[ord(letter)]`` is the code of a letter (either
        case) or :data:`INVALID`.
    """
    table = np.full(256, INVALID, np.uint8)
    if alphabet == "protein":
        letters, extra = PROTEIN_LETTERS, {c: PROTEIN_LETTERS.index("*") for c in PROTEIN_AS_STOP}
    elif alphabet == "dna":
        letters, extra = DNA_LETTERS, {}
    else:
        raise ValueError(f"unknown alphabet {alphabet!r}; choose from 'protein', 'dna'")
    for code, c in enumerate(letters):
        table[ord(c)] = table[ord(c.lower())] = code
    for c, code in extra.items():
        table[ord(c)] = table[ord(c.lower())] = code
    return table


def load_matrix(name: str) -> np.ndarray:
    """Return a published substitution matrix as ``int32[24, 24]``.

    Parameters
    ----------
    name : str
        One of :data:`MATRIX_NAMES` (case-insensitive).

    Returns
    -------
    numpy.ndarray
        Scores in the letter order :data:`PROTEIN_LETTERS`.
    """
    key = name.upper()
    if key not in MATRIX_NAMES:
        raise ValueError(f"unknown matrix {name!r}; choose from {', '.join(MATRIX_NAMES)}")
    return np.array(_data()["matrices"][key], dtype=np.int32)


def dna_matrix(match: int, mismatch: int) -> np.ndarray:
    """Return the ``int32[5, 5]`` matrix of ``ACGTN`` (``N`` scores 0)."""
    m = np.full((5, 5), mismatch, np.int32)
    np.fill_diagonal(m, match)
    m[4, :] = 0
    m[:, 4] = 0
    return m


def karlin_altschul_table() -> dict:
    """Return NCBI BLAST's published gapped Karlin-Altschul parameters.

    Returns
    -------
    dict
        ``{"protein": {matrix: [[existence, extension, lambda, K], ...]},
        "dna": {"match,mismatch": [...]}, "dna_even_scores_only": [...]}`` in
        NCBI's gap convention (a gap of length k costs existence + k*extension).
    """
    return _data()["karlin_altschul"]


def _check_scheme(matrix: np.ndarray, gap_open: int, gap_extend: int) -> np.ndarray:
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or not 1 <= m.shape[0] <= MAX_LETTERS:
        raise ValueError(f"matrix must be square with at most {MAX_LETTERS} letters, got {m.shape}")
    if m.min() < -127 or m.max() > 127:
        raise ValueError("matrix scores must lie in -127..127")
    if not (0 <= gap_extend <= gap_open <= 255):
        raise ValueError(f"need 0 <= gap_extend <= gap_open <= 255, got {gap_open}, {gap_extend}")
    return m.astype(np.int32)


# ----------------------------------------------------------------- scalar exact kernels
@numba.njit(cache=True, nogil=True)
def _sw_score_i32(q, t, mat, gap_open, gap_extend):
    n = t.shape[0]
    h = np.zeros(n + 1, np.int32)
    e = np.zeros(n + 1, np.int32)
    best = 0
    for i in range(q.shape[0]):
        row = mat[q[i]]
        diag = 0
        f = -(1 << 30)
        hleft = 0
        for j in range(1, n + 1):
            ej = max(e[j] - gap_extend, h[j] - gap_open)
            f = max(f - gap_extend, hleft - gap_open)
            hj = max(0, diag + row[t[j - 1]], ej, f)
            diag = h[j]
            h[j] = hj
            e[j] = ej
            hleft = hj
            if hj > best:
                best = hj
    return best


def sw_score(query: np.ndarray, target: np.ndarray, matrix: np.ndarray,
             gap_open: int, gap_extend: int) -> int:
    """Return the exact Smith-Waterman score of one pair (32-bit, scalar).

    Parameters
    ----------
    query, target : numpy.ndarray
        Letter codes (``uint8``) as made by :func:`letter_codes`.
    matrix : numpy.ndarray
        Square substitution matrix indexed by codes.
    gap_open, gap_extend : int
        Penalties (positive); a gap of length k costs open + (k-1)*extend.
    """
    m = _check_scheme(matrix, gap_open, gap_extend)
    return int(_sw_score_i32(np.asarray(query, np.uint8), np.asarray(target, np.uint8),
                             m, np.int32(gap_open), np.int32(gap_extend)))


# ----------------------------------------------------------------- batched search
class PackedTargets(NamedTuple):
    """A database laid out in ``lanes`` lanes of strips (see :func:`pack_targets`).

    Attributes
    ----------
    codes : numpy.ndarray
        ``uint8[n_strips * STRIP, lanes]``: lane ``l`` holds its targets one
        after the other, each padded with the pad code (``alphabet_size``) to
        whole strips of :data:`STRIP` columns.
    owner : numpy.ndarray
        ``int64[n_strips, lanes]``: the target in each strip of each lane, -1
        where a lane has run out of targets.
    lengths : numpy.ndarray
        ``int64[n_targets]``: target lengths in input order.
    """

    codes: np.ndarray
    owner: np.ndarray
    lengths: np.ndarray


def pack_targets(cat: np.ndarray, offsets: np.ndarray, alphabet_size: int,
                 lanes: int = LANES, subset: np.ndarray | None = None) -> PackedTargets:
    """Lay targets out in lanes for the batch kernels, wasting few columns.

    Parameters
    ----------
    cat : numpy.ndarray
        All target codes concatenated (``uint8``).
    offsets : numpy.ndarray
        ``int64[n + 1]``; target ``k`` is ``cat[offsets[k]:offsets[k + 1]]``.
    alphabet_size : int
        Number of letter codes (the pad code is this value).
    lanes : int, optional
        Targets side by side (:data:`LANES` for :func:`search`).
    subset : numpy.ndarray, optional
        Indices of the targets to pack (default: all).

    Notes
    -----
    Targets are taken longest first and each is appended to the lane that
    is shortest so far (longest-processing-time first), padded to whole
    strips: a new target starts a strip, where the kernel resets that lane.
    Lanes then end within a strip or so of each other and the padding is
    about half a strip per target (2% of the cells for UniProt proteins),
    where fixed batches of equal-length-sorted targets wasted 4% on the
    whole database and 14-22% on samples of a few thousand proteins.
    """
    offsets = np.asarray(offsets, np.int64)
    lengths = np.diff(offsets)
    sel = np.arange(lengths.shape[0]) if subset is None else np.asarray(subset, np.int64)
    by_len = sel[np.argsort(-lengths[sel], kind="stable")]
    by_len = by_len[lengths[by_len] > 0]  # an empty target scores 0 without the kernel
    strips = -(-lengths[by_len] // STRIP)
    lane, first = _assign_lanes(strips, lanes)
    n_strips = int((first + strips).max()) if by_len.shape[0] else 0
    codes = np.full((n_strips * STRIP, lanes), alphabet_size, np.uint8)
    owner = np.full((n_strips, lanes), -1, np.int64)
    _fill_lanes(np.asarray(cat, np.uint8), offsets, by_len, strips, lane, first, codes, owner)
    return PackedTargets(codes, owner, lengths)


@numba.njit(cache=True, nogil=True)
def _assign_lanes(strips, lanes):
    fill = np.zeros(lanes, np.int64)
    lane = np.empty(strips.shape[0], np.int64)
    first = np.zeros(strips.shape[0], np.int64)
    for k in range(strips.shape[0]):
        best = np.argmin(fill)
        lane[k] = best
        first[k] = fill[best]
        fill[best] += strips[k]
    return lane, first


@numba.njit(cache=True, nogil=True)
def _fill_lanes(cat, offsets, targets, strips, lane, first, codes, owner):
    for k in range(targets.shape[0]):
        t = targets[k]
        start, col = offsets[t], first[k] * STRIP
        for j in range(offsets[t + 1] - start):
            codes[col + j, lane[k]] = cat[start + j]
        for s in range(first[k], first[k] + strips[k]):
            owner[s, lane[k]] = t


def _pad_queries(qcat, qoff, pad):
    """Pad every query with the pad code to a multiple of the kernel's QROWS."""
    qlen = np.diff(qoff)
    qoff_r = np.zeros_like(qoff)
    np.cumsum(-(-qlen // QROWS) * QROWS, out=qoff_r[1:])
    qcat_r = np.full(int(qoff_r[-1]), pad, np.uint8)
    idx = np.repeat(qoff_r[:-1] - qoff[:-1], qlen) + np.arange(qcat.shape[0])
    qcat_r[idx] = qcat
    return qcat_r, qoff_r


def _profile_matrix(mat, dtype):
    """The matrix with a pad letter scoring the type's minimum against everything."""
    na = mat.shape[0]
    mb = np.full((na + 1, na + 1), np.iinfo(dtype).min, dtype)
    mb[:na, :na] = mat
    return mb


def _exact_up_to(dtype, mat) -> int:
    """Highest score a batch kernel of ``dtype`` reports exactly (see :func:`search`)."""
    return int(np.iinfo(dtype).max) - max(0, int(mat.max()))


def _rescore(query, tcat, toff, targets, mat, gap_open, gap_extend):
    """Exact scores of one query against some targets: 16-bit lanes, then 32-bit."""
    na = mat.shape[0]
    packed = pack_targets(tcat, toff, na, LANES16, targets)
    qcat, qoff = _pad_queries(query, np.array([0, query.shape[0]], np.int64), na)
    best = np.zeros((1, toff.shape[0] - 1), np.int32)
    search_i16(qcat, qoff, packed.codes, packed.owner, _profile_matrix(mat, np.int16),
               gap_open, gap_extend, best)
    scores = best[0, targets]
    for k in np.flatnonzero(scores > _exact_up_to(np.int16, mat)):
        t = targets[k]
        scores[k] = _sw_score_i32(query, tcat[toff[t]:toff[t + 1]], mat,
                                  np.int32(gap_open), np.int32(gap_extend))
    return scores


def search(qcat: np.ndarray, qoff: np.ndarray, tcat: np.ndarray, toff: np.ndarray,
           matrix: np.ndarray, gap_open: int, gap_extend: int,
           packed: PackedTargets | None = None) -> np.ndarray:
    """Return the exact Smith-Waterman score of every query against every target.

    Parameters
    ----------
    qcat, qoff : numpy.ndarray
        Query codes concatenated (``uint8``) and ``int64[n_queries + 1]`` offsets.
    tcat, toff : numpy.ndarray
        Target codes and offsets, likewise.
    matrix : numpy.ndarray
        Square substitution matrix indexed by codes.
    gap_open, gap_extend : int
        Penalties; a gap of length k costs open + (k-1)*extend.
    packed : PackedTargets, optional
        ``pack_targets(tcat, toff, len(matrix))``, to reuse between calls.

    Returns
    -------
    numpy.ndarray
        ``int32[n_queries, n_targets]`` scores, exact (equal to parasail's).

    Notes
    -----
    The 8-bit pass holds scores up to 127.  Its add can only overflow when a
    cell's diagonal predecessor exceeds ``127 - max(matrix)``; such a
    predecessor is itself a cell, so a lane whose 8-bit maximum is at most
    that never overflowed and its score is exact.  Every other pair is
    rescored (see :func:`_rescore`): by query, its targets packed in 16
    lanes of 16-bit arithmetic, with the same argument at 32767, and the
    rare pair above that in 32-bit.  On UniProt proteins with BLOSUM62 11/1
    about 0.1% of the pairs score above 116.  Gap-open penalties above 127
    do not fit the 8-bit kernel's subtraction; they run every pair in 16-bit.
    """
    mat = _check_scheme(matrix, gap_open, gap_extend)
    qoff = np.asarray(qoff, np.int64)
    toff = np.asarray(toff, np.int64)
    qcat = np.ascontiguousarray(qcat, np.uint8)
    tcat = np.ascontiguousarray(tcat, np.uint8)
    na = mat.shape[0]
    nq = qoff.shape[0] - 1
    out = np.zeros((nq, toff.shape[0] - 1), np.int32)
    if out.size == 0:
        return out
    if gap_open <= 127:  # G = max(H - gap_open, 0) in uint8
        if packed is None:
            packed = pack_targets(tcat, toff, na)
        if packed.codes.shape[1] != LANES:
            raise ValueError(f"packed targets have {packed.codes.shape[1]} lanes; "
                             f"search needs {LANES}")
        qcat_r, qoff_r = _pad_queries(qcat, qoff, na)
        search_i8(qcat_r, qoff_r, packed.codes, packed.owner, _profile_matrix(mat, np.int8),
                  gap_open, gap_extend, out)
        redo = out > _exact_up_to(np.int8, mat)
    else:
        redo = np.ones(out.shape, bool)
    for q in np.flatnonzero(redo.any(axis=1)):
        targets = np.flatnonzero(redo[q])
        out[q, targets] = _rescore(qcat[qoff[q]:qoff[q + 1]], tcat, toff, targets, mat,
                                   gap_open, gap_extend)
    return out


def warm_up(matrix: np.ndarray, gap_open: int, gap_extend: int, align: bool = False) -> None:
    """Load (or compile) the kernels that :func:`search` runs, on a tiny input.

    The first call of each compiled kernel in a process loads it from Numba's
    cache (0.3-0.6 s in all, mostly Numba's own imports); calling this while
    waiting for something else keeps that out of the first real call.  Loads
    both the 8-bit kernel and the 16-bit rescoring kernel, and with
    ``align`` also :func:`sw_align`'s.  Argument types match the real calls.
    """
    mat = _check_scheme(matrix, gap_open, gap_extend)
    codes = np.zeros(QROWS, np.uint8)
    offsets = np.array([0, QROWS], np.int64)
    for go in {gap_open, max(gap_open, 128)}:      # > 127: every pair in 16-bit
        search(codes, offsets, codes, offsets, mat, go, gap_extend)
    if align:
        sw_align_many(codes, [codes], mat, gap_open, gap_extend)
        sw_align(codes, codes, mat, gap_open, gap_extend)


# ----------------------------------------------------------------- traceback
class Alignment(NamedTuple):
    """One optimal local alignment (coordinates 1-based, inclusive)."""

    score: int
    qstart: int
    qend: int
    sstart: int
    send: int
    identities: int
    mismatches: int
    gap_opens: int
    length: int
    cigar: str


_TB_STOP, _TB_DIAG, _TB_E, _TB_F = 0, 1, 2, 3
_TB_E_EXT, _TB_F_EXT = 4, 8


#: Largest DP rectangle (cells, one byte each) :func:`sw_align` fills in a
#: single pass, finding the end cell while recording the traceback; a larger
#: pair first finds its end cell (no memory) and records only the rectangle up
#: to it.  32 MiB covers, e.g., a 2,000-residue query against a 16,000-residue
#: protein, while a few threads aligning at once stay well within memory.
TB_ONE_PASS_CELLS = 1 << 25


@numba.njit(cache=True, nogil=True)
def _fill(q, t, mat, go, ge, tb, record):
    """Best score and its end cell: smallest target end, then query end.

    With ``record``, each cell's move is written to ``tb``
    (``(len(q)+1) x (len(t)+1)``); without, ``tb`` is not touched and the
    pass needs no memory beyond two rows.
    """
    n = t.shape[0]
    h = np.zeros(n + 1, np.int32)
    e = np.zeros(n + 1, np.int32)
    best, bi, bj = 0, 0, 0
    for i in range(1, q.shape[0] + 1):
        row = mat[q[i - 1]]
        diag, hleft, f = 0, 0, -(1 << 30)
        for j in range(1, n + 1):
            e_open, e_ext = h[j] - go, e[j] - ge
            ej = max(e_open, e_ext)
            f_open, f_ext = hleft - go, f - ge
            f = max(f_open, f_ext)
            d = diag + row[t[j - 1]]
            hj = max(0, d, ej, f)
            if record:
                code = (_TB_E_EXT if e_ext > e_open else 0) | (_TB_F_EXT if f_ext > f_open else 0)
                if hj > 0:  # preference: diagonal, then E (query gap), then F
                    code |= _TB_DIAG if hj == d else (_TB_E if hj == ej else _TB_F)
                tb[i, j] = code
            diag = h[j]
            h[j], e[j], hleft = hj, ej, hj
            if hj > best or (hj == best and hj > 0 and j < bj):
                best, bi, bj = hj, i, j
    return best, bi, bj


@numba.njit(cache=True, nogil=True)
def _walk(q, t, tb, best, qend, tend):
    """Walk the recorded moves back from the end cell: ``(ops, i0, j0, ident, mism, opens)``."""
    ops = np.empty(qend + tend, np.uint8)
    n_ops, i, j, state = 0, qend, tend, _TB_DIAG
    while best > 0:
        if state == _TB_DIAG:
            src = tb[i, j] & 3
            if src == _TB_STOP:
                break
            if src == _TB_DIAG:
                ops[n_ops] = 0
                i, j = i - 1, j - 1
                if i == 0 or j == 0:
                    n_ops += 1
                    break
            else:
                state = src
                continue
        elif state == _TB_E:
            ops[n_ops] = 1
            state = _TB_E if tb[i, j] & _TB_E_EXT else _TB_DIAG
            i -= 1
        else:
            ops[n_ops] = 2
            state = _TB_F if tb[i, j] & _TB_F_EXT else _TB_DIAG
            j -= 1
        n_ops += 1
    ops = ops[:n_ops][::-1].copy()
    ident = mism = opens = 0
    a, b, prev = i, j, 3
    for k in range(n_ops):
        op = ops[k]
        if op == 0:
            if q[a] == t[b]:
                ident += 1
            else:
                mism += 1
            a, b = a + 1, b + 1
        else:
            if op != prev:
                opens += 1
            if op == 1:
                a += 1
            else:
                b += 1
        prev = op
    return ops, i, j, ident, mism, opens


@numba.njit(cache=True, nogil=True)
def _align_path(q, t, mat, go, ge, one_pass_cells):
    """One optimal alignment: ``(score, qend, tend, ops, i0, j0, ident, mism, opens)``.

    ``ops`` (0 = M, 1 = I: query letter only, 2 = D: target letter only) run
    from the start cell ``(i0, j0)`` (0-based) to the end cell (1-based).
    """
    nq, nt = q.shape[0], t.shape[0]
    if (nq + 1) * (nt + 1) <= one_pass_cells:
        tb = np.zeros((nq + 1, nt + 1), np.uint8)
        best, qend, tend = _fill(q, t, mat, go, ge, tb, True)
    else:
        best, qend, tend = _fill(q, t, mat, go, ge, np.zeros((1, 1), np.uint8), False)
        tb = np.zeros((qend + 1, tend + 1), np.uint8)
        if best > 0:
            _fill(q[:qend], t[:tend], mat, go, ge, tb, True)
    ops, i, j, ident, mism, opens = _walk(q, t, tb, best, qend, tend)
    return best, qend, tend, ops, i, j, ident, mism, opens


def sw_align(query: np.ndarray, target: np.ndarray, matrix: np.ndarray,
             gap_open: int, gap_extend: int) -> Alignment:
    """Return one optimal local alignment with BLAST-style statistics.

    Parameters
    ----------
    query, target : numpy.ndarray
        Letter codes (``uint8``).
    matrix, gap_open, gap_extend
        As for :func:`sw_score`.

    Returns
    -------
    Alignment
        Score, 1-based inclusive ``qstart..qend`` and ``sstart..send``,
        identities (same letter code), mismatches, gap openings, alignment
        length (columns) and a CIGAR with the target as reference (``M``
        aligned pair, ``I`` query letter against a gap, ``D`` target letter
        against a gap).  All zero with an empty CIGAR when the score is 0.

    Notes
    -----
    When several alignments are optimal, the end cell is the one with the
    smallest target end, then the smallest query end; walking back, each
    cell prefers the diagonal, then a gap in the target (``I``), then a gap
    in the query (``D``), and inside a gap prefers closing it (opening here)
    over extending it.  The walk stops at the first cell of score 0.  Memory
    is one byte per cell of the whole ``len(query) x len(target)`` rectangle
    up to :data:`TB_ONE_PASS_CELLS` (one pass), else of ``qend x send`` (two
    passes).  The compiled part holds no Python lock, so threads align
    different pairs in parallel.
    """
    mat = _check_scheme(matrix, gap_open, gap_extend)
    q = np.ascontiguousarray(query, np.uint8)
    t = np.ascontiguousarray(target, np.uint8)
    return _alignment(*_align_path(q, t, mat, np.int32(gap_open), np.int32(gap_extend),
                                   np.int64(TB_ONE_PASS_CELLS)))


def _alignment(score, qend, tend, ops, i0, j0, ident, mism, opens) -> Alignment:
    if score <= 0:
        return Alignment(0, 0, 0, 0, 0, 0, 0, 0, 0, "")
    return Alignment(int(score), int(i0) + 1, int(qend), int(j0) + 1, int(tend), int(ident),
                     int(mism), int(opens), int(ops.shape[0]), _cigar(ops))


#: Largest move record (bytes) of one lane group in :func:`sw_align_many`;
#: the longest targets of a group above it are aligned one pair at a time.
TB_GROUP_BYTES = 1 << 28


def sw_align_many(query: np.ndarray, targets: list, matrix: np.ndarray, gap_open: int,
                  gap_extend: int) -> list:
    """:func:`sw_align` of one query against each of ``targets``, in order.

    The same alignments, computed :data:`~.sw_traceback.TB_LANES` targets at a
    time by the lane-parallel 16-bit fill of :mod:`.sw_traceback` (targets
    grouped by length).  Pairs it cannot take are aligned one at a time:
    a group's longest targets while its move record would exceed
    :data:`TB_GROUP_BYTES`, and a pair whose score reached the 16-bit limit
    (:data:`.sw_traceback.LIMIT`); every pair of a query above 32,767 letters.
    """
    from .sw_traceback import LIMIT, TB_LANES, fill_lanes
    mat = _check_scheme(matrix, gap_open, gap_extend)
    q = np.ascontiguousarray(query, np.uint8)
    ts = [np.ascontiguousarray(t, np.uint8) for t in targets]
    out: list = [None] * len(ts)

    def alone(k: int) -> None:
        out[k] = sw_align(q, ts[k], mat, gap_open, gap_extend)

    order = sorted(range(len(ts)), key=lambda k: ts[k].shape[0])
    if q.shape[0] > 32767:          # the lanes store row numbers in int16
        for k in order:
            alone(k)
        return out
    for g in range(0, len(order), TB_LANES):
        group = order[g:g + TB_LANES]
        while group and (q.shape[0] + 1) * (ts[group[-1]].shape[0] + 1) * TB_LANES \
                > TB_GROUP_BYTES:
            alone(group.pop())
        if not group:
            continue
        n = ts[group[-1]].shape[0]
        codes = np.zeros((n, TB_LANES), np.uint8)
        lens = np.zeros(TB_LANES, np.int64)
        for lane, k in enumerate(group):
            codes[:ts[k].shape[0], lane] = ts[k]
            lens[lane] = ts[k].shape[0]
        ends, tb = fill_lanes(q, codes, lens, mat, np.int32(gap_open), np.int32(gap_extend))
        for lane, k in enumerate(group):
            best, qend, tend = (int(v) for v in ends[lane])
            if best >= LIMIT:
                alone(k)
            else:
                out[k] = _alignment(best, qend, tend, *_walk(q, ts[k], tb[:, :, lane], best,
                                                              qend, tend))
    return out


def _cigar(ops: np.ndarray) -> str:
    starts = np.flatnonzero(np.diff(ops, prepend=np.uint8(255))).tolist()
    runs = np.diff(starts + [ops.shape[0]]).tolist()
    return "".join(f"{n}{'MID'[op]}" for n, op in zip(runs, ops[starts].tolist()))


def cigar_score(query: np.ndarray, target: np.ndarray, qstart: int, sstart: int,
                cigar: str, matrix: np.ndarray, gap_open: int, gap_extend: int) -> int:
    """Score an alignment given as a CIGAR (1-based starts), for checking."""
    i, j, total, num = qstart - 1, sstart - 1, 0, ""
    for c in cigar:
        if c.isdigit():
            num += c
            continue
        k, num = int(num), ""
        if c == "M":
            for _ in range(k):
                total += int(matrix[query[i], target[j]])
                i, j = i + 1, j + 1
        else:
            total -= gap_open + (k - 1) * gap_extend
            i, j = (i + k, j) if c == "I" else (i, j + k)
    return total
