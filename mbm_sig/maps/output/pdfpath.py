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
simplifies those) or a stroked one matplotlib leaves as it is (not simplified, on the page),
an affine transform, ``MOVETO``/``LINETO``/``CLOSEPOLY`` codes, finite
coordinates that are hundredths after the transform, below 10⁴ points in magnitude; anything else
returns ``None`` and the caller keeps matplotlib's own writer.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_pdf import _fill, pdfRepr
from matplotlib.path import Path

MOVETO, LINETO, CLOSEPOLY = int(Path.MOVETO), int(Path.LINETO), int(Path.CLOSEPOLY)


class PrintPath(Path):
    """A path made for print: a map layer's, simplified and cut beyond its frame
    (:mod:`mbm_sig.maps.geom`), in rounded page points
    (:meth:`mbm_sig.maps.furniture.MapFrame.to_points`). Its stroke is written as it is by
    :func:`filled_path_bytes` (the frame's clip path clips it in the PDF), not clipped to the
    page nor simplified again by matplotlib's writer (:func:`mbm_sig.maps.output.pdftext._draw_path`;
    a patch's affine transform hands the renderer this very object)."""
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
SMALL = 1000          # |coordinate| below which a number is one look-up (a table of 10⁵ words)
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


def _number_words(v: np.ndarray, k: np.ndarray):
    """Words of the characters of ``v`` (``k``: its hundredths, |v| < 10**INT_DIGITS) as
    ``%.6f`` prints them with its trailing zeros and point dropped, and of the mask of
    those printed."""
    if not _TABLES:
        ichars, ikeep, fchars, fkeep = _tables()
        h = np.arange(SMALL * 100)
        # below SMALL points (an A4 page and more) one look-up per number, of its hundredths
        _TABLES.append((ichars, ikeep, fchars, fkeep, ichars[h // 100] | fchars[h % 100],
                        ikeep[h // 100] | fkeep[h % 100]))
    ichars, ikeep, fchars, fkeep, hchars, hkeep = _TABLES[0]
    a = np.abs(k).astype(np.intp)
    if a.max() < SMALL * 100:
        chars, keep = hchars[a], hkeep[a]
    else:
        ip, frac = np.divmod(a, 100)
        chars, keep = ichars[ip] | fchars[frac], ikeep[ip] | fkeep[frac]
    return chars | np.uint64(ord("-")), keep | np.signbit(v).astype(U8)


_MOVE, _LINE, _CLOSE = _word(b" m\n"), _word(b" l\n"), _word(b"h\n")
_SPACE = _word(b" ")
# per path code: the words of its operator and of their mask (0: a code this writer refuses)
_TAIL = np.zeros(256, dtype=U8)
_TAIL_KEEP = np.zeros(256, dtype=U8)
_TAIL[[MOVETO, LINETO, CLOSEPOLY]] = (_MOVE, _LINE, _CLOSE)
_TAIL_KEEP[[MOVETO, LINETO, CLOSEPOLY]] = (_word(b"\1\1\1"), _word(b"\1\1\1"), _word(b"\1\1"))


def filled_path_bytes(path, transform=None, page=None) -> bytes | None:
    """The operators matplotlib's PDF backend writes for the filled ``path`` under
    ``transform`` (``convert_to_string`` with no clip, no simplification, precision 6), or
    None when the path is not one this writer reproduces exactly (see the module).

    With ``page`` (its width and height in points): the operators of a stroked path, which
    matplotlib clips to the page (and simplifies when ``path.should_simplify``): the same
    bytes for a path it does not simplify, of lines only (no ``CLOSEPOLY``, which the clipper
    writes otherwise), every vertex on the page (the clipper then changes nothing: tested);
    None for any other."""
    n = len(path.vertices)
    if page is not None and path.should_simplify:
        return None
    if n < MIN_VERTICES:
        return None
    codes = path.codes
    if codes is None:
        codes = np.full(n, LINETO, dtype=np.uint8)
        codes[0] = MOVETO
    else:
        codes = np.asarray(codes, dtype=np.uint8)
    tail_keep = _TAIL_KEEP[codes]
    if not tail_keep.all():
        return None              # curves (or stop codes): matplotlib's writer
    if page is not None and (codes == CLOSEPOLY).any():
        return None
    v = _transformed(path, transform)
    if v is None:
        return None
    if page is not None and not (v.min() >= 0 and v[:, 0].max() <= page[0] and v[:, 1].max() <= page[1]):
        return None
    k = np.rint(v * 100)
    # finite (matplotlib drops the segments of missing vertices), below the limit, and
    # hundredths (else %.6f prints more decimals); a CLOSEPOLY's vertex is checked too
    with np.errstate(invalid="ignore"):
        if not np.abs(k).max() < LIMIT * 100 or not np.array_equal(k / 100, v):
            return None
    xy, xy_keep = _number_words(v, k)
    words = np.empty((n, 4), dtype=U8)
    keep = np.empty((n, 4), dtype=U8)
    words[:, 0::2] = xy
    keep[:, 0::2] = xy_keep
    words[:, 1] = _SPACE
    keep[:, 1] = 1
    words[:, 3] = _TAIL[codes]
    keep[:, 3] = tail_keep
    closing = codes == CLOSEPOLY
    if closing.any():
        keep[closing, :3] = 0            # «h» alone: the coordinates of a CLOSEPOLY are not printed
    return words.view(np.uint8)[keep.view(bool)].tobytes()


_FLOATS = (float, np.float64)


def pdf_repr(obj) -> bytes:
    """matplotlib's ``pdfRepr``, the same bytes, quicker for what pages write most: numbers
    (a float as ``%.10f`` with its trailing zeros and point dropped, an int as ``%d``), lists
    and tuples of them, and the backend's own objects (names, operators, references: their
    ``pdfRepr``). Anything else is ``pdfRepr``'s (a subclass, a bool, a string…)."""
    t = type(obj)
    if t in _FLOATS:
        if not math.isfinite(obj):
            raise ValueError("Can only output finite numbers in PDF")
        return (b"%.10f" % obj).rstrip(b"0").rstrip(b".")
    if t is int:
        return b"%d" % obj
    if t is list or t is tuple:
        return _fill([b"[", *[pdf_repr(v) for v in obj], b"]"])
    own = getattr(t, "pdfRepr", None)
    if own is not None:
        return own(obj)
    return pdfRepr(obj)
