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
    order: int = 0                                # the shown string's rank in the page's drawing order

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
    paints: list = field(default_factory=list)    # (order, box mm) of what is painted after the first
                                                  # halo: a run is under a paint of higher order

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
            out.append(Run(text, round(size, 2), box, rotated, halo, bold, glyphs,
                           getattr(cur[0], "mbm_string", 0)))
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
            out.append(PageText(n, (lt.width * PT_MM, lt.height * PT_MM), _runs_of(chars, lt.height),
                                paints_after_halos(data, lt.height, _forms(page))))
    return out


# ------------------------------------------------------------------------------ painting order

_SHOW = re.compile(rb"(?:\bTJ\b|\bTj\b)")
_TOK = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)|/[^\s/\[\]()<>{}%]+|[A-Za-z*'\"]+")
_FILL = {b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
_STROKE = {b"S", b"s"}


def _forms(page) -> dict:
    """Name -> (BBox, Matrix) of the page's form XObjects that paint (fill) something."""
    from pdfminer.pdftypes import resolve1
    out = {}
    try:
        xo = resolve1((page.resources or {}).get("XObject")) or {}
        for name, ref in xo.items():
            st = resolve1(ref)
            attrs = getattr(st, "attrs", {})
            if "Form" not in str(attrs.get("Subtype")):
                continue
            data = st.get_data()
            if b"BT" in data or not re.search(rb"(?:^|\s)(?:f\*?|F|B\*?|b\*?)(?:\s|$)", data):
                continue            # a text overlay (page numbers), or nothing filled
            out[b"/" + str(name).lstrip("/").encode()] = ([float(v) for v in resolve1(attrs.get("BBox"))],
                                       [float(v) for v in resolve1(attrs.get("Matrix", [1, 0, 0, 1, 0, 0]))])
    except Exception:           # an unreadable resource: the painting order is not read
        return {}
    return out


def _mul(m, n):
    """The matrix m then n (PDF order: [a b c d e f])."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _apply(m, pts):
    a, b, c, d, e, f = m
    return [(a * x + c * y + e, b * x + d * y + f) for x, y in pts]


def paints_after_halos(content: bytes, page_h: float, forms=None) -> list:
    """(order, box mm y down) of each area painted after the page's first halo (the map
    labels start there): fills, stroked segments (grown by half their width) and filled
    forms drawn by ``Do``. ``order``: the number of strings shown before it; a run whose
    ``order`` is lower lies under the paint."""
    forms = forms or {}
    first = content.find(b"2 Tr")
    if first < 0:
        return []
    out: list = []
    shown = 0
    pos = 0
    state = [(1.0, 0.0, 0.0, 1.0, 0.0, 0.0), 1.0]
    stack: list = []
    for m in list(_TEXT.finditer(content)) + [None]:
        end = m.start() if m is not None else len(content)
        if end > first and pos < end:
            _scan(content[max(pos, 0):end], state, stack, shown, page_h, forms, out)
        if m is None:
            break
        shown += len(_SHOW.findall(m.group(0)))
        pos = m.end()
    return out


def _scan(seg: bytes, state, stack, shown, page_h, forms, out) -> None:  # noqa: C901 (one operator table)
    ctm, lw = state
    ops: list = []
    sub: list = []
    path: list = []
    for t in _TOK.findall(seg):
        c = t[:1]
        if c.isdigit() or c in b"-+.":
            ops.append(float(t))
            continue
        if c == b"/":
            ops.append(t)
            continue
        if t == b"q":
            stack.append((ctm, lw))
        elif t == b"Q":
            if stack:
                ctm, lw = stack.pop()
        elif t == b"cm" and len(ops) >= 6:
            ctm = _mul(tuple(ops[-6:]), ctm)
        elif t == b"w" and ops:
            lw = float(ops[-1])
        elif t == b"m" and len(ops) >= 2:
            if sub:
                path.append(sub)
            sub = [tuple(ops[-2:])]
        elif t == b"l" and len(ops) >= 2:
            sub.append(tuple(ops[-2:]))
        elif t in (b"c", b"v", b"y") and len(ops) >= 4:
            k = 6 if t == b"c" else 4
            v = ops[-k:]
            sub += [(v[i], v[i + 1]) for i in range(0, len(v), 2)]
        elif t == b"re" and len(ops) >= 4:
            x, y, w, h = ops[-4:]
            if sub:
                path.append(sub)
            path.append([(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)])
            sub = []
        elif t == b"h":
            if sub:
                sub.append(sub[0])
        elif t in _FILL or t in _STROKE or t == b"n":
            if sub:
                path.append(sub)
            for p in path:
                pts = _apply(ctm, p)
                if t in _FILL:
                    out.append((shown, _box_mm(pts, 0.0, page_h)))
                elif t in _STROKE:
                    scale = (abs(ctm[0] * ctm[3] - ctm[1] * ctm[2])) ** 0.5
                    for a, b in zip(pts, pts[1:], strict=False):
                        out.append((shown, _box_mm([a, b], lw * scale / 2, page_h)))
            path, sub = [], []
        elif t == b"Do" and ops and ops[-1] in forms:
            bbox, mat = forms[ops[-1]]
            x0, y0, x1, y1 = bbox
            pts = _apply(_mul(tuple(mat), ctm), [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
            out.append((shown, _box_mm(pts, 0.0, page_h)))
        ops = []
    state[0], state[1] = ctm, lw


def _box_mm(pts, grow: float, page_h: float):
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return ((min(xs) - grow) * PT_MM, (page_h - max(ys) - grow) * PT_MM,
            (max(xs) + grow) * PT_MM, (page_h - min(ys) + grow) * PT_MM)
