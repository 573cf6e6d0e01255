"""The print font: DejaVu Sans (matplotlib's bundled copy) reduced once to the characters
of French map text, without OpenType layout tables, and renamed «MBM Sans».

Why: matplotlib subsets every embedded TrueType font when it writes a PDF, and DejaVu's
large mark-positioning tables make that cost ~0.13 s per font and per file; with the
reduced font it is a few milliseconds. The glyph outlines are DejaVu's, unchanged
(Bitstream Vera / DejaVu licence: modified copies must not use the names Bitstream or Vera).
"""

from __future__ import annotations

import functools
import os
import unicodedata
from pathlib import Path

FAMILY = "MBM Sans"
_SOURCES = {"": "DejaVuSans.ttf", "-Bold": "DejaVuSans-Bold.ttf", "-Oblique": "DejaVuSans-Oblique.ttf"}
# Basic Latin, Latin-1, Latin Extended-A, and the typographic signs of French map text
CHARSET = (list(range(0x20, 0x7F)) + list(range(0xA0, 0x180)) + [
    0x0152, 0x0153, 0x2009, 0x202F, 0x2010, 0x2011, 0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D,
    0x2022, 0x2026, 0x2030, 0x2032, 0x2033, 0x20AC, 0x2116, 0x2122, 0x2190, 0x2191, 0x2192, 0x2193,
    0x2212, 0x2264, 0x2265, 0x2248, 0x2260, 0x221E, 0x25A0, 0x25CF, 0x25B2, 0x2605, 0x00B2, 0x00B3])
VERSION = "3"         # (3: reproducible bytes, no build date in the head table)


def _cache_dir() -> Path:
    base = os.environ.get("MBM_SIG_CACHE")
    if base:
        return Path(base) / "fonts"
    from mbm_sig.config import settings
    return settings().cache_dir / "fonts"        # the checkout's var/cache, or the working folder's


def _build(src: Path, dst: Path, style: str) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont
    opts = subset.Options()
    opts.layout_features = []
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    opts.glyph_names = True
    opts.drop_tables += ["FFTM", "MATH", "GPOS", "GSUB", "GDEF"]
    font = TTFont(str(src))
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=CHARSET)
    sub.subset(font)
    name = font["name"]
    sub_name = {"": "Book", "-Bold": "Bold", "-Oblique": "Oblique"}[style]
    for rec in list(name.names):
        if rec.nameID in (1, 16):
            rec.string = FAMILY
        elif rec.nameID == 4:
            rec.string = f"{FAMILY} {sub_name}" if style else FAMILY
        elif rec.nameID == 6:
            rec.string = "MBMSans" + style
    font.recalcTimestamp = False          # the source's date, not the build's: the same bytes on every machine
    tmp = dst.with_suffix(".tmp")
    font.save(str(tmp))
    os.replace(tmp, dst)


@functools.lru_cache(maxsize=1)
def ensure() -> str:
    """Build (once) and register the print font; returns the family name to use.
    Falls back to «DejaVu Sans» when the font cannot be built."""
    import matplotlib
    from matplotlib import font_manager
    try:
        out = _cache_dir()
        out.mkdir(parents=True, exist_ok=True)
        src_dir = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        for style, fname in _SOURCES.items():
            dst = out / f"MBMSans{style}-v{VERSION}.ttf"
            if not dst.exists():
                _build(src_dir / fname, dst, style)
            font_manager.fontManager.addfont(str(dst))
        return FAMILY
    except Exception:      # pragma: no cover - missing fontTools or read-only cache
        return "DejaVu Sans"


def plain_char(ch: str) -> bool:
    """A character drawn as its glyph: not a control or format character (the soft hyphen
    U+00AD, joiners…), which text shaping hides or treats specially."""
    return unicodedata.category(ch)[0] != "C"


@functools.lru_cache(maxsize=8)
def _metrics_table(path: str):
    """(units per em, {char: (advance, yMin, yMax)}) of a print-font file (yMin/yMax None
    for glyphs without ink, such as the spaces)."""
    import marshal
    st = os.stat(path)
    side = Path(f"{path}.metrics")       # read off the glyphs once per font file, not once per process
    try:
        stamp, upm, table = marshal.loads(side.read_bytes())
        if stamp == (st.st_size, st.st_mtime_ns):
            return upm, table
    except (OSError, ValueError, EOFError, TypeError):
        pass
    from fontTools.ttLib import TTFont
    tt = TTFont(path)
    glyf, hmtx = tt["glyf"], tt["hmtx"].metrics
    table = {}
    for cp, name in tt.getBestCmap().items():
        if not plain_char(chr(cp)):
            continue                    # measured by matplotlib (soft hyphen: no width)
        g = glyf[name]
        ink = g.numberOfContours != 0 and hasattr(g, "yMax")
        table[chr(cp)] = (hmtx[name][0], g.yMin if ink else None, g.yMax if ink else None)
    upm = tt["head"].unitsPerEm
    from mbm_sig.atomic import replace_kept
    replace_kept(side, marshal.dumps(((st.st_size, st.st_mtime_ns), upm, table)))
    return upm, table


