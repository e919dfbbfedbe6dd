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
(:func:`pack_targets`).  The database is sorted by length and cut into
batches of :data:`LANES` sequences which are aligned side by side, the batch
being the innermost, contiguous dimension (SWIPE-style inter-sequence SIMD),
with saturating unsigned 8-bit arithmetic.  Lanes whose 8-bit maximum could
have saturated are rescored exactly in 32-bit.

Notes
-----
How LLVM is made to vectorise without a private Numba option: all state of
the 8-bit kernel (four H rows used in rotation, E, two F rows, a running
maximum and the profile rows of one strip of target columns) lives in
**one** array allocated inside the kernel with the shape ``(STRIP + 1,
ROWS, LANES)``, whose inner two dimensions are compile-time constants.
Every access of the inner lane loop is then ``base + constant`` or
``base + 64 * (8 + letter)`` with ``letter`` a ``uint8`` from the same
allocation, so LLVM proves that the lane loop carries no memory dependence
and emits byte vectors (``vpaddusb``/``vpsubusb``/``vpmaxub``) with no
runtime overlap checks.  (Had the profile row index been an ``int64``, LLVM
could no longer bound it and fell back to overlap checks that failed: 70x
slower.)  ``ROWS`` is 33, not 32: a column stride of 2048 bytes made loads of
column ``j + 1`` falsely wait on stores to column ``j - 1`` (4K aliasing).
Two query rows are computed per pass (E and the new H of the first row stay
in registers), halving the loop-carried store-to-load chains per cell.
Every intermediate is cast back to ``np.uint8`` (Numba widens small
integers); ``min(a, 255 - b) + b`` compiles to a saturating add and
``max(a, b) - b`` to a saturating subtract.  ``tests/test_smith_waterman.py``
checks the generated assembly for those instructions.
"""

from __future__ import annotations

import json
import pathlib
from typing import NamedTuple

import numba
import numpy as np

#: Database sequences aligned side by side by the 8-bit kernel.
LANES = 64
#: Rows per column of the kernel's work array: 8 state rows + <= 25 profile rows.
ROWS = 33
#: Target columns per strip (the profile of a strip is built once per batch).
STRIP = 16
_R_HA, _R_HB, _R_HC, _R_HD, _R_E, _R_F1, _R_F2, _R_MAX, _R_PROF = 0, 1, 2, 3, 4, 5, 6, 7, 8

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
    if m.ndim != 2 or m.shape[0] != m.shape[1] or not 1 <= m.shape[0] <= ROWS - _R_PROF - 1:
        raise ValueError(f"matrix must be square with at most {ROWS - _R_PROF - 1} letters, got {m.shape}")
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


# ----------------------------------------------------------------- 8-bit batch kernel
class PackedTargets(NamedTuple):
    """A database cut into length-sorted batches of :data:`LANES` lanes.

    Attributes
    ----------
    order : numpy.ndarray
        ``int64[n_batches * LANES]``: target index of every lane, -1 for empty lanes.
    codes : numpy.ndarray
        ``uint8[total_columns, LANES]``: the batches one after the other, padded
        with the pad code (``alphabet_size``).
    offsets : numpy.ndarray
        ``int64[n_batches + 1]``: first row of each batch in ``codes``.
    lengths : numpy.ndarray
        ``int64[n_targets]``: target lengths in input order.
    """

    order: np.ndarray
    codes: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray


def pack_targets(cat: np.ndarray, offsets: np.ndarray, alphabet_size: int) -> PackedTargets:
    """Sort targets by length and lay them out as 8-bit kernel batches.

    Parameters
    ----------
    cat : numpy.ndarray
        All target codes concatenated (``uint8``).
    offsets : numpy.ndarray
        ``int64[n + 1]``; target ``k`` is ``cat[offsets[k]:offsets[k + 1]]``.
    alphabet_size : int
        Number of letter codes (the pad code is this value).
    """
    offsets = np.asarray(offsets, np.int64)
    lengths = np.diff(offsets)
    n = lengths.shape[0]
    by_len = np.argsort(-lengths, kind="stable")
    n_batches = -(-n // LANES)
    order = np.full(n_batches * LANES, -1, np.int64)
    order[:n] = by_len
    widths = np.zeros(n_batches, np.int64)
    for b in range(n_batches):
        widths[b] = lengths[by_len[b * LANES]]
    boff = np.zeros(n_batches + 1, np.int64)
    np.cumsum(widths, out=boff[1:])
    codes = np.full((int(boff[-1]), LANES), alphabet_size, np.uint8)
    _fill_batches(np.asarray(cat, np.uint8), offsets, order, boff, codes)
    return PackedTargets(order, codes, boff, lengths)


@numba.njit(cache=True, nogil=True)
def _fill_batches(cat, offsets, order, boff, codes):
    for b in range(boff.shape[0] - 1):
        for lane in range(LANES):
            k = order[b * LANES + lane]
            if k < 0:
                continue
            start = offsets[k]
            for j in range(offsets[k + 1] - start):
                codes[boff[b] + j, lane] = cat[start + j]


@numba.njit(cache=True, nogil=True, inline="always")
def _rows_strip(w, width, p1, p2, hp, h1, h2, go, ge, bias):
    # Two query rows (i, i + 1) over one strip; hp holds row i - 1.
    for jj in range(1, width + 1):
        for lane in range(LANES):
            hup = w[jj, hp, lane]
            hl1 = w[jj - 1, h1, lane]
            e1 = max(np.uint8(max(w[jj, _R_E, lane], ge) - ge), np.uint8(max(hup, go) - go))
            f1 = max(np.uint8(max(w[jj - 1, _R_F1, lane], ge) - ge), np.uint8(max(hl1, go) - go))
            p = w[jj, p1, lane]
            x = np.uint8(min(w[jj - 1, hp, lane], np.uint8(255 - p)) + p)
            x1 = max(np.uint8(max(x, bias) - bias), max(e1, f1))
            hl2 = w[jj - 1, h2, lane]
            e2 = max(np.uint8(max(e1, ge) - ge), np.uint8(max(x1, go) - go))
            f2 = max(np.uint8(max(w[jj - 1, _R_F2, lane], ge) - ge), np.uint8(max(hl2, go) - go))
            p = w[jj, p2, lane]
            x = np.uint8(min(hl1, np.uint8(255 - p)) + p)
            x2 = max(np.uint8(max(x, bias) - bias), max(e2, f2))
            w[jj, h1, lane] = x1
            w[jj, h2, lane] = x2
            w[jj, _R_E, lane] = e2
            w[jj, _R_F1, lane] = f1
            w[jj, _R_F2, lane] = f2
            w[jj, _R_MAX, lane] = max(w[jj, _R_MAX, lane], max(x1, x2))


@numba.njit(cache=True, nogil=True)
def _batch_u8(qcat, qoff, codes, c0, c1, mb, bias, go, ge, out):
    """Score every query against one batch (columns c0:c1 of codes) in uint8."""
    n = c1 - c0
    na = mb.shape[0]
    nq = qoff.shape[0] - 1
    w = np.zeros((STRIP + 1, ROWS, LANES), np.uint8)
    # border[qoff[q] + 2 * q + r]: H and F of query row r (0 = the row above row 1)
    border = np.zeros((qcat.shape[0] + 2 * nq, 2, LANES), np.uint8)
    bias8, go8, ge8 = np.uint8(bias), np.uint8(go), np.uint8(ge)
    pad = np.uint8(na)  # its profile row is all zero: the fake row of odd queries
    out[:, :] = 0
    for s0 in range(0, n, STRIP):
        width = min(STRIP, n - s0)
        for jj in range(1, width + 1):  # the strip's profile rows
            for a in range(na):
                for lane in range(LANES):
                    w[jj, _R_PROF + a, lane] = mb[a, codes[c0 + s0 + jj - 1, lane]]
        for q in range(nq):
            q0, q1 = qoff[q], qoff[q + 1]
            b0 = 2 * q
            for jj in range(STRIP + 1):
                for r in range(_R_PROF):
                    for lane in range(LANES):
                        w[jj, r, lane] = 0
            for i in range(q0, q1, 2):
                pr1 = _R_PROF + qcat[i]
                pr2 = _R_PROF + (qcat[i + 1] if i + 1 < q1 else pad)
                odd = ((i - q0) >> 1) & 1
                hp, h1, h2 = (_R_HC, _R_HD, _R_HA) if odd else (_R_HA, _R_HB, _R_HC)
                k = b0 + i + 1
                for lane in range(LANES):  # left border: column s0 of rows i, i + 1
                    w[0, h1, lane] = border[k, 0, lane]
                    w[0, _R_F1, lane] = border[k, 1, lane]
                    w[0, h2, lane] = border[k + 1, 0, lane]
                    w[0, _R_F2, lane] = border[k + 1, 1, lane]
                if odd:
                    _rows_strip(w, width, pr1, pr2, _R_HC, _R_HD, _R_HA, go8, ge8, bias8)
                else:
                    _rows_strip(w, width, pr1, pr2, _R_HA, _R_HB, _R_HC, go8, ge8, bias8)
                for lane in range(LANES):
                    border[k, 0, lane] = w[width, h1, lane]
                    border[k, 1, lane] = w[width, _R_F1, lane]
                    border[k + 1, 0, lane] = w[width, h2, lane]
                    border[k + 1, 1, lane] = w[width, _R_F2, lane]
            for jj in range(1, width + 1):
                for lane in range(LANES):
                    out[q, lane] = max(out[q, lane], w[jj, _R_MAX, lane])


@numba.njit(cache=True, nogil=True)
def _search_kernel(qcat, qoff, codes, boff, order, tcat, toff, mat, mb, bias, limit,
                   go, ge, out):
    lane_max = np.zeros((qoff.shape[0] - 1, LANES), np.uint8)
    for b in range(boff.shape[0] - 1):
        _batch_u8(qcat, qoff, codes, boff[b], boff[b + 1], mb, bias, go, ge, lane_max)
        for q in range(qoff.shape[0] - 1):
            for lane in range(LANES):
                k = order[b * LANES + lane]
                if k < 0:
                    continue
                s = np.int32(lane_max[q, lane])
                if s > limit:  # may have saturated: rescore exactly
                    s = _sw_score_i32(qcat[qoff[q]:qoff[q + 1]], tcat[toff[k]:toff[k + 1]],
                                      mat, go, ge)
                out[q, k] = s


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
    The 8-bit pass adds ``bias = -min(matrix)`` to every profile score.  A
    saturating add can only clip when a cell's diagonal predecessor exceeds
    ``limit = 255 - bias - max(matrix)``; such a predecessor is itself a
    cell, so a lane whose 8-bit maximum is at most ``limit`` never clipped and
    its score is exact.  Every other lane is rescored in 32-bit.
    Subtractions saturate at 0, which changes no score: a local-alignment
    cell only uses E and F through ``max(0, ...)``.
    """
    mat = _check_scheme(matrix, gap_open, gap_extend)
    qoff = np.asarray(qoff, np.int64)
    toff = np.asarray(toff, np.int64)
    qcat = np.ascontiguousarray(qcat, np.uint8)
    tcat = np.ascontiguousarray(tcat, np.uint8)
    na = mat.shape[0]
    if packed is None:
        packed = pack_targets(tcat, toff, na)
    bias = max(0, -int(mat.min()))
    limit = 255 - bias - max(0, int(mat.max()))
    mb = np.zeros((na, na + 1), np.uint8)  # column na: the pad code, score -bias
    mb[:, :na] = mat + bias
    out = np.zeros((qoff.shape[0] - 1, toff.shape[0] - 1), np.int32)
    if out.size:
        _search_kernel(qcat, qoff, packed.codes, packed.offsets, packed.order, tcat, toff,
                       mat, mb, bias, limit, np.int32(gap_open), np.int32(gap_extend), out)
    return out


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


