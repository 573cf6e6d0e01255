"""Faster text in the PDF backend, for the print font only, in mbm-sig's own saves.

Text is half the time of a map sheet in matplotlib's PDF backend: every string is shaped
again (libraqm) and every glyph loaded, and every Text measures its lines again on each new
renderer. The print font «MBM Sans» (:mod:`mbm_sig.maps.output.fonts`) has no layout tables, so
shaping a string is looking up its glyphs: :class:`FastRendererPdf` (the renderer of
:class:`FastCanvasPdf`, the canvas our saves use: matplotlib's classes are not patched, a
notebook's own ``savefig`` keeps matplotlib's path; the one module function swapped is the
glyph subsetter, while one of our files writes its fonts) has a ``draw_text`` that writes
the operators matplotlib writes (``q … cm BT /F Tf 0 0 Td [<glyphs>] TJ ET Q``) from cached glyph indices, and a text
measure taken from the font's tables (:func:`mbm_sig.maps.output.fonts.text_metrics`) and cached
across renderers (the metrics of a string at 72 dpi do not depend on the page). The
glyphs sit at the font's own advances, where matplotlib adds tiny adjustments from its
1/64 pt grid (at most 0.05 % of the line length). Anything else —
other fonts, mathtext, links, a glyph missing from the print font, a matplotlib whose
internals differ (only the versions in :data:`TESTED_MATPLOTLIB` are patched), or
``MBM_SIG_PDF_FASTPATH=0`` — takes matplotlib's own path, byte for byte (both tested: the
suite runs its map tests a second time with the fast path off).
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import re
import threading

import matplotlib as mpl
import numpy as np
from matplotlib.backends import _backend_pdf_ps as _pdf_ps
from matplotlib.backends import backend_pdf
from matplotlib.textpath import TextToPath
from zlib_ng import zlib_ng

from mbm_sig.maps.output import fonts
from mbm_sig.maps.output.pdfpath import PrintPath, filled_path_bytes, pdf_repr

_Renderer = backend_pdf.RendererPdf
_ORIG_DRAW_TEXT = _Renderer.draw_text
_ORIG_MEASURE = _Renderer.get_text_width_height_descent
try:      # the internals the fast path relies on (matplotlib 3.11)
    from matplotlib.backends.backend_pdf import _fill, pdfRepr  # noqa: F401  (pdf_repr writes as these)
    from matplotlib.font_manager import FontPath
    _SUPPORTED = all(hasattr(_Renderer, a) for a in ("_get_font_ttf", "_encode_glyphs", "check_gc",
                                                     "_get_font_height_metrics"))
except ImportError:       # pragma: no cover - older matplotlib: its own path only
    _SUPPORTED = False
_SUBSET_OK = _SUPPORTED and all(hasattr(_pdf_ps, a) for a in ("get_glyphs_subset", "font_as_file", "SubsetResults"))

_state = {"enabled": True}
# matplotlib versions whose PDF backend internals the fast path was checked against (the
# same range as the dependency pin in pyproject.toml); any other version, or
# MBM_SIG_PDF_FASTPATH=0, takes matplotlib's own text path
TESTED_MATPLOTLIB = ((3, 11),)


def active() -> bool:
    """Whether :func:`fast_pdf_text` patches the backend: a tested matplotlib whose
    internals are found, and ``MBM_SIG_PDF_FASTPATH`` not ``0``."""
    version = tuple(int(p) for p in mpl.__version__.split(".")[:2] if p.isdigit())
    return (_SUPPORTED and version in TESTED_MATPLOTLIB
            and os.environ.get("MBM_SIG_PDF_FASTPATH", "1").strip() != "0")
_FONTS: dict = {}          # font properties and family settings -> FT2Font
_GLYPH_INDEX: dict = {}    # (font file, face) -> {char: glyph index}
_METRICS: dict = {}        # (string, size, font key) -> (width, height, descent)


def _glyphs(font, s: str, cache: dict):
    """Glyph indices of ``s`` in ``font`` (None when one is missing, or is a control or
    format character such as the soft hyphen, which matplotlib's shaping hides: the caller
    falls back)."""
    out = []
    for ch in s:
        g = cache.get(ch)
        if g is None:
            g = font.get_char_index(ord(ch)) if fonts.plain_char(ch) else 0
            cache[ch] = g
        if not g:
            return None
        out.append(g)
    return out


_FONT_RC = ("font.family", "font.sans-serif", "font.serif", "font.monospace", "font.cursive", "font.fantasy",
            "font.style", "font.weight", "font.stretch", "font.variant")


def _prop_key(prop) -> tuple:
    """Everything the font of ``prop`` depends on: its properties (exactly, not a hash) and
    the settings that resolve family names such as «sans-serif»."""
    rc, get = mpl.rcParams, dict.__getitem__       # the stored settings (RcParams' own look-up checks more)
    return (tuple(prop.get_family()), prop.get_style(), prop.get_variant(), prop.get_weight(),
            prop.get_stretch(), prop.get_file(),
            tuple(tuple(v) if isinstance(v, list) else v for v in (get(rc, k) for k in _FONT_RC)))  # type: ignore[misc]


def _font_of(self, prop, key=None):
    """The TrueType font of ``prop`` (cached: matplotlib looks it up again for every
    string); its size is not set, only its file and glyphs are used here."""
    key = key or _prop_key(prop)
    font = _FONTS.get(key)
    if font is None:
        if len(_FONTS) > 256:
            _FONTS.clear()
        font = _FONTS[key] = self._get_font_ttf(prop)
    return font


HALO_GID = "mbm-halo:"     # a Text whose gid is «mbm-halo:<width pt>» is a label's halo


def halo_width(mtext) -> float | None:
    """The halo stroke width of a label's halo Text (see :data:`HALO_GID`), else None."""
    gid = mtext.get_gid() if mtext is not None else None
    if isinstance(gid, str) and gid.startswith(HALO_GID):
        return float(gid[len(HALO_GID):])
    return None