#: subsets kept beside a print-font file (:func:`kept_subset`): at most this many
KEPT_SUBSETS = 32
_SUBSET_FILES: dict = {}       # path -> (stamp, {(face, glyphs): (font bytes, glyph map)}) read or written


def _subset_stamp(path: str) -> tuple:
    import fontTools
    import matplotlib
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, fontTools.version, matplotlib.__version__)


def kept_subset(path: str, face: int, glyphs: frozenset, make):
    """The subset of the print-font file ``path`` (face ``face``) to ``glyphs``: (the subset
    font's bytes, its glyph index map), made by ``make()`` once and kept beside the font
    (``PATH.subsets``, like its metrics): every process that writes a page embeds the same
    few subsets (the font's core characters: the regular and bold of nearly every page), and
    subsetting one costs some 15 ms. Keyed by the font file's stat and the versions of
    fontTools and matplotlib that make it; a file that does not read back whole is made again.
    Processes writing at once each replace the file whole (the last one's table stays: a
    subset another made is made again by a later run, never read half-written)."""
    import marshal
    stamp = _subset_stamp(path)
    side = Path(f"{path}.subsets")
    known = _SUBSET_FILES.get(path)
    if known is None or known[0] != stamp:
        table: dict = {}
        try:
            kept_stamp, kept = marshal.loads(side.read_bytes())
            if kept_stamp == stamp and isinstance(kept, dict):
                table = kept
        except (OSError, ValueError, EOFError, TypeError):
            pass
        known = _SUBSET_FILES[path] = (stamp, table)
    key = (face, tuple(sorted(glyphs)))
    table = known[1]
    hit = table.pop(key, None)
    if isinstance(hit, tuple) and len(hit) == 2 and isinstance(hit[0], bytes) and isinstance(hit[1], dict):
        table[key] = hit                 # the most recently used last: kept when the file is cut
        return hit
    data, gmap = make()
    hit = (bytes(data), {int(k): int(v) for k, v in gmap.items()})
    table[key] = hit
    while len(table) > KEPT_SUBSETS:
        table.pop(next(iter(table)))
    from mbm_sig.atomic import replace_kept
    replace_kept(side, marshal.dumps((stamp, table)))
    return hit


@functools.lru_cache(maxsize=64)
def is_print_font(path: str) -> bool:
    return os.path.basename(str(path)).startswith("MBMSans")


def text_metrics(path: str, s: str, size: float):
    """(width, height, descent) in points of a one-line string in the print font file
    ``path`` at ``size`` points, as matplotlib measures it unhinted (width: the advances;
    height: the ink's, from its lowest to its highest point; descent: how far the ink goes
    below the baseline, negative when it stays above), from the font's tables: no shaping
    is needed, the print font has no layout tables. None when a character is missing."""
    upm, adv, lo, hi = _char_tables(str(path))
    try:
        width = sum(map(adv.__getitem__, s))        # (font units: exact integer sums)
    except KeyError:
        return None
    top = max(map(hi.__getitem__, s), default=-_INF)
    k = size / upm
    if top == -_INF:                # no ink (spaces, or nothing)
        return width * k, 0.0, 0.0
    bottom = min(map(lo.__getitem__, s))
    return width * k, (top - bottom) * k, -bottom * k


_INF = float("inf")


def advances(path: str):
    """(units per em, {character: advance in font units}) of the print font file ``path``, as
    :func:`text_metrics` sums them (the font has no kerning: a line's width is the sum of its
    characters' advances)."""
    upm, adv, _, _ = _char_tables(str(path))
    return upm, adv


@functools.lru_cache(maxsize=8)
def _char_tables(path: str):
    """:func:`_metrics_table` as three lookups (advance; lowest and highest ink, +inf and
    -inf for a glyph without ink), which :func:`text_metrics` maps over a string in C (an
    atlas run measures some thousands of strings: titles, legends, credits and the candidate
    lines their wrapping tries)."""
    upm, table = _metrics_table(path)
    adv = {ch: m[0] for ch, m in table.items()}
    lo = {ch: _INF if m[1] is None else m[1] for ch, m in table.items()}
    hi = {ch: -_INF if m[2] is None else m[2] for ch, m in table.items()}
    return upm, adv, lo, hi