@numba.njit(cache=True, nogil=True)
def _best_end(q, t, mat, go, ge):
    """Best score and its end cell: smallest target end, then query end."""
    n = t.shape[0]
    h = np.zeros(n + 1, np.int32)
    e = np.zeros(n + 1, np.int32)
    best, bi, bj = 0, 0, 0
    for i in range(1, q.shape[0] + 1):
        row = mat[q[i - 1]]
        diag, hleft, f = 0, 0, -(1 << 30)
        for j in range(1, n + 1):
            ej = max(e[j] - ge, h[j] - go)
            f = max(f - ge, hleft - go)
            hj = max(0, diag + row[t[j - 1]], ej, f)
            diag = h[j]
            h[j], e[j], hleft = hj, ej, hj
            if hj > best or (hj == best and hj > 0 and j < bj):
                best, bi, bj = hj, i, j
    return best, bi, bj


@numba.njit(cache=True, nogil=True)
def _traceback(q, t, mat, go, ge, qend, tend):
    """Trace one optimal path back from (qend, tend); returns ops reversed."""
    tb = np.zeros((qend + 1, tend + 1), np.uint8)
    h = np.zeros(tend + 1, np.int32)
    e = np.zeros(tend + 1, np.int32)
    for i in range(1, qend + 1):
        row = mat[q[i - 1]]
        diag, hleft, f = 0, 0, -(1 << 30)
        for j in range(1, tend + 1):
            code = 0
            e_open, e_ext = h[j] - go, e[j] - ge
            if e_ext > e_open:
                code |= _TB_E_EXT
            ej = max(e_open, e_ext)
            f_open, f_ext = hleft - go, f - ge
            if f_ext > f_open:
                code |= _TB_F_EXT
            f = max(f_open, f_ext)
            d = diag + row[t[j - 1]]
            hj = max(0, d, ej, f)
            if hj > 0:  # preference: diagonal, then E (query gap), then F
                code |= _TB_DIAG if hj == d else (_TB_E if hj == ej else _TB_F)
            tb[i, j] = code
            diag = h[j]
            h[j], e[j], hleft = hj, ej, hj
    ops = np.empty(qend + tend, np.uint8)  # 0 = M, 1 = I (query only), 2 = D (target only)
    n_ops, i, j, state = 0, qend, tend, _TB_DIAG
    while True:
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
    return ops[:n_ops][::-1].copy(), i, j


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
    is one byte per cell of the rectangle ``qend x send``.
    """
    mat = _check_scheme(matrix, gap_open, gap_extend)
    q = np.ascontiguousarray(query, np.uint8)
    t = np.ascontiguousarray(target, np.uint8)
    go, ge = np.int32(gap_open), np.int32(gap_extend)
    score, qend, tend = _best_end(q, t, mat, go, ge)
    if score <= 0:
        return Alignment(0, 0, 0, 0, 0, 0, 0, 0, 0, "")
    ops, i0, j0 = _traceback(q, t, mat, go, ge, qend, tend)
    ident = mism = opens = 0
    i, j, prev = i0, j0, -1
    for op in ops:
        if op == 0:
            if q[i] == t[j]:
                ident += 1
            else:
                mism += 1
            i, j = i + 1, j + 1
        else:
            if op != prev:
                opens += 1
            if op == 1:
                i += 1
            else:
                j += 1
        prev = op
    return Alignment(int(score), i0 + 1, qend, j0 + 1, tend, ident, mism, opens,
                     int(ops.shape[0]), _cigar(ops))


def _cigar(ops: np.ndarray) -> str:
    parts = []
    run_start = 0
    for k in range(1, ops.shape[0] + 1):
        if k == ops.shape[0] or ops[k] != ops[run_start]:
            parts.append(f"{k - run_start}{'MID'[ops[run_start]]}")
            run_start = k
    return "".join(parts)


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