def _halo_by_path(self, gc, x, y, s, prop, angle, ismath, mtext, width):
    """matplotlib's own halo: the text as a path, filled and stroked (path effect)."""
    from matplotlib import patheffects
    r = patheffects.PathEffectRenderer([patheffects.Stroke(linewidth=width, foreground=gc.get_rgb())], self)
    return r.draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)


def _draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
    halo = halo_width(mtext)
    orig = _ORIG_DRAW_TEXT if halo is None else functools.partial(_halo_by_path, width=halo)
    if (ismath or not _state["enabled"] or gc.get_url() is not None or mpl.rcParams["pdf.use14corefonts"]
            or mpl.rcParams["pdf.fonttype"] != 42 or (mtext is not None and (
                mtext.get_fontfeatures() is not None or mtext.get_language() is not None))):
        return orig(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
    font = _font_of(self, prop)
    if not fonts.is_print_font(font.fname):
        return orig(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
    file = self.file
    memo = file.__dict__.setdefault("_mbm_glyph_memo", {})   # per file: (font, char) -> (subset, code)
    fkey = (font.fname, font.face_index)
    gids = _glyphs(font, s, _GLYPH_INDEX.setdefault(fkey, {}))
    if gids is None:
        return orig(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
    codes, subset0 = [], None
    for ch, g in zip(s, gids, strict=False):
        r = memo.get((fkey, ch))
        if r is None:
            r = file._character_tracker.track_glyph(font, ch, g)
            memo[(fkey, ch)] = r
        if subset0 is None:
            subset0 = r[0]
        elif r[0] != subset0:           # several subsets in one string: matplotlib's path
            return orig(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        codes.append(r[1])
    self.check_gc(gc, gc._rgb)
    # the operators matplotlib writes (gsave, matrix, BT, font, position, TJ, ET, grestore),
    # formatted as its own pdfRepr formats them (pdf_repr), in one write
    a = math.radians(angle)
    c, sn = math.cos(a), math.sin(a)
    out = [b"q", pdf_repr([c, sn, -sn, c, x, y])[1:-1] + b" cm"]
    if halo is not None:
        # the halo: the same glyphs filled and stroked in the halo colour (text render mode
        # 2), marked as an artifact so that text extraction reads the label once
        rgb = pdf_repr(list(gc.get_rgb()[:3]))[1:-1]
        out = [b"/Artifact BMC"] + out + [rgb + b" RG", pdf_repr(halo) + b" w 1 j 1 J"]
    out += [b"BT"] + ([b"2 Tr"] if halo is not None else [])
    if codes:
        name = file.fontName(FontPath(font.fname, font.face_index), subset0)
        out += [pdf_repr(name) + b" " + pdf_repr(prop.get_size_in_points()) + b" Tf", b"0 0 Td",
                pdf_repr([self._encode_glyphs(codes, 42)]) + b" TJ"]
    out += [b"ET", b"Q"] + ([b"EMC"] if halo is not None else []) + [b""]
    file.write(b"\n".join(out))


class _Measurer:
    """Stands for a renderer in the measure of a plain string: only its TrueType font
    lookup is used (matplotlib measures unhinted, at 72 dpi)."""
    _get_font_ttf = _Renderer._get_font_ttf
    _use_afm_rc_name = "pdf.use14corefonts"


_MEASURER = _Measurer()


def unhinted_metrics(s: str, prop) -> tuple[float, float, float]:
    """(width, height, descent) in points of one line as the PDF backend measures it
    (FreeType, unhinted, 72 dpi), for strings the font tables cannot measure alone."""
    return _ORIG_MEASURE(_MEASURER, s, prop, False)  # type: ignore[arg-type]


def _get_text_width_height_descent(self, s, prop, ismath):
    if ismath or not _state["enabled"] or mpl.rcParams["pdf.use14corefonts"]:
        return _ORIG_MEASURE(self, s, prop, ismath)
    pk = _prop_key(prop)
    key = (s, prop.get_size_in_points(), pk)
    r = _METRICS.get(key)
    if r is None:
        if len(_METRICS) > 20000:
            _METRICS.clear()
        font = _font_of(self, prop, pk)
        r = fonts.text_metrics(font.fname, s, prop.get_size_in_points()) if fonts.is_print_font(font.fname) else None
        if r is None:
            r = unhinted_metrics(s, prop)
        _METRICS[key] = r
    return r


# The embedded print font: the glyphs a page uses plus a fixed core (ASCII, French letters
# and signs), so that nearly every page embeds the *same* font bytes: made once per
# process, not once per file, and stored once in a merged atlas (identical objects).
CORE_TEXT = ("".join(map(chr, range(0x20, 0x7F))) + "àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ’‘“”«»–—…€°²³·×±≤≥≈"
             "\u00a0\u202f\u2009\u2212")
_ORIG_SUBSET = getattr(_pdf_ps, "get_glyphs_subset", None)


@functools.lru_cache(maxsize=16)
def _core_chars(path: str, face_index: int) -> tuple:
    """(character code, character, glyph) of each character of :data:`CORE_TEXT` the font has."""
    from matplotlib.ft2font import FT2Font
    font = FT2Font(path, face_index=face_index) if face_index else FT2Font(path)
    return tuple((ord(c), c, g) for c, g in ((c, font.get_char_index(ord(c))) for c in CORE_TEXT) if g)


@functools.lru_cache(maxsize=16)
def _core_gids(path: str, face_index: int) -> frozenset:
    return frozenset(g for _, _, g in _core_chars(path, face_index))


class _Saved:
    """Stands for the subset TTFont: ``font_as_file`` only calls ``save``."""

    def __init__(self, data: bytes):
        self.data = data

    def save(self, fh, reorderTables=False):
        fh.write(self.data)


def _stable_subset(fontfile, glyphs):
    path = str(fontfile)
    if not _state["enabled"] or not fonts.is_print_font(path):
        return _ORIG_SUBSET(fontfile, glyphs)
    face = getattr(fontfile, "face_index", 0)
    want = frozenset(glyphs) | _core_gids(path, face)

    def make():
        with _ORIG_SUBSET(fontfile, set(want)) as sub:
            return _pdf_ps.font_as_file(sub.font).getvalue(), dict(sub.glyph_index_map)
    hit = fonts.kept_subset(path, face, want, make)     # kept in this process and beside the font

    @contextlib.contextmanager
    def cm():
        yield _pdf_ps.SubsetResults(_Saved(hit[0]), hit[1])
    return cm()


_LOCK = threading.Lock()
_ACTIVE = {"count": 0, "saved": None}


_HEIGHTS: dict = {}        # (font key, size) -> (ascent, descent, line gap) of a Text's layout
_FONT_FILES: dict = {}     # (font key (no size), font manager, fonts known) -> the font files matplotlib matches to it


def _font_height_metrics(self, prop):
    """The font's ascent, descent and line gap that matplotlib's ``Text._get_layout`` reads
    from its OS/2 (else hhea) table on every draw of every Text, computed once per font and
    size by the same expressions (the PDF is drawn at 72 dpi), for the print font."""
    if not _state["enabled"] or mpl.rcParams["pdf.use14corefonts"]:
        return _Renderer._get_font_height_metrics(self, prop)
    size = prop.get_size_in_points()
    key = (_prop_key(prop), size)
    r = _HEIGHTS.get(key)
    if r is None:
        from matplotlib.font_manager import fontManager, get_font
        pk = (key[0], id(fontManager), len(fontManager.ttflist))  # (a font added, a manager rebuilt: matched again)
        files = _FONT_FILES.get(pk)
        if files is None:
            # matplotlib's font matching does not depend on the size (every TrueType font it
            # lists is scalable: its size scores 0), so it is asked once per font, not once
            # per size (each time scoring every font it knows: some 2 ms)
            if len(_FONT_FILES) > 256:
                _FONT_FILES.clear()
            files = _FONT_FILES[pk] = fontManager._find_fonts_by_props(prop)
        font = get_font(files)
        r = (None, None, None)
        if fonts.is_print_font(font.fname):
            dpi = 72.0
            for table_name, linegap_key, ascent_key, descent_key in (
                    ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                    ("hhea", "lineGap", "ascent", "descent")):
                table = font.get_sfnt_table(table_name)
                if table is None:
                    continue
                units_per_em = font.get_sfnt_table("head")["unitsPerEm"]
                scale = 1 / units_per_em * size * dpi / 72
                r = (table[ascent_key] * scale, -table[descent_key] * scale, table[linegap_key] * scale)
                break
        if len(_HEIGHTS) > 1024:
            _HEIGHTS.clear()
        _HEIGHTS[key] = r
    return r


def _draw_path(self, gc, path, transform, rgbFace=None):
    """matplotlib's ``draw_path``, with a path's operators printed by numpy
    (:func:`mbm_sig.maps.output.pdfpath.filled_path_bytes`: the same bytes) when it can: a
    filled path, a stroked one (which matplotlib clips to the page) inside the page, or a map
    layer's stroked path (a :class:`~mbm_sig.maps.output.pdfpath.PrintPath`: made for print,
    clipped by the frame's clip path), which is written as it is."""
    data = None
    if _state["enabled"] and gc.get_sketch_params() is None:
        if rgbFace is not None:
            data = filled_path_bytes(path, transform)
        elif gc.get_hatch_path() is None:
            page = None if isinstance(path, PrintPath) else (self.file.width * 72, self.file.height * 72)
            data = filled_path_bytes(path, transform, page)
    if data is None:
        return _Renderer.draw_path(self, gc, path, transform, rgbFace)
    self.check_gc(gc, rgbFace)
    self.file.output(backend_pdf.Verbatim(data))     # as matplotlib's writePath outputs it
    self.file.output(self.gc.paint())


_TEXT_PATHS: dict = {}       # (font key, string) -> glyph outlines (vertices, codes)


class _KeptTextToPath(TextToPath):
    """matplotlib's text-to-outline conversion, its result kept per font and plain string:
    the north arrow's halo (an outline stroked by a path effect) is the same «N» on every
    sheet. The outlines do not depend on the size (drawn at ``FONT_SCALE``, scaled after)."""

    def get_text_path(self, prop, s, ismath=False, *, features=None, language=None):
        if ismath or features is not None or language is not None:
            return super().get_text_path(prop, s, ismath, features=features, language=language)
        key = (_prop_key(prop), s)
        hit = _TEXT_PATHS.get(key)
        if hit is None:
            verts, codes = super().get_text_path(prop, s)
            if len(_TEXT_PATHS) > 256:
                _TEXT_PATHS.clear()
            hit = _TEXT_PATHS[key] = (np.array(verts, dtype=float).reshape(-1, 2), list(codes))
        return hit[0].copy(), list(hit[1])


_TEXT2PATH = _KeptTextToPath()


class FastRendererPdf(_Renderer):
    """matplotlib's PDF renderer with the print font's text on the fast path (:func:`_draw_text`,
    :func:`_get_text_width_height_descent`), filled paths printed by numpy
    (:func:`_draw_path`) and text outlines kept (:class:`_KeptTextToPath`): used only for
    mbm-sig's own saves."""

    draw_text = _draw_text
    get_text_width_height_descent = _get_text_width_height_descent
    draw_path = _draw_path
    _get_font_height_metrics = _font_height_metrics

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._text2path = _TEXT2PATH


@contextlib.contextmanager
def _stable_subsets():
    """While a file of ours writes its fonts: matplotlib's glyph subsetting gives the stable
    print-font subset (:func:`_stable_subset`, other fonts unchanged). Held for the fonts of
    one file (milliseconds), shared by concurrent writers, put back when the last ends."""
    if not _SUBSET_OK:
        yield
        return
    with _LOCK:
        if _ACTIVE["count"] == 0:
            _ACTIVE["saved"] = _pdf_ps.get_glyphs_subset
            _pdf_ps.get_glyphs_subset = _stable_subset
        _ACTIVE["count"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE["count"] -= 1
            if _ACTIVE["count"] == 0:
                _pdf_ps.get_glyphs_subset = _ACTIVE["saved"]
                _ACTIVE["saved"] = None


_OBJ_REF = re.compile(rb"(\d+) 0 R")


class _Embedded:
    """The objects matplotlib wrote for one font (its dictionaries, widths, maps and font file),
    kept to be written again in another file: each object's bytes around its references to
    the others (a stream's data after its dictionary, never searched), by position in the
    block of objects the font reserved."""

    __slots__ = ("names", "objs", "result")

    def __init__(self, names, objs, result):
        self.names, self.objs, self.result = names, objs, result

    @classmethod
    def make(cls, data: bytes, first: int, offsets: list, names: list, result):
        """From what one ``embedTTF`` wrote (``data``, its objects ``first``… at ``offsets``
        in it): None when it is not a block of whole objects referring only to each other."""
        n = len(offsets)
        if n == 0 or None in offsets or not isinstance(result, backend_pdf.Reference) \
                or not first <= result.id < first + n:
            return None
        order = sorted(range(n), key=offsets.__getitem__)
        if offsets[order[0]] != 0:
            return None
        objs = []
        for j, k in enumerate(order):
            end = offsets[order[j + 1]] if j + 1 < n else len(data)
            seg = data[offsets[k]:end]
            head = b"%d 0 obj\n" % (first + k)
            if not seg.startswith(head):
                return None
            cut = seg.find(b"\nstream\n")
            cut = cut if cut >= 0 else seg.rfind(b"\nendobj\n")
            if cut < 0:
                return None
            parts = _OBJ_REF.split(seg[len(head):cut])
            pieces, kids = tuple(parts[0::2]), tuple(int(x) - first for x in parts[1::2])
            if not all(0 <= x < n for x in kids):
                return None
            objs.append((k, pieces, kids, seg[cut:]))
        return cls(tuple(names), tuple(objs), result.id - first)

    def write(self, file):
        ids = [file.reserveObject(name).id for name in self.names]
        write = file.fh.write
        for k, pieces, kids, tail in self.objs:
            file.recordXref(ids[k])
            out = [b"%d 0 obj\n" % ids[k], pieces[0]]
            for x, piece in zip(kids, pieces[1:], strict=True):
                out += [b"%d 0 R" % ids[x], piece]
            out.append(tail)
            write(b"".join(out))
        return backend_pdf.Reference(ids[self.result])


_EMBEDDED: dict = {}        # (font, type, compression, character map) -> _Embedded


def tracker_ok(tracker) -> bool:
    """Whether the character tracker has the internals :meth:`FastPdfFile._with_core` fills."""
    return (isinstance(getattr(tracker, "used", None), dict) and isinstance(getattr(tracker, "glyph_maps", None), dict)
            and getattr(tracker, "subset_size", 0) == 65536 and hasattr(_pdf_ps, "GlyphMap"))


class FastPdfFile(backend_pdf.PdfFile):
    """A PDF file of ours: its fonts are written with the stable print-font subset, the print
    font's objects once per process and character map (:meth:`embedTTF`); its streams are
    compressed by zlib-ng (:meth:`beginStream`)."""

    def beginStream(self, id, len, extra=None, png=None):
        """matplotlib's ``beginStream``, the stream compressed by zlib-ng at the same level
        (``pdf.compression``) instead of zlib: the same Flate format, in some 60 % of the time
        and some 5 % fewer bytes at level 2 (a map sheet's content stream is the biggest part
        of its time after drawing)."""
        super().beginStream(id, len, extra, png)
        stream = self.currentstream
        if stream is not None and stream.compressobj is not None:     # (nothing compressed yet)
            stream.compressobj = zlib_ng.compressobj(mpl.rcParams["pdf.compression"])

    def output(self, *data):
        """matplotlib's ``output`` (operators and operands into the current stream), its
        operands written by :func:`~mbm_sig.maps.output.pdfpath.pdf_repr`: the same bytes."""
        self.write(backend_pdf._fill([pdf_repr(x) for x in data]))
        self.write(b"\n")

    def _with_core(self) -> None:
        """The print font's core characters (:data:`CORE_TEXT`) recorded as used on every file,
        as drawing them would record them (first subset, the character's own code): the
        embedded subset holds their glyphs anyway, and now its dictionaries, widths and maps
        are the same on every page that draws no other character (stored once in a book,
        compressed once per process). A code the file maps to another glyph is left as it is."""
        tracker = self._character_tracker
        for filename, subset in self._fontNames:
            if subset != 0 or not fonts.is_print_font(str(filename)):
                continue
            used, glyphs = tracker.used.get(filename), tracker.glyph_maps.get(filename)
            if not used or glyphs is None:
                continue
            charmap = used[0]
            for code, ch, gid in _core_chars(str(filename), getattr(filename, "face_index", 0)):
                if code not in charmap and glyphs.get(ch, gid) is None:
                    charmap[code] = gid
                    glyphs.add(ch, gid, 0, code)

    def embedTTF(self, filename, subset_index, charmap):
        """matplotlib's ``embedTTF``; for the print font's first subset, what it writes for a
        character map met before in this process (the same on nearly every page: see
        :meth:`_with_core`) is written again from the objects kept then, renumbered: the bytes
        matplotlib writes, without building the subset, widths and maps again (:class:`_Embedded`)."""
        key = self._embed_key(filename, subset_index, charmap)
        if key is None:
            return super().embedTTF(filename, subset_index, charmap)
        hit = _EMBEDDED.get(key)
        if hit is not None:
            return hit.write(self)
        first, real, at, base = len(self.xrefTable), self.fh, self.fh.tell(), self.tell_base
        self.fh, self.tell_base = io.BytesIO(), 0
        try:
            result = super().embedTTF(filename, subset_index, charmap)
            data = self.fh.getvalue()
        finally:
            self.fh, self.tell_base = real, base
        ids = range(first, len(self.xrefTable))
        offsets = [self.xrefTable[i][0] for i in ids]
        for i, off in zip(ids, offsets, strict=True):        # where they are in this file
            self.xrefTable[i][0] = None if off is None else off + at - base
        real.write(data)
        kept = _Embedded.make(data, first, offsets, [self.xrefTable[i][2] for i in ids], result)
        if kept is not None:
            if len(_EMBEDDED) >= 32:
                _EMBEDDED.pop(next(iter(_EMBEDDED)))
            _EMBEDDED[key] = kept
        return result

    def _embed_key(self, filename, subset_index, charmap):
        if (subset_index != 0 or not _state["enabled"] or not _SUBSET_OK or self.currentstream is not None
                or not fonts.is_print_font(str(filename)) or not hasattr(self, "tell_base")):
            return None
        return (str(filename), getattr(filename, "face_index", 0), mpl.rcParams["pdf.fonttype"],
                mpl.rcParams["pdf.compression"], tuple(sorted(charmap.items())))

    def writeFonts(self):
        with _stable_subsets():
            if _SUBSET_OK and _state["enabled"] and tracker_ok(self._character_tracker):
                self._with_core()
            return super().writeFonts()


class FastPdfPages(backend_pdf.PdfPages):
    """A multi-page PDF of ours (books): pages drawn by :class:`FastCanvasPdf` (pass the
    figures to :func:`save_page`), its file a :class:`FastPdfFile`."""

    def _ensure_file(self):
        if self._file is None:
            self._file = FastPdfFile(self._filename, metadata=self._metadata)
        return self._file


class FastCanvasPdf(backend_pdf.FigureCanvasPdf):
    """The canvas of mbm-sig's own PDF saves: matplotlib's ``print_pdf`` with our renderer
    and file classes. Nothing of matplotlib is patched: other code in the process (a
    notebook's ``plt.savefig``) keeps matplotlib's own text path."""

    def print_pdf(self, filename, *, bbox_inches_restore=None, metadata=None, dpi=None, facecolor=None,
                  edgecolor=None, orientation=None):
        # dpi, colours, orientation: what print_figure passes and matplotlib's own print_pdf
        # drops (the figure is drawn at 72 dpi, its colours already set for the save)
        from matplotlib.backends.backend_mixed import MixedModeRenderer
        dpi = self.figure.dpi
        self.figure.dpi = 72  # there are 72 pdf points to an inch
        width, height = self.figure.get_size_inches()
        pages = isinstance(filename, backend_pdf.PdfPages)
        file = filename._ensure_file() if pages else FastPdfFile(filename, metadata=metadata)
        try:
            file.newPage(width, height)
            renderer = MixedModeRenderer(self.figure, width, height, dpi, FastRendererPdf(file, dpi, height, width),
                                         bbox_inches_restore=bbox_inches_restore)
            self.figure.draw(renderer)
            renderer.finalize()
            if not pages:
                file.finalize()
        finally:
            if pages:            # finish off this page
                file.endStream()
            else:                # we opened the file above; now finish it off
                file.close()


@contextlib.contextmanager
def pdf_canvas(fig):
    """``fig`` saved to PDF through :class:`FastCanvasPdf` for the time of the block (its
    canvas put back after); matplotlib's own canvas when the fast path is not :func:`active`."""
    if not active():
        yield
        return
    fonts.ensure()
    old = fig.canvas
    FastCanvasPdf(fig)                 # sets itself as the figure's canvas
    try:
        yield
    finally:
        fig.set_canvas(old)


def pdf_pages(path, metadata=None):
    """A multi-page PDF writer: :class:`FastPdfPages` (fast path), else matplotlib's."""
    return (FastPdfPages if active() else backend_pdf.PdfPages)(path, metadata=metadata)


def save_page(pdf, fig) -> None:
    """One figure as the next page of ``pdf`` (from :func:`pdf_pages`)."""
    if isinstance(pdf, FastPdfPages):
        with pdf_canvas(fig):
            fig.savefig(pdf, format="pdf")
    else:
        pdf.savefig(fig)


@contextlib.contextmanager
def fast_pdf_text():
    """Kept for callers of the former process-wide switch: the fast path is now scoped to
    mbm-sig's saves (:func:`pdf_canvas`, :func:`pdf_pages`) and this patches nothing."""
    yield
