"""Inter-sequence SIMD Smith-Waterman kernels (SWIPE style) for :mod:`.smith_waterman`.

One query is aligned against ``lanes`` database sequences at once, the lane
being the innermost, contiguous dimension, in signed 8-bit or 16-bit
arithmetic.  :func:`smith_waterman.search` is the public entry point; this
module holds only the compiled kernels (NumPy and Numba, nothing else).

Notes
-----
Scores are stored as they are (0 is 0) and every H, E and F value lies in
``0..hi`` (127 or 32767).  A cell is::

    H = max(H_diag + s, E, F)               # plain add
    G = max(H - gap_open, 0)                # unsigned saturating subtract
    E_below = max(E - gap_extend, G)        # next row, same column
    F_right = max(F - gap_extend, G)        # same row, next column

E and F are floored at 0 through G.  That changes no H: with ``E' =
max(E, 0)`` the recurrence gives ``max(E' - ge, G) = max(E_true, 0)``, and
H itself is ``max(0, ...)``, so H >= 0 needs no operation of its own.
``E - gap_extend`` and ``H_diag + s`` for ``s >= -128`` cannot wrap below
the type's minimum.  ``H_diag + s`` wraps above ``hi`` only when
``H_diag > hi - max(matrix)``; ``H_diag`` is a cell of the same lane, so its
maximum shows it and the caller rescores every lane whose maximum is above
that.  Per cell: 6 operations that only ports 0 and 1 of an Intel core run
(5 ``vpmaxsb`` including the running maximum, 1 ``vpsubusb``) and 3 plain
adds/subtracts that port 5 also takes.  The earlier form (scores offset by
the type's minimum, so that a saturating add floored H at 0) needed 9
saturating operations, all on ports 0 and 1; the search measured 12% faster
after the change (19.1 vs 17.0 GCUPS, medians, one core).

Lanes and strips: each lane holds one target after another, each padded to
whole strips of ``STRIP`` columns (``smith_waterman.pack_targets``), so
lanes waste about half a strip per target instead of the length difference
to the longest target of a fixed batch.  Strips are processed left to right;
for each, every query is swept down in passes of ``QROWS`` rows.  At the end
of a pass the H and F values of its rows at the strip's last column (its
*border*) are saved for the next strip, masked to 0 in lanes where the
next strip starts a new target (``v & keep``, so the new target sees an
empty left edge).

How LLVM is made to vectorise without a private Numba option: all state of
the kernel lives in **one** array allocated inside it, of shape ``(columns,
ROWS, lanes)`` with the inner two dimensions compile-time constants (LLVM
cannot know that two separately allocated arrays do not overlap and guards
copies between them with runtime checks, which failed: the copies ran
scalar and took half the time).  Columns ``1..STRIP`` hold the strip: per
column the state rows listed below and the profile rows (the score of each
letter against the lane's target letter), built once per strip and used by
all queries.  Column 0 is the strip's left border; after the strip come the
border columns, ``_BPC`` passes to a column.  Every access of the lane loop
is then ``base + constant`` or ``base + lanes * (PROF + letter)`` with
``letter`` a ``uint8``, so LLVM proves that the lane loop carries no memory
dependence and emits byte or word vectors (``vpaddb``/``vpsubb``/``vpsubusb``/
``vpmaxsb``) with no runtime overlap checks.  ``QROWS`` = 4 query rows are
computed per pass and two columns per step of the lane loop, so E, the
diagonals, the running maximum and, from the first column to the second,
H and F stay in registers: per 32 cells, 9 vector operations, 2.5 loads and
1.5 stores; the kernel is bound by ports 0 and 1 (see above).  ``ROWS`` is
36, not 32: a power-of-two column stride makes loads falsely wait on
earlier stores (4K aliasing).  Pitfalls met on the
way: a compile-time strip width made LLVM unroll the cell loop 16 times (out
of the micro-op cache); ``min`` on bytes in a short loop was unrolled and
vectorised 8 bytes at a time (the masks use ``&``/``|``); closures over
Numba functions defeat Numba's cache (a fresh compile in every process), so
the helpers are module-level and generic and the closure holds constants
only.  LLVM picks 256-bit vectors on this CPU; allowing 512-bit ones
(``NUMBA_CPU_FEATURES=...,-prefer-256-bit``) measured 6% slower, and
again 5-10% slower with 128 lanes (two 512-bit vectors per row), on this
Cascade Lake machine, which seems to run 512-bit integer operations on one
port only.  Four columns per step instead of two measured 7% slower;
``QROWS`` = 8 spelled out the same way was not vectorised.
"""

from __future__ import annotations

import numba
import numpy as np

