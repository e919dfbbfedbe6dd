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

    found = _parse_fast(raw, table)
    if found is None:       # something is wrong: find the first problem, line by line
        found = _parse_lines(raw, table, name, alphabet)
    return Sequences(*found)


#: The bytes ``bytes.strip()`` removes besides the newline (ASCII whitespace).
_BLANKS = np.zeros(256, bool)
_BLANKS[list(b" \t\r\x0b\x0c")] = True


def _parse_fast(raw: bytes, table: np.ndarray):
    """Parse a well-formed FASTA file with whole-buffer operations.

    Returns ``(ids, codes, offsets)``, or None as soon as anything differs
    from a clean file (any error, or a case this does not decide), so that
    :func:`_parse_lines` finds and reports the first problem.  Whenever this
    returns a result, it equals that of :func:`_parse_lines`.

    Notes
    -----
    A header is a line whose first byte is ``>``.  The text after each
    header line, up to the next header, is its record's body; each body
    starts with the header's newline and ends with a newline (or the file).
    The bodies are joined and translated to letter codes in one pass.  A
    byte that is no letter of the alphabet must be a newline or ASCII
    whitespace at the start or end of its line (inside a line it is an
    invalid letter): such bytes form runs of consecutive positions, and a
    run lies at the edge of its line exactly when it holds a newline or ends
    the file.  Those bytes are deleted; a record's length is its body's
    length less the deleted bytes in it.
    """
    data = np.frombuffer(raw, np.uint8)
    n = data.shape[0]
    line_end = np.flatnonzero(data == 10)
    starts = np.concatenate([[0], line_end + 1])
    starts = starts[starts < n]
    hs = starts[data[starts] == ord(">")]                           # header starts
    if hs.shape[0] == 0 or raw[:hs[0]].strip():
        return None
    he = np.append(line_end, n)[np.searchsorted(line_end, hs)]    # header ends
    ids = []
    for a, b in zip(hs.tolist(), he.tolist()):
        header = raw[a + 1:b].rstrip(b"\r").decode("utf-8", errors="replace").strip()
        if not header:
            return None
        ids.append(header.split(None, 1)[0])
    if len(set(ids)) != len(ids):
        return None
    body_end = np.append(hs[1:], n)
    body = b"".join(raw[a:b] for a, b in zip(he.tolist(), body_end.tolist()))
    coded = body.translate(table.tobytes())
    odd = np.flatnonzero(np.frombuffer(coded, np.uint8) == INVALID)
    byte = np.frombuffer(body, np.uint8)[odd]
    if not (_BLANKS[byte] | (byte == 10)).all():
        return None
    if odd.shape[0]:
        run_start = np.flatnonzero(np.diff(odd, prepend=-2) != 1)
        has_newline = np.logical_or.reduceat(byte == 10, run_start)
        run_last = np.append(run_start[1:], odd.shape[0]) - 1
        if not (has_newline | (odd[run_last] == len(body) - 1)).all():
            return None
    cut = np.zeros(len(ids) + 1, np.int64)
    np.cumsum(body_end - he, out=cut[1:])                        # bodies in ``body``
    lengths = np.diff(cut) - np.diff(np.searchsorted(odd, cut))
    if (lengths == 0).any():
        return None
    offsets = np.zeros(len(ids) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = np.frombuffer(bytearray(coded.translate(None, bytes([INVALID]))), np.uint8)
    return ids, codes, offsets


def _parse_lines(raw: bytes, table: np.ndarray, name: str, alphabet: str):
    """Parse line by line; raise InputError at the first problem."""
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
    return ids, codes, offsets
