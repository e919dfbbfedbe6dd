"""FASTA input for the sequence-alignment workload.

:func:`read_fasta` reads a plain or gzip-compressed FASTA file and returns
the record ids and the sequences encoded as kernel letter codes, all
concatenated in one ``uint8`` array with offsets.  Every malformed input is
an :class:`hpcmicro.errors.InputError` naming the file and the 1-based line.
Record ids are only names: they are never used as paths.
"""

from __future__ import annotations

import gzip
import os
from typing import NamedTuple

import numpy as np

from hpcmicro.errors import InputError
from hpcmicro.kernels.smith_waterman import INVALID, letter_codes

_GZIP_MAGIC = b"\x1f\x8b"
_ALLOWED = {
    "protein": "the letters A-Z (either case) and '*'",
    "dna": "A, C, G, T and N (either case)",
}


class Sequences(NamedTuple):
    """Encoded FASTA records.

    Attributes
    ----------
    ids : list of str
        Record ids (first word of each header), in file order.
    codes : numpy.ndarray
        ``uint8``: every sequence's letter codes, concatenated.
    offsets : numpy.ndarray
        ``int64[n + 1]``: record ``k`` is ``codes[offsets[k]:offsets[k + 1]]``.
    """

    ids: list
    codes: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self) -> np.ndarray:
        """Return the sequence lengths."""
        return np.diff(self.offsets)

    def get(self, k: int) -> np.ndarray:
        """Return the codes of record ``k``."""
        return self.codes[self.offsets[k]:self.offsets[k + 1]]


def read_fasta(path: str | os.PathLike, alphabet: str) -> Sequences:
    """Read and encode a FASTA file (plain, or gzip whatever its name).

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip is recognised by its magic bytes.
    alphabet : {"protein", "dna"}
        Which letters are allowed (see :mod:`hpcmicro.kernels.smith_waterman`).

    Returns
    -------
    Sequences

    Raises
    ------
    hpcmicro.errors.InputError
        On an empty file, text before the first ``>`` header, an empty id, a
        duplicate id, a record without residues, or a letter the alphabet
        does not allow (the message says which letter, where, and what is
        allowed).  Windows (CRLF) line ends and blank lines are accepted.
    """
    table = letter_codes(alphabet)
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read FASTA file: {exc.strerror}", name) from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"corrupt gzip data: {exc}", name) from None
    if not raw.strip():
        raise InputError("the file is empty; expected FASTA records starting with '>'", name)

    ids: list[str] = []
    seen: dict[str, int] = {}
    chunks: list[np.ndarray] = []
    lengths: list[int] = []
    header_line = 0
    current: list[np.ndarray] = []

    def close_record() -> None:
        n = sum(c.shape[0] for c in current)
        if n == 0:
            raise InputError(f"record {ids[-1]!r} has no residues", name, header_line)
        chunks.extend(current)
        lengths.append(n)

    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if line.startswith(b">"):
            if ids:
                close_record()
            header = line[1:].decode("utf-8", errors="replace").strip()
            rec_id = header.split(None, 1)[0] if header else ""
            if not rec_id:
                raise InputError("header line has no id after '>'", name, lineno)
            if rec_id in seen:
                raise InputError(f"duplicate id {rec_id!r} (first seen on line {seen[rec_id]})",
                                 name, lineno)
            seen[rec_id] = lineno
            ids.append(rec_id)
            header_line = lineno
            current = []
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if not ids:
            raise InputError("sequence data before the first '>' header; is this a FASTA file?",
                             name, lineno)
        letters = np.frombuffer(stripped, np.uint8)
        codes = table[letters]
        bad = np.flatnonzero(codes == INVALID)
        if bad.size:
            col = line.index(stripped) + int(bad[0]) + 1
            letter = chr(letters[bad[0]])
            raise InputError(f"invalid letter {letter!r} at column {col} in record {ids[-1]!r}; "
                             f"a {alphabet} sequence allows {_ALLOWED[alphabet]}", name, lineno)
        current.append(codes)
    close_record()
    offsets = np.zeros(len(ids) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = np.concatenate(chunks) if chunks else np.zeros(0, np.uint8)
    return Sequences(ids, codes, offsets)