#: Query rows computed per pass over a strip.
QROWS = 4
#: Target columns per strip (their profile is built once per strip).
STRIP = 16
#: Rows per column of the work array: 11 state rows + <= 25 profile rows.
ROWS = 36
# State rows: H of the previous pass's last row (ping-pong), E entering the
# pass, H of the pass's rows 0..QROWS-2 (diagonals of the next column), F
# leaving each row to the right, and the running maximum.
_R_HT0, _R_HT1, _R_E, _R_HR = 0, 1, 2, 3
_R_F = _R_HR + QROWS - 1
_R_MAX = _R_F + QROWS
#: First profile row; row ``PROF + letter`` scores ``letter``.
PROF = _R_MAX + 1
#: Row of column 0 (free there) that masks the border saved for the next strip:
#: per lane -1 where the lane goes on with its target, 0 where the next strip
#: starts a new target (an empty left edge).
_R_KEEP = PROF
#: Passes whose left border (QROWS H and QROWS F rows) share a border column.
_BPC = ROWS // (2 * QROWS)


@numba.njit(cache=True, nogil=True, inline="always")
def _cell(d, e, f, p, go, ge, T, U):
    # H of one cell from its diagonal, E and F; returns H and the E below, F right.
    # d + p wraps only above the top (caught by the caller's rescoring); G is
    # max(H - go, 0) as an unsigned saturating subtract (``umax(h, go) - go``)
    h = max(T(d + p), max(e, f))
    hu = U(h)
    g = T(max(hu, go) - go)
    return h, max(T(e - ge), g), max(T(f - ge), g)


