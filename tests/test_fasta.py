"""FASTA reading: good files, and an InputError with the right line for every bad one."""

from __future__ import annotations

import gzip

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
