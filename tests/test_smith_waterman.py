"""Tests of the Smith-Waterman kernel against a slow reference, parasail and Biopython."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hpcmicro.kernels import smith_waterman as sw

parasail = pytest.importorskip("parasail")

GAPS = [(11, 1), (10, 2), (7, 3), (3, 3), (1, 0)]
PROTEIN = sw.PROTEIN_LETTERS + "UOJ"


# ------------------------------------------------------------------ helpers
def gotoh_reference(q, t, mat, go, ge):
    """Obvious O(mn) Gotoh local alignment in pure Python."""
    neg = -10 ** 9
    m, n = len(q), len(t)
    H = [[0] * (n + 1) for _ in range(m + 1)]
    E = [[neg] * (n + 1) for _ in range(m + 1)]
    F = [[neg] * (n + 1) for _ in range(m + 1)]
    best = 0
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            E[i][j] = max(E[i - 1][j] - ge, H[i - 1][j] - go)
            F[i][j] = max(F[i][j - 1] - ge, H[i][j - 1] - go)
            H[i][j] = max(0, H[i - 1][j - 1] + int(mat[q[i - 1], t[j - 1]]), E[i][j], F[i][j])
            best = max(best, H[i][j])
    return best


def encode(s, alphabet="protein"):
    return sw.letter_codes(alphabet)[np.frombuffer(s.encode(), np.uint8)]


def pack(seqs):
    off = np.zeros(len(seqs) + 1, np.int64)
    off[1:] = np.cumsum([len(s) for s in seqs])
    return np.concatenate(seqs).astype(np.uint8), off


def rand_protein(rng, n, letters=PROTEIN):
    return "".join(rng.choice(list(letters), n))


def mutate(rng, s, rate, letters="ACDEFGHIKLMNPQRSTVWY"):
    out = []
    for c in s:
        r = rng.random()
        if r < rate / 3:
            continue                       # deletion
        if r < 2 * rate / 3:
            out.append(rng.choice(list(letters)))  # substitution
        elif r < rate:
            out.extend([c, rng.choice(list(letters))])  # insertion
        else:
            out.append(c)
    return "".join(out) or "A"


def search_strings(queries, targets, matrix_name, go, ge, alphabet="protein", mat=None):
    mat = sw.load_matrix(matrix_name) if mat is None else mat
    qc, qo = pack([encode(s, alphabet) for s in queries])
    tc, to = pack([encode(s, alphabet) for s in targets])
    return sw.search(qc, qo, tc, to, mat, go, ge)


# ------------------------------------------------------------------ reference
def test_search_matches_slow_reference():
    rng = np.random.default_rng(0)
    queries = [rand_protein(rng, n) for n in (1, 2, 17, 40)]
    targets = [rand_protein(rng, n) for n in rng.integers(1, 60, 70)] + ["W", queries[2]]
    mat = sw.load_matrix("BLOSUM62")
    S = search_strings(queries, targets, "BLOSUM62", 11, 1)
    for a, q in enumerate(queries):
        for b, t in enumerate(targets):
            ref = gotoh_reference(encode(q), encode(t), mat, 11, 1)
            assert S[a, b] == ref, (q, t)
            assert sw.sw_score(encode(q), encode(t), mat, 11, 1) == ref


# ------------------------------------------------------------------ parasail
@pytest.mark.parametrize("matrix", sw.MATRIX_NAMES)
def test_every_matrix_matches_parasail(matrix):
    rng = np.random.default_rng(abs(hash(matrix)) % 2 ** 32)
    pm = getattr(parasail, matrix.lower())
    base = rand_protein(rng, 120, "ACDEFGHIKLMNPQRSTVWY")
    queries = [rand_protein(rng, 90), base, rand_protein(rng, 1)]
    targets = ([rand_protein(rng, n) for n in rng.integers(1, 200, 60)]
               + [mutate(rng, base, r) for r in (0.05, 0.2, 0.4)]
               + [rand_protein(rng, 150).lower()])
    for go, ge in GAPS:
        S = search_strings(queries, targets, matrix, go, ge)
        for a, q in enumerate(queries):
            for b, t in enumerate(targets):
                assert S[a, b] == parasail.sw(q, t, go, ge, pm).score, (matrix, go, ge, a, b)


def test_saturating_lanes_are_rescored_exactly():
    """Scores far above the 8-bit kernel's 127 in some lanes, small ones in the same batch."""
    rng = np.random.default_rng(5)
    base = rand_protein(rng, 700, "ACDEFGHIKLMNPQRSTVWY")
    targets = [mutate(rng, base, r) for r in np.linspace(0.0, 0.6, 40)]
    targets += [rand_protein(rng, n) for n in rng.integers(600, 800, 50)]
    rng.shuffle(targets)
    queries = [base, base[100:160], rand_protein(rng, 300)]
    S = search_strings(queries, targets, "BLOSUM62", 11, 1)
    assert S.max() > 1000 and (S[0] < 100).any()
    for a, q in enumerate(queries):
        for b, t in enumerate(targets):
            assert S[a, b] == parasail.sw_striped_32(q, t, 11, 1, parasail.blosum62).score