@numba.njit(cache=True, nogil=True, inline="always")
def _pass(w, width, prs, ht_old, ht_new, go, ge, T, U, lanes):
    # QROWS = 4 query rows over columns 1..width (even: STRIP), two columns per
    # step: F and H flow from the first column to the second in registers.
    # prs[r] < ROWS, but LLVM only knows prs[r] < PROF + 256: bounding them lets it
    # prove that profile loads at column jj never meet stores at column jj + 1
    # (else: "too many memory checks", not vectorised).  The step index t keeps
    # the column indices simple recurrences (a range with step 2 did not).
    p0, p1, p2, p3 = (min(prs[0], ROWS - 1), min(prs[1], ROWS - 1), min(prs[2], ROWS - 1),
                      min(prs[3], ROWS - 1))
    for t in range(width // 2):
        jj = 2 * t + 1
        k = 2 * t + 2
        for lane in range(lanes):
            e = w[jj, _R_E, lane]
            a0, e, f0 = _cell(w[jj - 1, ht_old, lane], e, w[jj - 1, _R_F, lane],
                              w[jj, p0, lane], go, ge, T, U)
            a1, e, f1 = _cell(w[jj - 1, _R_HR, lane], e, w[jj - 1, _R_F + 1, lane],
                              w[jj, p1, lane], go, ge, T, U)
            a2, e, f2 = _cell(w[jj - 1, _R_HR + 1, lane], e, w[jj - 1, _R_F + 2, lane],
                              w[jj, p2, lane], go, ge, T, U)
            a3, e, f3 = _cell(w[jj - 1, _R_HR + 2, lane], e, w[jj - 1, _R_F + 3, lane],
                              w[jj, p3, lane], go, ge, T, U)
            w[jj, ht_new, lane] = a3
            w[jj, _R_E, lane] = e
            e = w[k, _R_E, lane]
            b0, e, f0 = _cell(w[jj, ht_old, lane], e, f0, w[k, p0, lane], go, ge, T, U)
            b1, e, f1 = _cell(a0, e, f1, w[k, p1, lane], go, ge, T, U)
            b2, e, f2 = _cell(a1, e, f2, w[k, p2, lane], go, ge, T, U)
            b3, e, f3 = _cell(a2, e, f3, w[k, p3, lane], go, ge, T, U)
            w[k, ht_new, lane] = b3
            w[k, _R_E, lane] = e
            w[k, _R_HR, lane] = b0
            w[k, _R_HR + 1, lane] = b1
            w[k, _R_HR + 2, lane] = b2
            w[k, _R_F, lane] = f0
            w[k, _R_F + 1, lane] = f1
            w[k, _R_F + 2, lane] = f2
            w[k, _R_F + 3, lane] = f3
            m = max(max(max(a0, a1), max(a2, a3)), max(max(b0, b1), max(b2, b3)))
            w[k, _R_MAX, lane] = max(w[k, _R_MAX, lane], m)


@numba.njit(cache=True, nogil=True, inline="always")
def _load_border(w, bc, br, ht_new, lanes):
    for lane in range(lanes):
        w[0, ht_new, lane] = w[bc, br + QROWS - 1, lane]
        for r in range(QROWS - 1):
            w[0, _R_HR + r, lane] = w[bc, br + r, lane]
        for r in range(QROWS):
            w[0, _R_F + r, lane] = w[bc, br + QROWS + r, lane]


@numba.njit(cache=True, nogil=True, inline="always")
def _store_border(w, width, bc, br, ht_new, lanes):
    for lane in range(lanes):
        k = w[0, _R_KEEP, lane]
        w[bc, br + QROWS - 1, lane] = w[width, ht_new, lane] & k
        for r in range(QROWS - 1):
            w[bc, br + r, lane] = w[width, _R_HR + r, lane] & k
        for r in range(QROWS):
            w[bc, br + QROWS + r, lane] = w[width, _R_F + r, lane] & k


def _make_search(dtype, lanes: int):
    """Compile the search kernel for one integer type and lane count.

    The closure holds constants only (numba keys its cache on them); the
    helpers it calls are generic and inlined, so ``lanes`` and the types are
    compile-time constants in the loops.
    """
    T = dtype
    U = {np.int8: np.uint8, np.int16: np.uint16}[dtype]

    @numba.njit(cache=True, nogil=True)
    def search(qcat, qoff, codes, owner, mb, go, ge, out):
        """Raise ``out[q, t]`` to the best score of query q against every target t.

        ``qcat``/``qoff``: queries padded to multiples of QROWS with the pad
        letter; ``codes``/``owner``: targets laid out in lanes by
        ``smith_waterman.pack_targets``; ``mb``: the matrix with a pad row and
        column of the type's minimum; ``out``: ``int32[n_queries, n_targets]``.
        """
        na = mb.shape[0] - 1
        nq = qoff.shape[0] - 1
        n_passes = qcat.shape[0] // QROWS
        w = np.zeros((STRIP + 1 + (n_passes + _BPC - 1) // _BPC, ROWS, lanes), T)
        go_u, ge_t = U(go), T(ge)
        for s in range(owner.shape[0]):
            c0 = s * STRIP
            # STRIP, but not a compile-time constant (see the Notes)
            width = min(STRIP, codes.shape[0] - c0)
            for jj in range(1, width + 1):
                for a in range(na):
                    for lane in range(lanes):
                        w[jj, PROF + a, lane] = mb[a, codes[c0 + jj - 1, lane]]
            for lane in range(lanes):
                same = s + 1 < owner.shape[0] and owner[s, lane] == owner[s + 1, lane]
                w[0, _R_KEEP, lane] = -1 if same else 0
            for q in range(nq):
                for jj in range(STRIP + 1):
                    for lane in range(lanes):
                        w[jj, _R_HT0, lane] = 0
                        w[jj, _R_HT1, lane] = 0
                        w[jj, _R_E, lane] = 0
                        w[jj, _R_MAX, lane] = 0
                g0 = qoff[q] // QROWS
                for g in range(g0, qoff[q + 1] // QROWS):
                    i = g * QROWS
                    # the profile rows of the pass's letters (QROWS = 4 spelled out)
                    prs = (PROF + qcat[i], PROF + qcat[i + 1], PROF + qcat[i + 2],
                           PROF + qcat[i + 3])
                    bc = STRIP + 1 + g // _BPC  # this pass's border column and row
                    br = 2 * QROWS * (g % _BPC)
                    # constant row arguments in each branch keep every index affine
                    if (g - g0) & 1:
                        _load_border(w, bc, br, _R_HT0, lanes)
                        _pass(w, width, prs, _R_HT1, _R_HT0, go_u, ge_t, T, U, lanes)
                        _store_border(w, width, bc, br, _R_HT0, lanes)
                    else:
                        _load_border(w, bc, br, _R_HT1, lanes)
                        _pass(w, width, prs, _R_HT0, _R_HT1, go_u, ge_t, T, U, lanes)
                        _store_border(w, width, bc, br, _R_HT1, lanes)
                for jj in range(1, width + 1):
                    for lane in range(lanes):
                        w[0, _R_MAX, lane] = max(w[0, _R_MAX, lane], w[jj, _R_MAX, lane])
                for lane in range(lanes):
                    t = owner[s, lane]
                    if t >= 0:
                        out[q, t] = max(out[q, t], np.int32(w[0, _R_MAX, lane]))

    return search


#: Lanes of the 8-bit kernel (two 256-bit vectors per row).
LANES8 = 64
#: Lanes of the 16-bit kernel (one 256-bit vector per row): it rescores the
#: few pairs per query whose 8-bit score may have overflowed.
LANES16 = 16
search_i8 = _make_search(np.int8, LANES8)
search_i16 = _make_search(np.int16, LANES16)
