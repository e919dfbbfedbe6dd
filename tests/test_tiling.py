"""Tile grid, halo strips and padded-tile assembly (pure NumPy)."""

import numpy as np
import pytest

from hpcmicro.kernels import tiling


@pytest.mark.parametrize("n,size", [(32, 8), (37, 8), (100, 32), (5, 16), (2048, 256)])
def test_split_extent_covers_each_cell_once(n, size):
    e = tiling.split_extent(n, size)
    sizes = np.diff(e)
    assert e[0] == 0 and e[-1] == n
    assert sizes.max() <= size and sizes.max() - sizes.min() <= 1
    assert len(sizes) == -(-n // size)


def test_tile_grid_bounds_partition_the_grid():
    g = tiling.TileGrid.build(37, 29, (8, 10))
    count = np.zeros((37, 29), dtype=int)
    for t in range(g.n_tiles):
        j0, j1, i0, i1 = g.bounds(t)
        count[j0:j1, i0:i1] += 1
    assert np.all(count == 1)
    assert g.shape == (5, 3) and g.min_extent == 7
    with pytest.raises(IndexError):
        g.bounds(g.n_tiles)


def test_neighbours_wrap_periodically():
    g = tiling.TileGrid.build(30, 40, 10)         # 3 x 4 tiles
    nb = g.neighbours(0)
    assert nb["s"] == 8 and nb["w"] == 3 and nb["sw"] == 11
    assert nb["n"] == 4 and nb["e"] == 1 and nb["ne"] == 5
    for t in range(g.n_tiles):
        for d, other in g.neighbours(t).items():
            assert g.neighbours(other)[tiling.OPPOSITE[d]] == t


@pytest.mark.parametrize("shape,tile,halo", [((37, 29), 8, 3), ((32, 32), 16, 8),
                                             ((20, 45), (20, 12), 5), ((9, 7), 9, 7)])
def test_strips_assemble_to_extracted_padded_tile(shape, tile, halo):
    rng = np.random.default_rng(0)
    fields = rng.standard_normal((3,) + shape)
    g = tiling.TileGrid.build(*shape, tile)
    g.check_halo(halo)
    tiles = [tiling.extract_padded(fields, g.bounds(t), 0) for t in range(g.n_tiles)]
    strips = [tiling.halo_strips(t, halo) for t in tiles]
    for t in range(g.n_tiles):
        nb = g.neighbours(t)
        recv = {d: strips[nb[d]][tiling.OPPOSITE[d]] for d in tiling.DIRECTIONS}
        padded = tiling.assemble(tiles[t], recv, halo)
        assert np.array_equal(padded, tiling.extract_padded(fields, g.bounds(t), halo))
        assert np.array_equal(tiling.interior(padded, halo), tiles[t])
    out = np.zeros_like(fields)
    for t in range(g.n_tiles):
        tiling.insert(out, tiles[t], g.bounds(t))
    assert np.array_equal(out, fields)


def test_extract_padded_wraps_more_than_once():
    a = np.arange(12.0).reshape(3, 4)
    p = tiling.extract_padded(a, (0, 3, 0, 4), 5)
    assert p.shape == (13, 14)
    assert p[5, 5] == a[0, 0] and p[0, 0] == a[(0 - 5) % 3, (0 - 5) % 4]


def test_errors_name_what_was_wrong():
    g = tiling.TileGrid.build(20, 20, 6)
    with pytest.raises(ValueError, match="exceeds the smallest tile extent 5"):
        g.check_halo(6)
    tile = np.zeros((2, 5, 5))
    strips = tiling.halo_strips(tile, 2)
    strips["n"] = np.zeros((2, 1, 5))
    with pytest.raises(ValueError, match="strip from 'n' has shape"):
        tiling.assemble(tile, strips, 2)
    with pytest.raises(ValueError, match="does not fit"):
        tiling.halo_strips(tile, 6)