def test_top_wrap_of_the_8_bit_add_is_caught():
    """Matrix scores near the 8-bit top: d + s wraps past 127 and the lane must be rescored."""
    rng = np.random.default_rng(11)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in rng.integers(1, 40, 30)]
    got = search_strings(seqs, seqs, None, 30, 7, "dna", sw.dna_matrix(100, -120))
    pm = parasail.matrix_create("ACGT", 100, -120)
    for a, q in enumerate(seqs):
        for b, t in enumerate(seqs):
            assert got[a, b] == parasail.sw(q, t, 30, 7, pm).score, (a, b)
    assert got.max() > 127 and (got[got > 0] <= 127).any()


def test_long_against_short_and_all_x():
    rng = np.random.default_rng(6)
    long = rand_protein(rng, 3000, "ACDEFGHIKLMNPQRSTVWY")
    queries = [long[1000:1005], "X" * 30, "W", long[:400]]
    targets = [long, "X" * 50, "WWW", long[2000:2003] + "*U"]
    S = search_strings(queries, targets, "BLOSUM62", 11, 1)
    for a, q in enumerate(queries):
        for b, t in enumerate(targets):
            assert S[a, b] == parasail.sw_striped_32(q, t, 11, 1, parasail.blosum62).score
    assert S[1, 1] == 0  # X against X scores -1 in BLOSUM62


def test_special_letters_score_like_parasail():
    letters = "BZXUOJ*"
    queries = ["W" + c + "W" for c in letters] + ["ACDU", "uoj"]
    targets = ["W" + c + "W" for c in letters] + ["ACD*", "UOJ"]
    S = search_strings(queries, targets, "BLOSUM62", 11, 1)
    for a, q in enumerate(queries):
        for b, t in enumerate(targets):
            assert S[a, b] == parasail.sw(q, t, 11, 1, parasail.blosum62).score, (q, t)


@pytest.mark.parametrize("match,mismatch", [(1, -2), (2, -3), (5, -4)])
def test_dna_matches_parasail(match, mismatch):
    rng = np.random.default_rng(match)
    pm = parasail.matrix_create("ACGT", match, mismatch)
    base = rand_protein(rng, 300, "ACGT")
    queries = [base, rand_protein(rng, 50, "ACGTN"), "N" * 5, "acgtn"]
    targets = ([rand_protein(rng, n, "ACGTNacgt") for n in rng.integers(1, 400, 40)]
               + [mutate(rng, base, r, "ACGT") for r in (0.0, 0.1, 0.3)])
    for go, ge in [(5, 2), (3, 1), (10, 10)]:
        S = search_strings(queries, targets, None, go, ge, "dna", sw.dna_matrix(match, mismatch))
        for a, q in enumerate(queries):
            for b, t in enumerate(targets):
                assert S[a, b] == parasail.sw(q, t, go, ge, pm).score, (go, ge, a, b)


# ------------------------------------------------------------------ Biopython
def test_matches_biopython_local_scores():
    from Bio.Align import PairwiseAligner, substitution_matrices
    rng = np.random.default_rng(8)
    al = PairwiseAligner(mode="local", substitution_matrix=substitution_matrices.load("PAM250"),
                         open_gap_score=-10, extend_gap_score=-2)
    base = rand_protein(rng, 150, "ACDEFGHIKLMNPQRSTVWY")
    queries = [base, rand_protein(rng, 70, "ACDEFGHIKLMNPQRSTVWY")]
    targets = [mutate(rng, base, r) for r in (0.1, 0.3)] + [rand_protein(rng, 90, "ACDEFGHIKLMNPQRSTVWY")]
    S = search_strings(queries, targets, "PAM250", 10, 2)
    for a, q in enumerate(queries):
        for b, t in enumerate(targets):
            assert S[a, b] == int(al.score(q, t))


