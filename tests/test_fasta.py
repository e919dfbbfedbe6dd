"""FASTA reading: good files, and an InputError with the right line for every bad one."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from hpcmicro.errors import InputError
from hpcmicro.kernels.smith_waterman import PROTEIN_LETTERS
from hpcmicro.seqio import read_fasta


def write(tmp_path, text, name="x.fasta", gz=False):
    p = tmp_path / name
    data = text.encode()
    p.write_bytes(gzip.compress(data) if gz else data)
    return p


def test_reads_plain_gzip_crlf_lowercase_and_wrapped_lines(tmp_path):
    text = ">a first\r\nACD\r\nefg\r\n\r\n>../../x desc\r\nW*UOJ\r\n"
    for gz in (False, True):
        seqs = read_fasta(write(tmp_path, text, "s.fa.gz" if gz else "s.fa", gz), "protein")
        assert seqs.ids == ["a", "../../x"]
        assert list(seqs.lengths()) == [6, 5]
        star = PROTEIN_LETTERS.index("*")
        assert list(seqs.get(1)) == [PROTEIN_LETTERS.index("W")] + [star] * 4
        assert "".join(PROTEIN_LETTERS[c] for c in seqs.get(0)) == "ACDEFG"
    assert not (tmp_path / ".." / ".." / "x").exists()  # an id is never a path


def test_gzip_detected_by_content_not_name(tmp_path):
    seqs = read_fasta(write(tmp_path, ">a\nACGTN\n", "plain.txt", gz=True), "dna")
    assert seqs.ids == ["a"] and seqs.codes.dtype == np.uint8


@pytest.mark.parametrize("text,line,words", [
    ("", None, "empty"),
    ("\n\n  \n", None, "empty"),
    ("ACDE\n>a\nAC\n", 1, "before the first '>'"),
    (">a\nAC\n>b\nAC\n>a\nWW\n", 5, "duplicate id 'a' (first seen on line 1)"),
    (">a\nACD\nAC1D\n", 3, "invalid letter '1' at column 3 in record 'a'"),
    (">a\nAC\n>b\n>c\nAC\n", 3, "record 'b' has no residues"),
    (">a\nAC\n>b\n\n", 3, "record 'b' has no residues"),
    (">\nAC\n", 1, "no id"),
    (">a\nAC-D\n", 2, "invalid letter '-'"),
])
def test_bad_protein_input(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_fasta(path, "protein")
    err = info.value
    assert err.path == str(path) and err.line == line
    assert words in err.message
    assert str(path) in str(err)


def test_invalid_dna_letter_says_what_is_allowed(tmp_path):
    path = write(tmp_path, ">a\r\nACGT\r\nACGU\r\n")
    with pytest.raises(InputError) as info:
        read_fasta(path, "dna")
    assert info.value.line == 3
    assert "'U' at column 4" in info.value.message and "A, C, G, T and N" in info.value.message


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_fasta(tmp_path / "nope.fa", "protein")
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(InputError, match="gzip"):
        read_fasta(bad, "protein")


# ------------------------------------------------------------------ fast path vs line by line
def _both(raw: bytes, alphabet: str):
    """(fast result or None, line-by-line result or the InputError it raised)."""
    from hpcmicro.kernels.smith_waterman import letter_codes
    from hpcmicro.seqio import _parse_fast, _parse_lines
    table = letter_codes(alphabet)
    fast = _parse_fast(raw, table)
    try:
        slow = _parse_lines(raw, table, "x.fa", alphabet)
    except InputError as e:
        slow = e
    return fast, slow


def _assert_same(fast, slow, raw):
    if isinstance(slow, InputError):
        assert fast is None, (raw, slow)   # every error is left to the line-by-line parser
        return
    assert fast is not None, raw           # every well-formed file takes the fast path
    assert fast[0] == slow[0], raw
    assert fast[1].dtype == slow[1].dtype == np.uint8 and np.array_equal(fast[1], slow[1]), raw
    assert fast[2].dtype == slow[2].dtype == np.int64 and np.array_equal(fast[2], slow[2]), raw


@pytest.mark.parametrize("raw", [
    b">a\nACD", b">a\nACD\n", b">a\r\nAC\r\n\r\nD \r\n", b"\n \n>a x\n\tAC \n>b\nW\n",
    b">a\nA C\n", b">a\nAC\rD\n", b">a\nAC\n>b", b">a\nAC\n>b\n", b" >a\nAC\n", b"AC\n>a\nAC\n",
    b">a\nAC\n> \nAC\n", b">a\nAC\n>a b\nAC\n", b">a\nAC\n>\xe9\nWW\n", b">a\xc2\x85b\nAC\n",
    b">a\nAC\x0b\n\x0cD\n", b">a\nAC\x00\n", b">a\rAC\r", b">a\nAC-\n", b">a\n\n\n>b\nA\n",
    b">a\nAC  ", b">a\n  AC", b">a\nuoj*\n", b">a\nAC\n \t\n",
])
def test_fast_parser_agrees_with_line_parser_on_edge_cases(raw):
    for alphabet in ("protein", "dna"):
        _assert_same(*_both(raw, alphabet), raw)


def test_fast_parser_agrees_with_line_parser_on_random_files():
    rng = np.random.default_rng(11)
    blanks = [b"", b" ", b"\t", b"\r", b"\x0b", b"\x0c", b"  "]
    letters = [b"A", b"c", b"G", b"t", b"N", b"W", b"*", b"u"]
    n_fast = 0
    for _ in range(3000):
        parts = [blanks[rng.integers(len(blanks))] + b"\n"] if rng.random() < 0.2 else []
        for _ in range(rng.integers(1, 5)):
            hid = [b"a", b"b", b"c", b"d", b""][rng.integers(5)]
            parts.append(b">" + [b"", b" "][rng.integers(2)] + hid
                         + [b"", b" desc", b"\tx", b"\r", b"\xe9"][rng.integers(5)]
                         + [b"\n", b"\r\n"][rng.integers(2)])
            for _ in range(rng.integers(0, 4)):
                seq = b"".join(letters[k] for k in rng.integers(len(letters), size=rng.integers(6)))
                if rng.random() < 0.05:
                    seq = seq[:1] + [b" ", b"-", b"\r", b"1"][rng.integers(4)] + seq[1:]
                parts.append(blanks[rng.integers(len(blanks))] + seq
                             + blanks[rng.integers(len(blanks))]
                             + [b"\n", b"\r\n", b"\n\n"][rng.integers(3)])
        raw = b"".join(parts)
        if rng.random() < 0.3:
            raw = raw.rstrip(b"\n")
        if not raw.strip():
            continue
        for alphabet in ("protein", "dna"):
            fast, slow = _both(raw, alphabet)
            _assert_same(fast, slow, raw)
            n_fast += fast is not None
    assert n_fast > 500     # the generator makes good files too


def test_codes_are_a_writable_array(tmp_path):
    seqs = read_fasta(write(tmp_path, ">a\nACD\n>b\nWW\n"), "protein")
    assert seqs.codes.flags.writeable and seqs.codes.flags.c_contiguous


@pytest.mark.skipif(not Path("/usr/share/doc/mmseqs2/example-data/DB.fasta.gz").exists(),
                    reason="Debian mmseqs2-examples not installed (scripts/install_align_data.sh)")
def test_real_database_same_as_line_parser():
    from hpcmicro.kernels.smith_waterman import letter_codes
    from hpcmicro.seqio import _parse_lines
    path = Path("/usr/share/doc/mmseqs2/example-data/DB.fasta.gz")
    seqs = read_fasta(path, "protein")
    ids, codes, offsets = _parse_lines(gzip.decompress(path.read_bytes()),
                                       letter_codes("protein"), str(path), "protein")
    assert seqs.ids == ids and np.array_equal(seqs.codes, codes)
    assert np.array_equal(seqs.offsets, offsets)
