"""Text of a PDF as printed: one run per text object, with its font size and its ink box
in page millimetres (origin top-left), read with pdfminer.six."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PT_MM = 25.4 / 72


@dataclass(frozen=True)
class Run:
    """One printed text (a label, a legend entry, a line of a paragraph)."""

    text: str
    size: float                                   # pt
    bbox: tuple[float, float, float, float]       # ink box, mm, (x0, y0, x1, y1), y down
    rotated: bool = False                         # set at an angle (a stamp): its box is not its ink

    @property
    def cx(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def cy(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2


@dataclass
class PageText:
    number: int                                   # 1-based page number in the file
    size_mm: tuple[float, float]
    runs: list = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.runs)


def _runs_of(chars, page_h: float) -> list[Run]:
    """Group consecutive characters (content-stream order) into runs: same size, same
    baseline, each character starting where the previous one ended (a text object)."""
    out, cur = [], []

    def flush():
        if not cur:
            return
        size = max(c.size for c in cur)
        base = cur[0].matrix[5]
        x0 = min(c.x0 for c in cur)
        x1 = max(c.x1 for c in cur)
        # ink box: from the descender to the cap height (glyph boxes of the font overlap
        # between lines set at 1.15 line spacing, ink does not)
        y_top, y_bot = base + 0.72 * size, base - 0.20 * size
        text = "".join(c.get_text() for c in cur).strip()
        rotated = any(abs(c.matrix[1]) > 1e-6 or abs(c.matrix[2]) > 1e-6 for c in cur)
        if text:
            out.append(Run(text, round(size, 2), (x0 * PT_MM, (page_h - y_top) * PT_MM,
                                                   x1 * PT_MM, (page_h - y_bot) * PT_MM), rotated))
        cur.clear()

    for c in chars:
        if cur:
            p = cur[-1]
            same = (abs(c.size - p.size) < 0.05 and abs(c.matrix[5] - p.matrix[5]) < 0.2
                    and -0.5 <= c.x0 - p.x1 <= 0.35 * c.size)
            if not same:
                flush()
        cur.append(c)
    flush()
    return out


_TEXT = re.compile(rb"\bBT\b.*?\bET\b", re.S)
_HALO = re.compile(rb"(?<![\w.])[12] Tr\b")
_STATE = re.compile(rb"(?<![\w/.])(?:cm|q|Q)(?![\w])")


def _state_ops(content: bytes, start: int, end: int) -> list[bytes]:
    ops = []
    for g in _STATE.finditer(content, start, end):
        op = g.group(0)
        if op == b"cm":
            args = content[max(start, g.start() - 160):g.start()].split()[-6:]
            op = b" ".join(args + [b"cm"])
        ops.append(op)
    return ops


def text_only(content: bytes) -> bytes:
    """A content stream reduced to its text objects and the graphics-state operators that
    place them (q, Q, cm): map pages carry megabytes of path coordinates that a text
    reader need not tokenize."""
    out, pos = [], 0
    for m in _TEXT.finditer(content):
        out += _state_ops(content, pos, m.start())
        if not _HALO.search(m.group(0)):       # a label's halo (stroked copy, an artifact) is not read
            out.append(m.group(0))
        pos = m.end()
    out += _state_ops(content, pos, len(content))
    return b"\n".join(out)


def read_pdf(path, pages=None) -> list[PageText]:
    """Every page's text runs. ``pages``: optional set of 1-based page numbers to read."""
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LTChar
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdftypes import PDFStream, stream_value

    out = []
    rm = PDFResourceManager(caching=True)
    dev = PDFPageAggregator(rm, laparams=None)          # characters as drawn, no layout analysis
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
            chars = [el for el in lt if isinstance(el, LTChar)]
            out.append(PageText(n, (lt.width * PT_MM, lt.height * PT_MM), _runs_of(chars, lt.height)))
    return out