# ------------------------------------------------------------------ traceback
@pytest.mark.parametrize("go,ge", [(11, 1), (3, 3), (6, 2)])
def test_alignment_rescores_to_kernel_score(go, ge):
    rng = np.random.default_rng(go)
    mat = sw.load_matrix("BLOSUM62")
    for _ in range(25):
        base = rand_protein(rng, int(rng.integers(1, 200)), "ACDEFGHIKLMNPQRSTVWY")
        q, t = encode(mutate(rng, base, 0.3)), encode(rand_protein(rng, 20) + mutate(rng, base, 0.3))
        al = sw.sw_align(q, t, mat, go, ge)
        assert al.score == sw.sw_score(q, t, mat, go, ge)
        if al.score == 0:
            assert al.cigar == "" and al.length == 0
            continue
        assert sw.cigar_score(q, t, al.qstart, al.sstart, al.cigar, mat, go, ge) == al.score
        runs = re.findall(r"(\d+)([MID])", al.cigar)
        assert "".join(n + c for n, c in runs) == al.cigar
        ops = {c: 0 for c in "MID"}
        for n, c in runs:
            ops[c] += int(n)
        assert al.qend - al.qstart + 1 == ops["M"] + ops["I"]
        assert al.send - al.sstart + 1 == ops["M"] + ops["D"]
        assert al.length == sum(ops.values())
        assert al.identities + al.mismatches == ops["M"]
        assert runs[0][1] == "M" and runs[-1][1] == "M"  # local: never starts or ends in a gap


def test_tie_break_picks_smallest_target_end():
    mat = sw.load_matrix("BLOSUM62")
    q = encode("WWW")
    t = encode("AAWWWAAWWWAA")
    al = sw.sw_align(q, t, mat, 11, 1)
    assert (al.score, al.sstart, al.send, al.qstart, al.qend, al.cigar) == (33, 3, 5, 1, 3, "3M")


# ------------------------------------------------------------------ 16-bit and 32-bit paths
def test_large_gap_open_runs_16_bit_and_matches_parasail():
    """gap_open > 127 does not fit the 8-bit subtraction: every pair runs in 16-bit."""
    rng = np.random.default_rng(9)
    base = rand_protein(rng, 200, "ACDEFGHIKLMNPQRSTVWY")
    queries = [base, rand_protein(rng, 33)]
    targets = [mutate(rng, base, r) for r in (0.05, 0.3)] + [rand_protein(rng, n) for n in (1, 17, 90)]
    for go, ge in [(200, 1), (255, 255), (128, 3)]:
        S = search_strings(queries, targets, "BLOSUM62", go, ge)
        for a, q in enumerate(queries):
            for b, t in enumerate(targets):
                assert S[a, b] == parasail.sw_striped_32(q, t, go, ge, parasail.blosum62).score


def test_scores_beyond_16_bit_fall_back_to_32_bit():
    rng = np.random.default_rng(10)
    long = "W" * 6100  # W-W scores 11: 67,100 > 65,535 - 11
    near = rand_protein(rng, 300, "ACDEFGHIKLMNPQRSTVWY")
    S = search_strings([long, near], [long, near, long[:50]], "BLOSUM62", 11, 1)
    assert S[0, 0] == 6100 * 11 and S[0, 2] == 50 * 11
    assert S[1, 1] == parasail.sw_striped_32(near, near, 11, 1, parasail.blosum62).score


def test_pack_targets_fills_lanes_longest_first():
    tc, to = pack([encode(s) for s in ["AAA", "W", "CCCCC", "DD", ""]])
    p = sw.pack_targets(tc, to, 24, lanes=2, subset=np.array([0, 2, 3, 4]))
    # longest first, each into the shortest lane so far; the empty target is left out
    assert p.owner.tolist() == [[2, 0], [3, -1]]
    strip = p.codes.shape[0] // 2
    assert p.codes.shape == (2 * strip, 2)
    assert p.codes[:5, 0].tolist() == encode("CCCCC").tolist() and (p.codes[5:strip, 0] == 24).all()
    assert p.codes[strip:strip + 2, 0].tolist() == encode("DD").tolist()
    assert p.codes[:3, 1].tolist() == encode("AAA").tolist() and (p.codes[strip:, 1] == 24).all()
    with pytest.raises(ValueError, match="lanes"):
        sw.search(tc, to, tc, to, sw.load_matrix("BLOSUM62"), 11, 1, packed=p)


