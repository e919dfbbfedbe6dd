"""Tiles, halos and halo strips for the shallow-water model (NumPy only).

A *tile* is a rectangle of cells of the global grid; its state is the
array ``(nfields, ty, tx)`` of its interior (the fields of
:mod:`hpcmicro.kernels.shallow_water`, previous tendencies included).  To
advance a tile by ``k`` steps it needs a halo of ``k`` cells on every side,
corners included (the C-grid stencil reads diagonal neighbours).

The API is built so that tiles can stay resident on workers and only
halo strips travel:

* :class:`TileGrid` splits the grid and names each tile's 8 neighbours;
* :func:`halo_strips` cuts from a tile interior the 8 pieces its
  neighbours need (keyed by the direction of the *receiving* neighbour);
* :func:`assemble` builds a padded tile from an interior plus the strips
  received (keyed by the direction of the *sending* neighbour);
* :func:`extract_padded` does both at once from global arrays (used to
  start, and for static fields such as topography);
* :func:`interior` and :func:`insert` keep and place the result.

Notes
-----
Both directions are periodic for the purpose of filling halos, also in a
channel: there the rows beyond a wall are never used by the kernel except
``v`` on the wall row, which is the periodic image of ``v[0] = 0``.  A halo
must not exceed the smallest tile extent, so that each halo strip comes
from one neighbour; :meth:`TileGrid.build` splits an extent as evenly as
possible (sizes differ by at most one, none above the requested size), so
any grid size works and every cell is computed exactly once.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["DIRECTIONS", "OPPOSITE", "TileGrid", "split_extent",
           "extract_padded", "halo_strips", "assemble", "interior", "insert"]

#: direction name -> (dj, di); j grows northwards, i eastwards.
DIRECTIONS = {"s": (-1, 0), "n": (1, 0), "w": (0, -1), "e": (0, 1),
              "sw": (-1, -1), "se": (-1, 1), "nw": (1, -1), "ne": (1, 1)}
OPPOSITE = {"s": "n", "n": "s", "w": "e", "e": "w",
            "sw": "ne", "ne": "sw", "se": "nw", "nw": "se"}


def split_extent(n: int, size: int) -> np.ndarray:
    """Split ``n`` cells into ``ceil(n / size)`` nearly equal parts.

    Returns
    -------
    numpy.ndarray
        Int64 edges of length ``parts + 1``, from 0 to ``n``.
    """
    if n < 1 or size < 1:
        raise ValueError(f"need n >= 1 and size >= 1, got n={n}, size={size}")
    parts = -(-n // size)
    base, extra = divmod(n, parts)
    sizes = np.full(parts, base, dtype=np.int64)
    sizes[:extra] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


@dataclasses.dataclass(frozen=True)
class TileGrid:
    """A tensor-product tiling of an ``ny`` by ``nx`` grid.

    Tile ids run row-major: ``tid = tj * n_cols + ti`` (``tj`` along y).
    """

    ny: int
    nx: int
    row_edges: tuple
    col_edges: tuple

    @classmethod
    def build(cls, ny: int, nx: int, tile: int | tuple[int, int]) -> "TileGrid":
        """Tile an ``ny x nx`` grid with tiles of at most ``tile`` cells a side.

        ``tile`` is an int (square) or ``(ty, tx)``.
        """
        ty, tx = (tile, tile) if np.isscalar(tile) else tile
        return cls(int(ny), int(nx), tuple(int(e) for e in split_extent(ny, int(ty))),
                   tuple(int(e) for e in split_extent(nx, int(tx))))

    @property
    def shape(self) -> tuple[int, int]:
        """Tiles along y and x."""
        return len(self.row_edges) - 1, len(self.col_edges) - 1

    @property
    def n_tiles(self) -> int:
        """Number of tiles."""
        return self.shape[0] * self.shape[1]

    @property
    def min_extent(self) -> int:
        """Smallest tile side: the largest halo this tiling supports."""
        return int(min(np.diff(self.row_edges).min(), np.diff(self.col_edges).min()))

    def bounds(self, tid: int) -> tuple[int, int, int, int]:
        """``(j0, j1, i0, i1)`` of tile ``tid``."""
        tj, ti = divmod(int(tid), self.shape[1])
        if not 0 <= tj < self.shape[0]:
            raise IndexError(f"tile id {tid} out of range 0..{self.n_tiles - 1}")
        return (self.row_edges[tj], self.row_edges[tj + 1],
                self.col_edges[ti], self.col_edges[ti + 1])

    def neighbours(self, tid: int) -> dict[str, int]:
        """Tile id of the neighbour in each direction (periodic wrap)."""
        nty, ntx = self.shape
        tj, ti = divmod(int(tid), ntx)
        return {d: ((tj + dj) % nty) * ntx + (ti + di) % ntx
                for d, (dj, di) in DIRECTIONS.items()}

    def check_halo(self, halo: int) -> None:
        """Raise ValueError if ``halo`` exceeds the smallest tile extent."""
        if halo > self.min_extent:
            raise ValueError(f"halo of {halo} cells exceeds the smallest tile extent "
                             f"{self.min_extent}; take fewer steps per task or "
                             f"use larger tiles")


def extract_padded(fields: np.ndarray, bounds, halo: int) -> np.ndarray:
    """Copy a tile and its halo out of global arrays (periodic wrap).

    Parameters
    ----------
    fields : numpy.ndarray
        ``(nfields, ny, nx)`` or ``(ny, nx)`` global arrays.
    bounds : tuple of int
        ``(j0, j1, i0, i1)``.
    halo : int
        Halo width; may exceed the grid (wraps repeatedly).

    Returns
    -------
    numpy.ndarray
        C-contiguous ``(..., j1-j0+2*halo, i1-i0+2*halo)``.
    """
    j0, j1, i0, i1 = bounds
    ny, nx = fields.shape[-2:]
    rows = np.arange(j0 - halo, j1 + halo) % ny
    cols = np.arange(i0 - halo, i1 + halo) % nx
    return np.ascontiguousarray(fields[..., rows[:, None], cols[None, :]])


def halo_strips(tile: np.ndarray, halo: int) -> dict[str, np.ndarray]:
    """Cut the pieces of a tile interior that its neighbours need.

    Parameters
    ----------
    tile : numpy.ndarray
        Interior ``(nfields, ty, tx)``.
    halo : int
        Halo width of the receivers (at most ``ty`` and ``tx``).

    Returns
    -------
    dict
        Direction of the receiving neighbour -> contiguous copy: ``"n"`` is
        the top ``halo`` rows, ``"ne"`` the top-right ``halo x halo`` block,
        and so on.
    """
    ty, tx = tile.shape[-2:]
    if not 0 <= halo <= min(ty, tx):
        raise ValueError(f"halo {halo} does not fit a {ty}x{tx} tile")
    r = {"s": slice(0, halo), "n": slice(ty - halo, ty), "": slice(0, ty)}
    c = {"w": slice(0, halo), "e": slice(tx - halo, tx), "": slice(0, tx)}
    out = {}
    for d in DIRECTIONS:
        rs = r[d[0]] if d[0] in "sn" else r[""]
        cs = c[d[-1]] if d[-1] in "we" else c[""]
        out[d] = np.ascontiguousarray(tile[..., rs, cs])
    return out


def assemble(tile: np.ndarray, strips: dict[str, np.ndarray], halo: int) -> np.ndarray:
    """Build a padded tile from its interior and its neighbours' strips.

    Parameters
    ----------
    tile : numpy.ndarray
        Interior ``(nfields, ty, tx)``.
    strips : dict
        Direction of the *sending* neighbour -> the strip it cut for us,
        i.e. ``strips[d] = halo_strips(neighbour[d], halo)[OPPOSITE[d]]``.
    halo : int
        Halo width.

    Returns
    -------
    numpy.ndarray
        C-contiguous ``(nfields, ty + 2 halo, tx + 2 halo)``.
    """
    ty, tx = tile.shape[-2:]
    out = np.empty(tile.shape[:-2] + (ty + 2 * halo, tx + 2 * halo), dtype=tile.dtype)
    out[..., halo:halo + ty, halo:halo + tx] = tile
    r = {"s": slice(0, halo), "n": slice(halo + ty, ty + 2 * halo)}
    c = {"w": slice(0, halo), "e": slice(halo + tx, tx + 2 * halo)}
    for d in DIRECTIONS:
        rs = r[d[0]] if d[0] in "sn" else slice(halo, halo + ty)
        cs = c[d[-1]] if d[-1] in "we" else slice(halo, halo + tx)
        piece = strips[d]
        want = out[..., rs, cs].shape
        if piece.shape != want:
            raise ValueError(f"strip from '{d}' has shape {piece.shape}, expected {want}")
        out[..., rs, cs] = piece
    return out


def interior(padded: np.ndarray, halo: int) -> np.ndarray:
    """The interior of a padded tile, as a contiguous copy."""
    if halo == 0:
        return np.ascontiguousarray(padded)
    return np.ascontiguousarray(padded[..., halo:-halo, halo:-halo])


def insert(fields: np.ndarray, tile: np.ndarray, bounds) -> None:
    """Write a tile interior back into global arrays in place."""
    j0, j1, i0, i1 = bounds
    fields[..., j0:j1, i0:i1] = tile
