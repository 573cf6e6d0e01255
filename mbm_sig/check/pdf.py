"""Text of a PDF as printed: one run per text object, with its font size, its halo and its
ink, in page millimetres (origin top-left), read with pdfminer.six.

The ink of a run is measured from the glyph outlines of its font (the print font's
DejaVu outlines, ``glyf`` bounding boxes), one box per glyph, not from the font's
ascent and descent: two labels whose line boxes touch may not touch on paper, and a bold
capital reaching the frame line does. A label's halo (the same text stroked in white just
before it, text render mode 1 or 2) is not read as a second text: its half stroke width is
the run's ``halo`` (mm), the white margin the label keeps around its ink.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

PT_MM = 25.4 / 72


@dataclass(frozen=True)
class Run:
    """One printed text (a label, a legend entry, a line of a paragraph)."""

    text: str
    size: float                                   # pt
    bbox: tuple[float, float, float, float]       # ink box, mm, (x0, y0, x1, y1), y down
    rotated: bool = False                         # set at an angle (a stamp): its box is not its ink
    halo: float = 0.0                             # mm of white halo around the ink (0: none)
    bold: bool = False
    glyphs: tuple = ()                            # ink box of each glyph (mm), for exact overlaps

    @property
    def cx(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def cy(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2

    def outer(self) -> tuple[float, float, float, float]:
        """The ink box grown by the halo: what the label covers on paper."""
        h = self.halo
        return (self.bbox[0] - h, self.bbox[1] - h, self.bbox[2] + h, self.bbox[3] + h)


@dataclass
class PageText:
    number: int                                   # 1-based page number in the file
    size_mm: tuple[float, float]
    runs: list = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.runs)


# ------------------------------------------------------------------------------ glyph ink

_FONT_FILES = {"": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "oblique": "DejaVuSans-Oblique.ttf",
               "boldoblique": "DejaVuSans-BoldOblique.ttf"}


def _style(fontname: str) -> str:
    n = fontname.split("+", 1)[-1].lower()
    return ("bold" if "bold" in n else "") + ("oblique" if ("oblique" in n or "italic" in n) else "")


@functools.lru_cache(maxsize=8)
def _ink_table(style: str, family: str):
    """(units per em, {char: (xMin, yMin, xMax, yMax) or None}) of the DejaVu face the
    print font («MBM Sans») is cut from; None for another family."""
    if family not in ("mbmsans", "dejavusans"):
        return None
    import matplotlib
    from fontTools.ttLib import TTFont
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / _FONT_FILES.get(style, _FONT_FILES[""])
    if not path.exists():
        return None
    tt = TTFont(str(path), lazy=True)
    glyf = tt["glyf"]
    table = {}
    for cp, name in tt.getBestCmap().items():
        g = glyf[name]
        table[chr(cp)] = ((g.xMin, g.yMin, g.xMax, g.yMax)
                          if g.numberOfContours != 0 and hasattr(g, "xMin") else None)
    return tt["head"].unitsPerEm, table


def _family(fontname: str) -> str:
    n = fontname.split("+", 1)[-1].lower()
    return re.split(r"[-,]", n)[0].replace(" ", "")


def glyph_ink(c, page_h: float):
    """Ink box (mm, y down) of one pdfminer character, None for a blank (a space)."""
    a, b, cc, d, e, f = c.matrix
    if abs(b) < 1e-6 and abs(cc) < 1e-6:
        t = _ink_table(_style(c.fontname), _family(c.fontname))
        if t is not None:
            upm, table = t
            txt = c.get_text()
            if len(txt) == 1 and txt in table:
                g = table[txt]
                if g is None:
                    return None
                ky = c.size / upm                       # c.size: the font size on the page
                kx = ky * (a / d if d else 1.0)         # horizontal scaling
                x0, y0, x1, y1 = e + g[0] * kx, f + g[1] * ky, e + g[2] * kx, f + g[3] * ky
                return (x0 * PT_MM, (page_h - y1) * PT_MM, x1 * PT_MM, (page_h - y0) * PT_MM)
        if not c.get_text().strip():
            return None
        base, size = f, c.size
        return (c.x0 * PT_MM, (page_h - (base + 0.72 * size)) * PT_MM,
                c.x1 * PT_MM, (page_h - (base - 0.20 * size)) * PT_MM)
    return (c.x0 * PT_MM, (page_h - c.y1) * PT_MM, c.x1 * PT_MM, (page_h - c.y0) * PT_MM)


def _runs_of(chars, page_h: float) -> list[Run]:
    """Group consecutive characters (content-stream order) into runs: one shown string
    (a text the page sets: a label, a line), same size, same baseline, same fill or stroke,
    each character starting where the previous one ended. Two texts set end to end stay two
    runs. A stroked run (a halo) is folded into the filled run it precedes."""
    out: list = []
    cur: list = []
    halos: list = []          # (text, x0, base, half width mm) of the last stroked runs

    def flush():
        if not cur:
            return
        size = max(c.size for c in cur)
        text = "".join(c.get_text() for c in cur).strip()
        rotated = any(abs(c.matrix[1]) > 1e-6 or abs(c.matrix[2]) > 1e-6 for c in cur)
        stroked = getattr(cur[0], "mbm_stroke", 0.0)
        base, x0 = cur[0].matrix[5], cur[0].matrix[4]
        if text and stroked:
            halos.append((text, x0, base, stroked / 2 * PT_MM))
        elif text:
            glyphs = tuple(g for g in (glyph_ink(c, page_h) for c in cur) if g is not None)
            if glyphs:
                box = (min(g[0] for g in glyphs), min(g[1] for g in glyphs),
                       max(g[2] for g in glyphs), max(g[3] for g in glyphs))
            else:
                box = (min(c.x0 for c in cur) * PT_MM, (page_h - base - 0.72 * size) * PT_MM,
                       max(c.x1 for c in cur) * PT_MM, (page_h - base + 0.2 * size) * PT_MM)
            halo = 0.0
            for k, (ht, hx, hb, hw) in enumerate(halos):
                if ht == text and abs(hx - x0) < 0.05 and abs(hb - base) < 0.05:
                    halo = hw
                    del halos[k]
                    break
            bold = any("bold" in _style(c.fontname) for c in cur)
            out.append(Run(text, round(size, 2), box, rotated, halo, bold, glyphs))
        cur.clear()

    for c in chars:
        if cur:
            p = cur[-1]
            same = (getattr(c, "mbm_string", 0) == getattr(p, "mbm_string", 0)
                    and abs(c.size - p.size) < 0.05 and abs(c.matrix[5] - p.matrix[5]) < 0.2
                    and getattr(c, "mbm_stroke", 0.0) == getattr(p, "mbm_stroke", 0.0)
                    and -0.2 * c.size <= c.x0 - p.x1 <= 0.35 * c.size)      # kerning pulls glyphs in
            if not same:
                flush()
        cur.append(c)
    flush()
    return out


_TEXT = re.compile(rb"\bBT\b.*?\bET\b", re.S)
_STATE = re.compile(rb"(?<![\w/.])(?:cm|q|Q|w|Do)(?![\w])")


def _state_ops(content: bytes, start: int, end: int) -> list[bytes]:
    ops = []
    for g in _STATE.finditer(content, start, end):
        op = g.group(0)
        if op == b"cm":
            args = content[max(start, g.start() - 160):g.start()].split()[-6:]
            op = b" ".join(args + [b"cm"])
        elif op == b"Do":               # a form (the book's page number overlay): its texts are read
            args = content[max(start, g.start() - 80):g.start()].split()[-1:]
            if not args or not args[0].startswith(b"/"):
                continue
            op = args[0] + b" Do"
        elif op == b"w":
            args = content[max(start, g.start() - 40):g.start()].split()[-1:]
            try:
                float(args[0])
            except (IndexError, ValueError):
                continue
            op = b" ".join(args + [b"w"])
        ops.append(op)
    return ops


def text_only(content: bytes) -> bytes:
    """A content stream reduced to its text objects and the graphics-state operators that
    place them (q, Q, cm, w for the stroke width of halos, and Do for the forms the page
    draws, such as the book's page-number overlay): map pages carry megabytes of path
    coordinates that a text reader need not tokenize."""
    out, pos = [], 0
    for m in _TEXT.finditer(content):
        out += _state_ops(content, pos, m.start())
        out.append(m.group(0))
        pos = m.end()
    out += _state_ops(content, pos, len(content))
    return b"\n".join(out)


def _device(rm):
    from pdfminer.converter import PDFPageAggregator

    class Aggregator(PDFPageAggregator):
        """Characters as drawn, each marked with the stroke width when its text is
        stroked (render mode 1 or 2: a halo)."""

        strings = 0

        def render_string(self, textstate, seq, ncs, graphicstate):
            n = len(self.cur_item._objs)
            super().render_string(textstate, seq, ncs, graphicstate)
            self.strings += 1
            w = (float(graphicstate.linewidth or 0.0) or 1e-3) if textstate.render in (1, 2) else 0.0
            for c in self.cur_item._objs[n:]:
                c.mbm_string = self.strings          # one shown string: one text of the page
                if w:
                    c.mbm_stroke = w

    return Aggregator(rm, laparams=None)


def _chars(item, kind):
    """The characters of a layout item in drawing order, those of its forms (figures) too."""
    for el in item:
        if isinstance(el, kind):
            yield el
        elif hasattr(el, "__iter__"):
            yield from _chars(el, kind)


def read_pdf(path, pages=None) -> list[PageText]:
    """Every page's text runs. ``pages``: optional set of 1-based page numbers to read."""
    from pdfminer.layout import LTChar
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdftypes import PDFStream, stream_value

    out = []
    rm = PDFResourceManager(caching=True)
    dev = _device(rm)
    interp = PDFPageInterpreter(rm, dev)
    with open(path, "rb") as fh:
        for k, page in enumerate(PDFPage.get_pages(fh)):
            n = k + 1
            if pages and n not in pages:
                continue
            data = b"\n".join(stream_value(c).get_data() for c in page.contents)
            stream = PDFStream({}, text_only(data))
            stream.objid = -n             # pdfminer executes indirect streams only
            page.contents = [stream]
            interp.process_page(page)
            lt = dev.get_result()
            chars = list(_chars(lt, LTChar))
            out.append(PageText(n, (lt.width * PT_MM, lt.height * PT_MM), _runs_of(chars, lt.height)))
    return out