def test_targets_sharing_a_lane_do_not_see_each_other():
    """Many short targets per lane: a new target starts with an empty left edge."""
    rng = np.random.default_rng(11)
    base = rand_protein(rng, 60, "ACDEFGHIKLMNPQRSTVWY")
    # copies of base split across strip boundaries would score higher if they leaked
    targets = [base[:k] for k in range(1, 60, 3)] + [base[k:] for k in range(0, 60, 7)] * 20
    targets += [rand_protein(rng, n) for n in rng.integers(1, 50, 200)]
    S = search_strings([base, base[20:45]], targets, "BLOSUM62", 11, 1)
    for a, q in enumerate([base, base[20:45]]):
        for b, t in enumerate(targets):
            assert S[a, b] == parasail.sw_striped_32(q, t, 11, 1, parasail.blosum62).score


# ------------------------------------------------------------------ code generation
@pytest.mark.slow
@pytest.mark.parametrize("lanes", [64, 16])
def test_batch_kernel_is_vectorised_without_overlap_checks(lanes):
    """The inner cell loop must compile to byte/word vector instructions only."""
    import numba
    from hpcmicro.kernels import sw_simd
    kern = sw_simd.search_i8 if lanes == 64 else sw_simd.search_i16
    dtype = np.int8 if lanes == 64 else np.int16
    fresh = numba.njit(nogil=True)(kern.py_func)  # fresh: cached code has no asm
    qcat = np.zeros(3 * sw_simd.QROWS, np.uint8)
    codes = np.zeros((2 * sw_simd.STRIP, lanes), np.uint8)
    owner = np.zeros((2, lanes), np.int64)
    out = np.zeros((1, 1), np.int32)
    fresh(qcat, np.array([0, qcat.shape[0]], np.int64), codes, owner,
          np.zeros((25, 25), dtype), 11, 1, out)
    asm = fresh.inspect_asm(fresh.signatures[0])
    suffix = "b" if lanes == 64 else "w"
    # H = max(d + s, E, F): plain add; G = max(H - gap_open, 0): unsigned saturating subtract
    for instr in ("vpadd", "vpsubus", "vpmaxs"):
        assert instr + suffix in asm, f"{instr}{suffix} missing: the lane loop was not vectorised"
    # the hot loop: the block with the saturating subtracts has no scalar byte moves
    hot = [blk for blk in asm.split("\n.LBB") if "vpsubus" + suffix in blk]
    assert hot and all("movzbl" not in blk and "movb\t" not in blk for blk in hot)


