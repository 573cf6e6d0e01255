"""Filled paths written into the PDF content stream by numpy, byte for byte as matplotlib.

matplotlib's PDF backend turns a path into operators with ``_path.convert_to_string``: for
each vertex, its coordinates printed with ``%.6f`` (trailing zeros and point dropped), a
space after each, then the operator (``m``, ``l``; a ``CLOSEPOLY`` is ``h`` alone), one line
per vertex. That loop costs about 0.4 µs per vertex, and a map sheet has tens of thousands
of them. The map layers' paths are already in page points rounded to hundredths
(:meth:`mbm_sig.maps.furniture.MapFrame.to_points`), so ``%.6f`` of each is its exact number of
hundredths: :func:`filled_path_bytes` prints them all at once from an array of digits, the
same bytes (tested against ``convert_to_string``).

Only what that proof covers takes this path — a filled path (matplotlib neither clips nor
simplifies those), an affine transform, ``MOVETO``/``LINETO``/``CLOSEPOLY`` codes, finite
coordinates that are hundredths after the transform, below 10⁴ points in magnitude; anything else
returns ``None`` and the caller keeps matplotlib's own writer.
"""

from __future__ import annotations

import numpy as np
from matplotlib.path import Path

MOVETO, LINETO, CLOSEPOLY = int(Path.MOVETO), int(Path.LINETO), int(Path.CLOSEPOLY)
LIMIT = 10_000        # |coordinate| (points) this writer prints; matplotlib's writer beyond
MIN_VERTICES = 16     # shorter paths: matplotlib's writer is as quick as the set-up here


def _transformed(path, transform) -> np.ndarray | None:
    """The vertices after ``transform`` (an affine), computed as agg's ``trans_affine``
    does (``x * sx + y * shx + tx``), or None for another transform."""
    v = np.asarray(path.vertices, dtype=float)
    if transform is None:
        return v
    if not getattr(transform, "is_affine", False):
        return None
    m = transform.get_matrix()
    if m[0, 0] == 1 and m[1, 1] == 1 and m[0, 1] == 0 and m[1, 0] == 0 and m[0, 2] == 0 and m[1, 2] == 0:
        # identity: x * 1 + y * 0 + 0 is x, but for a -0.0 (which becomes +0.0)
        return v + 0.0
    x, y = v[:, 0], v[:, 1]
    return np.c_[x * m[0, 0] + y * m[0, 1] + m[0, 2], x * m[1, 0] + y * m[1, 1] + m[1, 2]]


# A number is one little-endian 64-bit word of 8 characters: sign, 4 integer digits, point
# and 2 decimals, with a word of the same layout saying which characters are printed; a
# vertex line is 4 words (x, a space, y, then space, operator and newline)
INT_DIGITS = 4
U8 = np.dtype("<u8")


def _word(chars: bytes) -> int:
    return int.from_bytes(chars.ljust(8, b"\0"), "little")


def _tables():
    n = np.arange(10 ** INT_DIGITS, dtype=np.int64)
    ichars = np.zeros(len(n), dtype=U8)
    ikeep = np.zeros(len(n), dtype=U8)
    for j in range(INT_DIGITS):                 # byte 1 + j: the digit of 10**(3 - j)
        p = 10 ** (INT_DIGITS - 1 - j)
        shift = np.uint64(8 * (1 + j))
        ichars |= ((n // p % 10 + ord("0")).astype(U8) << shift)
        ikeep |= ((n >= p) | (j == INT_DIGITS - 1)).astype(U8) << shift
    f = range(100)
    fchars = np.array([_word(b"\0" * 5 + b".%d%d" % (k // 10, k % 10)) for k in f], dtype=U8)
    fkeep = np.array([_word(b"\0" * 5 + bytes([k != 0, k != 0, k % 10 != 0])) for k in f], dtype=U8)
    return ichars, ikeep, fchars, fkeep


_TABLES: list = []


def _numbers(v: np.ndarray):
    """Words of the characters of ``v`` (hundredths, |v| < 10**INT_DIGITS) as ``%.6f``
    prints them with its trailing zeros and point dropped, and of the mask of those printed."""
    if not _TABLES:
        _TABLES.append(_tables())
    ichars, ikeep, fchars, fkeep = _TABLES[0]
    a = np.abs(v)
    ip = np.floor(a)
    frac = np.rint((a - ip) * 100).astype(np.intp)     # exact: v is the double nearest k/100
    ip = ip.astype(np.intp)
    sign = np.signbit(v).astype(U8)
    chars = ichars[ip] | fchars[frac] | np.uint64(ord("-"))
    keep = ikeep[ip] | fkeep[frac] | sign
    return chars, keep


_MOVE, _LINE, _CLOSE = _word(b" m\n"), _word(b" l\n"), _word(b"h\n")
_TAIL_KEEP, _CLOSE_KEEP, _SPACE = _word(b"\1\1\1"), _word(b"\1\1"), _word(b" ")


def filled_path_bytes(path, transform=None) -> bytes | None:
    """The operators matplotlib's PDF backend writes for the filled ``path`` under
    ``transform`` (``convert_to_string`` with no clip, no simplification, precision 6), or
    None when the path is not one this writer reproduces exactly (see the module)."""
    n = len(path.vertices)
    if n < MIN_VERTICES:
        return None
    codes = path.codes
    if codes is None:
        codes = np.full(n, LINETO, dtype=np.uint8)
        codes[0] = MOVETO
    else:
        codes = np.asarray(codes)
        if not np.all((codes == MOVETO) | (codes == LINETO) | (codes == CLOSEPOLY)):
            return None
    v = _transformed(path, transform)
    if v is None:
        return None
    if not np.all(np.isfinite(v)):
        return None              # matplotlib drops the segments of missing vertices
    closing = codes == CLOSEPOLY
    vv = np.where(closing[:, None], 0.0, v)    # the coordinates of a CLOSEPOLY are not printed
    if np.abs(vv).max() >= LIMIT or not np.array_equal(np.rint(vv * 100) / 100, vv):
        return None              # not hundredths: %.6f would print more decimals
    words = np.empty((n, 4), dtype=U8)
    keep = np.empty((n, 4), dtype=U8)
    words[:, 0], keep[:, 0] = _numbers(vv[:, 0])
    words[:, 2], keep[:, 2] = _numbers(vv[:, 1])
    words[:, 1] = _SPACE
    keep[:, 1] = 1
    words[:, 3] = np.where(closing, _CLOSE, np.where(codes == MOVETO, _MOVE, _LINE)).astype(U8)
    keep[:, 3] = _TAIL_KEEP
    if closing.any():
        keep[closing] = (0, 0, 0, _CLOSE_KEEP)
    return words.view(np.uint8)[keep.view(bool)].tobytes()
