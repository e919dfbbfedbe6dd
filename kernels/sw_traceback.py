"""Lane-parallel traceback fill for :func:`.smith_waterman.sw_align_many`.

One query against up to :data:`TB_LANES` targets at once (its reported hits),
the lane being the innermost, contiguous dimension, in 16-bit arithmetic:
the same recurrence, end-cell rule and move codes as the scalar
``smith_waterman._fill`` with ``record``, so the walk that follows and every
alignment are identical; 4.2x less CPU than one pair at a time on the 500
hits of ``benchmarks/align.py`` (with 10 hits a query, 36% of the lane cells
are real: lanes are padded to the longest target of the group).

Notes
-----
Per column ``j`` the work array ``w[j, row, lane]`` holds the H of the
previous and of the current query row (ping-pong, the pair chosen by the
row's parity with constant row indices, so every access of the lane loop is
``base + constant``), E, F, and the column's best H with the first row that
reached it.  The best cell of a lane is then the smallest column whose best
equals the lane's maximum, at the first row that reached it: the scalar
kernel's "smallest target end, then query end".  The profile (the score of
each letter against the lane's target letter of each column) is a separate
read-only array; LLVM checks it against ``w`` once per lane loop.  Padding
columns score -16000 against everything, so no cell there can reach the
lane's maximum.  Values are int16.  The schemes ``smith_waterman`` accepts
(scores within -127..127, gap penalties at most 255) keep E and F above -765,
and padding cells score -16000; H never exceeds the pair's score and grows by
at most 127 a cell, so a pair whose score would pass 32,767 first records a
best H in ``[LIMIT, 32767]``: the caller redoes such a lane in 32-bit.  The
row of a column's best is int16 too: the caller takes no query above 32,767.
"""

from __future__ import annotations

import numba
import numpy as np

#: Targets aligned side by side (one 256-bit vector of int16).
TB_LANES = 16
#: Profile score of the padding beyond a lane's target.
_PAD = -16000
# rows of the work array
_R_H0, _R_H1, _R_E, _R_F, _R_B, _R_BI = 0, 1, 2, 3, 4, 5
_ROWS = 8
#: A lane whose best H reaches this may have wrapped: the caller redoes it in 32-bit.
LIMIT = 32000


@numba.njit(cache=True, nogil=True, inline="always")
def _cell(hup, eup, hleft, fleft, diag, p, go, ge, T):
    # one cell; returns H, E, F and the move code of smith_waterman._fill
    e_open = T(hup - go)
    e_ext = T(eup - ge)
    e = max(e_open, e_ext)
    f_open = T(hleft - go)
    f_ext = T(fleft - ge)
    f = max(f_open, f_ext)
    d = T(diag + p)
    h = max(max(d, T(0)), max(e, f))
    src = T(1) if h == d else (T(2) if h == e else T(3))     # diagonal, then E, then F
    code = T(T(src if h > 0 else T(0)) | T(T(4) if e_ext > e_open else T(0))
             | T(T(8) if f_ext > f_open else T(0)))
    return h, e, f, code


@numba.njit(cache=True, nogil=True, inline="always")
def _row(w, prof, tb, i, letter, n, hp, hc, go, ge, T, lanes):
    ti = T(i)
    for j in range(1, n + 1):
        for lane in range(lanes):
            hup = w[j, hp, lane]
            h, e, f, code = _cell(hup, w[j, _R_E, lane], w[j - 1, hc, lane], w[j - 1, _R_F, lane],
                                  w[j - 1, hp, lane], prof[letter, j, lane], go, ge, T)
            tb[i, j, lane] = np.uint8(code)
            w[j, hc, lane] = h
            w[j, _R_E, lane] = e
            w[j, _R_F, lane] = f
            best = w[j, _R_B, lane]
            row = w[j, _R_BI, lane]
            up = h > best
            w[j, _R_B, lane] = h if up else best
            w[j, _R_BI, lane] = ti if up else row


@numba.njit(cache=True, nogil=True)
def fill_lanes(q, tcodes, tlen, mat, go, ge):
    """Fill one query against ``tcodes`` (``uint8[n, TB_LANES]``, lane l's target
    in its first ``tlen[l]`` rows) recording the moves.

    Returns ``(ends, tb)``: ``ends[l] = (score, qend, tend)`` (1-based ends, as
    ``smith_waterman._fill``), ``tb`` the move codes ``uint8[len(q)+1, n+1, TB_LANES]``.
    """
    T = np.int16
    lanes = TB_LANES
    na = mat.shape[0]
    n = tcodes.shape[0]
    w = np.zeros((n + 1, _ROWS, lanes), T)
    prof = np.empty((na, n + 1, lanes), T)
    for a in range(na):
        for j in range(1, n + 1):
            for lane in range(lanes):
                prof[a, j, lane] = mat[a, tcodes[j - 1, lane]] if j <= tlen[lane] else T(_PAD)
    tb = np.empty((q.shape[0] + 1, n + 1, lanes), np.uint8)
    tb[0, :, :] = 0         # the edges: stop
    tb[:, 0, :] = 0
    go_t, ge_t = T(go), T(ge)
    for lane in range(lanes):
        w[0, _R_F, lane] = T(-(go_t + ge_t))   # as the scalar kernel's -inf: F never extends
    for i in range(1, q.shape[0] + 1):
        letter = min(np.int64(q[i - 1]), na - 1)
        if i & 1:
            _row(w, prof, tb, i, letter, n, _R_H0, _R_H1, go_t, ge_t, T, lanes)
        else:
            _row(w, prof, tb, i, letter, n, _R_H1, _R_H0, go_t, ge_t, T, lanes)
    ends = np.zeros((lanes, 3), np.int64)
    for lane in range(lanes):
        for j in range(1, tlen[lane] + 1):
            if w[j, _R_B, lane] > ends[lane, 0]:
                ends[lane, 0] = w[j, _R_B, lane]
                ends[lane, 1] = w[j, _R_BI, lane]
                ends[lane, 2] = j
    return ends, tb