@pytest.mark.slow
def test_kernels_load_from_numba_cache_in_a_new_process(tmp_path):
    """Each MPI rank is a new process: the kernels must come from the cache, not recompile."""
    import os
    import subprocess
    import sys
    code = ("import numpy as np\n"
            "from hpcmicro.kernels import smith_waterman as sw, sw_simd\n"
            "q = np.arange(20, dtype=np.uint8); o = np.array([0, 20])\n"
            "for go in (11, 200):\n"
            "    sw.search(q, o, q, o, sw.load_matrix('BLOSUM62'), go, 1)\n"
            "print(sum(sw_simd.search_i8.stats.cache_misses.values())"
            " + sum(sw_simd.search_i16.stats.cache_misses.values()))\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           check=True).stdout.split()[-1] for _ in range(2)]
    assert runs[1] == "0", f"compiled again in a second process (misses: {runs})"


@pytest.mark.parametrize("go,ge", [(11, 1), (3, 3), (12, 0)])
def test_one_pass_and_two_pass_traceback_agree(monkeypatch, go, ge):
    """Above TB_ONE_PASS_CELLS the end cell is found first: the same alignment either way."""
    rng = np.random.default_rng(20 + go)
    mat = sw.load_matrix("BLOSUM62")
    pairs = []
    for _ in range(40):
        base = rand_protein(rng, int(rng.integers(1, 150)), "ACDEFGHIKLMNPQRSTVWY")
        pairs.append((encode(mutate(rng, base, 0.3)),
                      encode(rand_protein(rng, int(rng.integers(0, 30))) + mutate(rng, base, 0.3))))
    for _ in range(40):     # tiny pairs over 4 letters: many ties
        pairs.append((rng.integers(0, 4, int(rng.integers(1, 10))).astype(np.uint8),
                      rng.integers(0, 4, int(rng.integers(1, 12))).astype(np.uint8)))
    one = [sw.sw_align(q, t, mat, go, ge) for q, t in pairs]
    monkeypatch.setattr(sw, "TB_ONE_PASS_CELLS", 0)
    two = [sw.sw_align(q, t, mat, go, ge) for q, t in pairs]
    assert one == two
    for (q, t), al in zip(pairs, one):
        assert al.score == sw.sw_score(q, t, mat, go, ge)


def test_warm_up_loads_every_search_path():
    mat = sw.load_matrix("BLOSUM62")
    sw.warm_up(mat, 11, 1, align=True)
    sw.warm_up(mat, 200, 1)
    from hpcmicro.kernels import sw_traceback
    for fn in (sw._align_path, sw._assign_lanes, sw._fill_lanes, sw_traceback.fill_lanes):
        assert fn.signatures, fn


def _many_cases(rng):
    """(query, targets) sets: related and unrelated, over 20 and over 4 letters (many ties)."""
    cases = []
    for n_t in (1, 10, 16, 17, 40):
        base = rand_protein(rng, int(rng.integers(5, 120)), "ACDEFGHIKLMNPQRSTVWY")
        q = encode(mutate(rng, base, 0.2))
        ts = [encode(rand_protein(rng, int(rng.integers(0, 20))) + mutate(rng, base, 0.3))
              if k % 2 else encode(rand_protein(rng, int(rng.integers(1, 200))))
              for k in range(n_t)]
        cases.append((q, ts))
        cases.append((rng.integers(0, 4, int(rng.integers(1, 12))).astype(np.uint8),
                      [rng.integers(0, 4, int(rng.integers(1, 14))).astype(np.uint8)
                       for _ in range(n_t)]))
    return cases


@pytest.mark.parametrize("go,ge", [(11, 1), (3, 3), (12, 0), (255, 1)])
def test_lane_traceback_equals_one_pair_at_a_time(go, ge):
    """sw_align_many (16 targets side by side, int16) gives sw_align's alignments exactly."""
    rng = np.random.default_rng(40 + go)
    mat = sw.load_matrix("BLOSUM62")
    for q, ts in _many_cases(rng):
        assert sw.sw_align_many(q, ts, mat, go, ge) == [sw.sw_align(q, t, mat, go, ge) for t in ts]
    assert sw.sw_align_many(encode("ACD"), [], mat, go, ge) == []


def test_lane_traceback_falls_back_where_it_must(monkeypatch):
    """Over the 16-bit limit, over the memory bound: the same alignments, one pair at a time."""
    rng = np.random.default_rng(7)
    alone = []
    real = sw.sw_align
    monkeypatch.setattr(sw, "sw_align", lambda q, t, *a: alone.append(len(t)) or real(q, t, *a))
    # 270 identical letters at +127: 34,290 does not fit int16; the lanes must see it
    mat = sw.dna_matrix(127, -4)
    q = rng.integers(0, 4, 270).astype(np.uint8)
    ts = [q.copy(), q[:100].copy(), rng.integers(0, 4, 300).astype(np.uint8)]
    got = sw.sw_align_many(q, ts, mat, 5, 2)
    assert got[0].score == 270 * 127 and alone == [270]
    assert got == [real(q, t, mat, 5, 2) for t in ts]
    # a small memory bound: the longest targets go one at a time, the rest in lanes
    alone.clear()
    mat = sw.load_matrix("BLOSUM62")
    q, ts = _many_cases(rng)[8]
    longest = sorted(len(t) for t in ts)[-3:]
    monkeypatch.setattr(sw, "TB_GROUP_BYTES", (len(q) + 1) * (longest[0] + 1) * 16)
    got = sw.sw_align_many(q, ts, mat, 11, 1)
    assert sorted(alone)[-2:] == longest[1:] and len(alone) >= 2
    assert got == [real(q, t, mat, 11, 1) for t in ts]
