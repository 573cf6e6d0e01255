"""The page in millimetres (origin top-left) on a Figure: text measuring and wrapping,
:class:`TextLines`, :class:`Page` drawing helpers, and the legend blocks
(:class:`LegendBlock`, the size/draw protocol every layout piece shares: the other pieces
are in :mod:`mbm_sig.maps.furniture`).

Everything is drawn with figure-level primitives (rectangles, paths, texts): no matplotlib
legend machinery, no extra Axes except for the inset and the logo.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from matplotlib.artist import Artist
from matplotlib.colors import to_rgba
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Circle, PathPatch, Polygon, Rectangle
from matplotlib.path import Path
from matplotlib.transforms import Affine2D

from mbm_sig.maps import fmt
from mbm_sig.maps.output import fonts


def font() -> str:
    """The print font's family («MBM Sans»: built and registered on first use)."""
    return fonts.ensure()

PT_MM = 25.4 / 72          # 1 point in mm
INK = "#1a1a1a"
GREY = "#4d4d4d"


@functools.lru_cache(maxsize=8192)
def measure(text: str, size: float, weight: str = "normal") -> tuple[float, float]:
    """(width, height) in mm of a one-line text (height: ascent + descent of the line), in
    the print font (made on the first measure: its family never changes after, so the
    measure of a string is cached as such)."""
    return _measure(text, size, weight, font())


def measure_ink(text: str, size: float, weight: str = "normal") -> tuple[float, float, float]:
    """(width, ink height, ink descent) in mm of a one-line text in the print font: the
    descent is how far the ink goes below the baseline (labels set their box on the ink)."""
    return _metrics(text, size, weight, font())


@functools.lru_cache(maxsize=8192)
def _measure(text: str, size: float, weight: str, family: str) -> tuple[float, float]:
    w, h, _ = _metrics(text, size, weight, family)
    return w, h


@functools.lru_cache(maxsize=8192)
def _metrics(text: str, size: float, weight: str, family: str) -> tuple[float, float, float]:
    path = _font_file(family, weight)
    m = fonts.text_metrics(path, text or " ", size) if fonts.is_print_font(path) else None
    if m is None:       # another font, or a character the tables cannot measure: FreeType does
        from mbm_sig.maps.output.pdftext import unhinted_metrics
        m = unhinted_metrics(text or " ", FontProperties(family=family, size=size, weight=weight))
    w, h, d = m
    return w * PT_MM, h * PT_MM, d * PT_MM


@functools.lru_cache(maxsize=32)
def _font_file(family: str, weight: str) -> str:
    from matplotlib import font_manager
    return font_manager.findfont(FontProperties(family=family, weight=weight))


def wrap(text: str, width_mm: float, size: float, weight: str = "normal") -> list[str]:
    """Greedy word wrap to ``width_mm`` (explicit newlines kept)."""
    out = []
    for para in str(text).split("\n"):
        lines = _wrap_advances(para, width_mm, size, weight)
        if lines is None:
            lines = []
            line = ""
            for word in para.split(" "):
                cand = word if not line else line + " " + word
                if line and measure(cand, size, weight)[0] > width_mm:
                    lines.append(line)
                    line = word
                else:
                    line = cand
            lines.append(line)
        out += lines
    return out


def _wrap_advances(para: str, width_mm: float, size: float, weight: str) -> list[str] | None:
    """:func:`wrap`'s lines of one paragraph in the print font, each candidate line's width the
    sum of its words' advances and spaces (font units, exact: the font has no kerning), as
    :func:`measure` of the candidate gives it, without measuring every candidate again from its
    first letter. None when the font is another or a character is not in its tables."""
    path = _font_file(font(), weight)
    if not fonts.is_print_font(path):
        return None
    upm, adv = fonts.advances(path)
    k = size / upm
    space = adv.get(" ")
    try:
        words = [(w, sum(map(adv.__getitem__, w))) for w in para.split(" ")]
    except KeyError:
        return None
    if space is None:
        return None
    lines: list[str] = []
    line, line_adv = "", 0
    for word, word_adv in words:
        if not line:
            line, line_adv = word, word_adv
            continue
        cand_adv = line_adv + space + word_adv
        if cand_adv * k * PT_MM > width_mm:
            lines.append(line)
            line, line_adv = word, word_adv
        else:
            line, line_adv = line + " " + word, cand_adv
    lines.append(line)
    return lines


def line_height(size: float, spacing: float = 1.25) -> float:
    return size * PT_MM * spacing


class TextLines(Artist):
    """Lines of text on baselines a fixed step apart (page millimetres, origin top-left),
    drawn straight by the renderer (the print font's fast path in PDF): exact baselines
    whatever the letters of each line, and none of matplotlib's per-Text layout work. One
    artist for a table column, a legend's class labels, a credits block."""

    def __init__(self, page_w, page_h, x, y0, lines, size, step, ha="left", color=INK, weight="normal",
                 family=None):
        super().__init__()
        self.set_zorder(3)                     # where a Text would be: above fills
        self.W, self.H, self.x, self.y0, self.step, self.ha = page_w, page_h, x, y0, step, ha
        self.lines, self.color = list(lines), color
        self.prop = FontProperties(family=family or font(), size=size, weight=weight)

    def draw(self, renderer):
        if not self.get_visible():
            return
        gc = renderer.new_gc()
        gc.set_foreground(to_rgba(self.color), isRGBA=True)
        cw, ch = renderer.get_canvas_width_height()
        sx, sy = cw / self.W, ch / self.H            # display units per mm
        for i, s in enumerate(self.lines):
            if not s:
                continue
            x = self.x * sx
            if self.ha != "left":
                w = renderer.get_text_width_height_descent(s, self.prop, ismath=False)[0]
                x -= w if self.ha == "right" else w / 2
            y = (self.H - self.y0 - i * self.step) * sy
            if renderer.flipy():
                y = ch - y
            renderer.draw_text(gc, x, y, s, self.prop, 0.0, ismath=False)
        gc.restore()
        self.stale = False


class PageText(Artist):
    """One plain line of text where :meth:`Page.text` puts it, drawn straight by the
    renderer: its position is that of matplotlib's Text (``Text._get_layout`` and
    ``Text.draw`` for one unrotated line with the ``normal`` line spacing, the same
    arithmetic in the same order, so the same numbers in the PDF), without the per-draw
    work of a Text (font property copies and hashes, a metrics cache made again for each
    renderer, the bounding boxes): a quarter of a Text's time."""

    VA = ("baseline", "center_baseline", "bottom", "top", "center")

    def __init__(self, fx, fy, s, prop, ha, va, color):
        super().__init__()
        self.set_zorder(3)                     # a Text's
        self.fx, self.fy, self.s, self.prop, self.ha, self.va, self.color = fx, fy, s, prop, ha, va, color

    def get_text(self) -> str:
        return self.s

    def get_position(self):
        return self.fx, self.fy

    def offset(self, renderer) -> tuple[float, float] | None:
        """Where the line starts from the text's anchor, as ``Text._get_layout`` computes it
        (None when the renderer does not give the font's ascent and descent)."""
        a_min, d_min, _ = getattr(renderer, "_get_font_height_metrics", lambda p: (None,) * 3)(self.prop)
        if a_min is None or d_min is None:
            return None
        w, h, d = renderer.get_text_width_height_descent(self.s, self.prop, ismath=False)
        a = max(h - d, a_min) + 0 / 2           # one line: no line gap
        d = max(d, d_min) + 0 / 2
        y = 0.0 - a
        ymin, ymax = min(y - d, 0), max(y - d, 0)
        offsetx = 0 if self.ha == "left" else w if self.ha == "right" else (0 + w) / 2
        offsety = {"bottom": ymin, "top": ymax, "center": (ymin + ymax) / 2, "baseline": ymin + d,
                   "center_baseline": ymin + (ymax - ymin) - (a - 0.0) / 2}[self.va]
        return 0.0 - offsetx, y - offsety

    def draw(self, renderer):
        if not self.get_visible() or not self.s:
            return
        off = self.offset(renderer)
        if off is None:             # matplotlib's Text then
            from matplotlib.text import Text
            t = Text(self.fx, self.fy, self.s, fontproperties=self.prop, ha=self.ha, va=self.va, color=self.color,
                     transform=self.get_transform(), path_effects=self.get_path_effects())
            t.set_figure(self.get_figure(root=False))
            t.draw(renderer)
            return
        posx, posy = self.get_transform().transform((float(self.fx), float(self.fy)))
        gc = renderer.new_gc()
        gc.set_foreground(to_rgba(self.color), isRGBA=True)
        x, y = off[0] + posx, off[1] + posy
        if renderer.flipy():
            y = renderer.get_canvas_width_height()[1] - y
        if self.get_path_effects():         # as a Text draws them (a halo stroke)
            from matplotlib.patheffects import PathEffectRenderer
            renderer = PathEffectRenderer(self.get_path_effects(), renderer)
        renderer.draw_text(gc, x, y, self.s, self.prop, 0.0, ismath=False)
        gc.restore()
        self.stale = False


class PageRect(Rectangle):
    """A page rectangle (figure coordinates, unrotated) whose transform is made straight:
    the matrix matplotlib composes for a Rectangle (its box, the rotation about its corner,
    the figure's), with the same numbers to the last bit (an unrotated rectangle's rotation
    is the identity matrix exactly), in a sixth of the time."""

    def get_transform(self):
        t = super().get_transform
        if self.angle != 0 or self._aspect_ratio_correction != 1.0 or self.rotation_point != "xy":
            return t()
        x0, y0 = self._x0, self._y0
        x1, y1 = x0 + self._width, y0 + self._height
        box = np.array([[x1 - x0, 0.0, x0], [0.0, y1 - y0, y0], [0.0, 0.0, 1.0]])
        return Affine2D(np.dot(Artist.get_transform(self).get_matrix(), box))


class Page:
    """Millimetre drawing helpers on a Figure (origin at the top-left corner)."""

    def __init__(self, fig, width_mm: float, height_mm: float):
        self.fig, self.W, self.H = fig, width_mm, height_mm

    def fx(self, x):
        return x / self.W

    def fy(self, y):
        return 1 - y / self.H

    def frac_rect(self, x, y, w, h):
        """[left, bottom, width, height] in figure fraction for a mm box (top-left x, y)."""
        return [x / self.W, 1 - (y + h) / self.H, w / self.W, h / self.H]

    def rect(self, x, y, w, h, **kw):
        r = PageRect((self.fx(x), self.fy(y + h)), w / self.W, h / self.H, transform=self.fig.transFigure, **kw)
        self.fig.add_artist(r)
        return r

    def text(self, x, y, s, size=7.0, ha="left", va="baseline", weight="normal", color=INK, **kw):
        """One text at (x, y) mm: a :class:`PageText` for a plain line (no option but
        ``path_effects``, no newline, no mathtext), else matplotlib's Text with ``kw``."""
        if (set(kw) - {"path_effects"} or "\n" in s or "$" in s or va not in PageText.VA
                or ha not in ("left", "center", "right")):
            return self.fig.text(self.fx(x), self.fy(y), s, fontsize=size, ha=ha, va=va,
                                 fontweight=weight, color=color, family=font(), **kw)
        t = PageText(self.fx(x), self.fy(y), s, FontProperties(family=font(), size=size, weight=weight),
                     ha, va, color)
        t.set_path_effects(kw.get("path_effects", []))
        # among the figure's texts, as Figure.text puts a Text: the same drawing order
        t.set_figure(self.fig)
        t.set_transform(self.fig.transSubfigure)
        self.fig.texts.append(t)
        t._remove_method = self.fig.texts.remove
        return t

    def block(self, x, y_baseline, lines, size, step_mm, weight="normal", color=INK, ha="left"):
        """Several lines as one artist (:class:`TextLines`): the first baseline at
        ``y_baseline``, the next ones every ``step_mm``, aligned on ``x`` by ``ha``."""
        if not lines:
            return None
        art = TextLines(self.W, self.H, x, y_baseline, lines, size, step_mm, ha=ha, color=color, weight=weight)
        self.fig.add_artist(art)
        return art

    def lines(self, x, y, lines, size, weight="normal", color=INK, spacing=1.25, ha="left"):
        """Draw wrapped lines from top ``y``; returns the bottom y."""
        lh = line_height(size, spacing)
        self.block(x, y + size * PT_MM * 0.8, lines, size, lh, weight=weight, color=color, ha=ha)
        return y + len(lines) * lh

    def poly(self, xy_mm, **kw):
        xy = np.asarray(xy_mm, dtype=float)
        p = Polygon(np.c_[xy[:, 0] / self.W, 1 - xy[:, 1] / self.H], closed=True,
                    transform=self.fig.transFigure, **kw)
        self.fig.add_artist(p)
        return p

    def segment(self, x0, y0, x1, y1, **kw):
        p = PathPatch(Path([(self.fx(x0), self.fy(y0)), (self.fx(x1), self.fy(y1))]),
                      transform=self.fig.transFigure, fill=False, **kw)
        self.fig.add_artist(p)
        return p

    def marker(self, cx, cy, marker, size_mm, **kw):
        """A matplotlib marker centred at (cx, cy) mm, ``size_mm`` its markersize in mm."""
        from matplotlib.transforms import Affine2D
        t = Affine2D().scale(size_mm / 25.4).translate(cx / 25.4, (self.H - cy) / 25.4) + self.fig.dpi_scale_trans
        p = PathPatch(marker_path(marker), transform=t, **kw)
        self.fig.add_artist(p)
        return p

    def circle(self, cx, cy, r_mm, **kw):
        """A true circle (isotropic) centred at (cx, cy) mm, radius in mm."""
        c = Circle((cx / 25.4, (self.H - cy) / 25.4), r_mm / 25.4,
                   transform=self.fig.dpi_scale_trans, **kw)
        self.fig.add_artist(c)
        return c


# --------------------------------------------------------------------------------------
# legend blocks

LEGEND_TITLE_SIZE = 7.5
LEGEND_SIZE = 6.5
LEGEND_MAX_W = 55.0
LEGEND_MIN_SCALE = 0.8          # legend text never below 6.5 × 0.8 = 5.2 pt
COL_GAP = 3.0                   # between the columns of a two-column block


@functools.lru_cache(maxsize=64)
def marker_path(marker: str) -> Path:
    """Unit path of a matplotlib marker (size 1 = a ``markersize`` of 1): the map and the
    legend draw the same path at the same scale, so a symbol has one size everywhere."""
    from matplotlib.markers import MarkerStyle
    ms = MarkerStyle(marker or "o")
    return ms.get_path().transformed(ms.get_transform())


def marker_filled(marker: str) -> bool:
    from matplotlib.markers import MarkerStyle
    return MarkerStyle(marker or "o").is_filled()


def marker_extent(marker: str, size_mm: float) -> tuple[float, float]:
    """(width, height) in mm of a marker drawn with a ``markersize`` of ``size_mm``."""
    w, h = _marker_unit_extent(marker)
    return w * size_mm, h * size_mm


@functools.lru_cache(maxsize=64)
def _marker_unit_extent(marker: str) -> tuple[float, float]:
    e = marker_path(marker).get_extents()        # Bézier extrema: costly, once per marker
    return e.width, e.height


@dataclass
class LegendBlock:
    """One legend block. ``scale`` shrinks its text and swatches (never the symbols, whose
    size is the map's); ``ncols`` lays the entries of a list block in columns;
    ``max_w`` is the width the title and the entry labels wrap to."""

    kind: str                                   # choro, prop, typo, symbols, base
    title: str
    entries: list = field(default_factory=list)  # kind-specific
    breaks: list | None = None
    colors: list | dict | None = None           # choro: a colour per class; prop: fill, edgecolor
    nodata: tuple | None = None                 # (colour, label) when no-data features exist
    decimals: int = 0
    max_w: float = LEGEND_MAX_W
    scale: float = 1.0
    ncols: int = 1
    symbol: str = "circle"                      # prop: circle or square
    sym: dict | None = None                     # symbols: marker style of the no-data entry
    shapes: bool = False                        # symbols: entries are the shapes of a second variable
    counts: list | None = None                  # choro: number of features per class (printed)
    extra: list = field(default_factory=list)   # choro: (label, colour) entries after the classes (outliers)

    BOX_W, BOX_H = 7.0, 4.0

    # sizes at the block's scale
    @property
    def title_size(self):
        return LEGEND_TITLE_SIZE * self.scale

    @property
    def text_size(self):
        return LEGEND_SIZE * self.scale

    def title_lines(self):
        return wrap(fmt.typo(self.title), self.max_w, self.title_size, "bold") if self.title else []

    def _title_h(self):
        tl = self.title_lines()
        return len(tl) * line_height(self.title_size) + (1.5 * self.scale if tl else 0)

    def _items(self):
        items = list(self.entries)
        if self.nodata:
            st = dict(self.sym or {}) if self.kind == "symbols" else {}
            st["fill"] = self.nodata[0]
            items.append((self.nodata[1], st))
        return items

    def _swatch_w(self, items):
        marks = [marker_extent(st["marker"], st.get("size_mm", 4 * PT_MM))[0] for _, st in items if st.get("marker")]
        if marks and len(marks) == len(items):          # symbols only: a column as wide as they are
            return max(max(marks) + 1.0, 4.0 * self.scale)
        return max([self.BOX_W * self.scale] + [m + 0.4 for m in marks])

    def list_layout(self):
        """Geometry of a list block (typo, symbols, base): ``(columns, swatch_w, gap)``, each
        column a list of rows ``(label_lines, style, y_offset, row_h)`` and its width."""
        items = self._items()
        sw = self._swatch_w(items)
        gap = 1.5 * self.scale
        n = max(1, min(self.ncols, len(items)))
        col_w = (self.max_w - COL_GAP * (n - 1)) / n
        label_w = max(col_w - sw - gap, 8.0)
        fs, lh = self.text_size, line_height(self.text_size, 1.15)
        per = -(-len(items) // n) if items else 0
        cols = []
        for c in range(n):
            rows, y, w = [], 0.0, 0.0
            for label, st in items[c * per:(c + 1) * per]:
                lines = wrap(fmt.typo(str(label)), label_w, fs)
                mh = marker_extent(st["marker"], st.get("size_mm", 4 * PT_MM))[1] + 0.6 if st.get("marker") else 0
                rh = max(self.BOX_H * self.scale, mh, len(lines) * lh + 0.4)
                rows.append((lines, st, y, rh))
                y += rh + 1.0 * self.scale
                w = max(w, sw + gap + max(measure(s, fs)[0] for s in lines))
            cols.append((rows, w, y))
        return cols, sw, gap

    def size(self) -> tuple[float, float]:
        tl = self.title_lines()
        w = max([measure(s, self.title_size, "bold")[0] for s in tl] + [0])
        h = self._title_h()
        bw, bh = self.BOX_W * self.scale, self.BOX_H * self.scale
        if self.kind == "choro":
            labels = self.break_labels()
            lw = max(measure(s, self.text_size)[0] for s in labels)
            if self.counts:
                lw += self._count_gap() + max(measure(s, self.text_size)[0] for s in self.count_labels())
            w = max(w, bw + 1.5 * self.scale + lw)
            h += (len(labels) - 1) * bh + 1.5 * self.scale
            for label, _ in self._tail():
                h += 2 * self.scale + bh
                w = max(w, bw + 1.5 * self.scale + measure(label, self.text_size)[0])
        elif self.kind == "prop":
            rmax = self.entries[0][1]
            lw = max(measure(s, self.text_size)[0] for s, _ in self.entries)
            w = max(w, 2 * rmax + 4 + lw)
            h += 2 * rmax + 1.5
            if self.nodata:
                w = max(w, measure(self.nodata[1], self.text_size)[0])
                h += line_height(self.text_size) + 1.0
        else:  # typo, symbols, base: rows of entries, in one or more columns
            cols, _, _ = self.list_layout()
            w = max(w, sum(cw for _, cw, _ in cols) + COL_GAP * (len(cols) - 1))
            h += max([ch for _, _, ch in cols] + [0])
        return w, h

    def break_labels(self) -> list[str]:
        return [fmt.num(b, self.decimals) for b in self.breaks]

    def count_labels(self) -> list[str]:
        """«(12)» per class, lowest class first."""
        return [f"({fmt.num(n)})" for n in (self.counts or [])]

    def _count_gap(self) -> float:
        return 2.5 * self.scale

    def _tail(self) -> list:
        """Entries after the classes: the outliers, then the missing values."""
        return list(self.extra) + ([(self.nodata[1], self.nodata[0])] if self.nodata else [])

    def _draw_choro(self, page: Page, x: float, y: float) -> None:
        """The classes (highest on top) with their bounds and counts, then the outliers and
        the missing values; (x, y): under the title."""
        bw, bh = self.BOX_W * self.scale, self.BOX_H * self.scale
        fs = self.text_size
        labels = self.break_labels()
        k = len(self.colors)
        y += 0.5 * line_height(fs) * 0.3
        for i in range(k):                       # highest class on top
            cls = k - 1 - i
            page.rect(x, y + i * bh, bw, bh, facecolor=self.colors[cls], edgecolor=GREY, linewidth=0.3)
        # break labels centred on the box edges (digits: cap height ~0.73 em)
        page.block(x + bw + 1.5 * self.scale, y + 0.73 * fs * PT_MM / 2, labels[::-1], fs, bh)
        if self.counts:         # the number of features of each class, at the class's middle
            cx = x + bw + 1.5 * self.scale + max(measure(s, fs)[0] for s in labels) + self._count_gap()
            for i, lab in enumerate(self.count_labels()[::-1]):
                page.text(cx, y + (i + 0.5) * bh, lab, size=fs, va="center_baseline", color=GREY)
        y += k * bh
        for label, colour in self._tail():
            y += 2 * self.scale
            page.rect(x, y, bw, bh, facecolor=colour, edgecolor=GREY, linewidth=0.3)
            page.text(x + bw + 1.5 * self.scale, y + bh / 2, label, size=fs, va="center_baseline")
            y += bh

    def draw(self, page: Page, x: float, y: float) -> list:
        """Draw the block with its top-left corner at (x, y) mm. Returns what was drawn for
        each symbol entry: ``(label, marker, width_mm, height_mm)`` (render info, tests)."""
        drawn = []
        y = page.lines(x, y, self.title_lines(), self.title_size, weight="bold")
        if self.title_lines():
            y += 1.5 * self.scale
        bw, bh = self.BOX_W * self.scale, self.BOX_H * self.scale
        fs = self.text_size
        if self.kind == "choro":
            self._draw_choro(page, x, y)
        elif self.kind == "prop":
            style = self.colors if isinstance(self.colors, dict) else {}
            rmax = self.entries[0][1]
            base = y + 2 * rmax
            cx = x + rmax
            for label, r in self.entries:
                kw = dict(facecolor=style.get("fill", "#ffffff"), edgecolor=style.get("edgecolor", GREY),
                          linewidth=0.4)
                if self.symbol == "square":
                    page.rect(cx - r, base - 2 * r, 2 * r, 2 * r, **kw)
                else:
                    page.circle(cx, base - r, r, **kw)
                drawn.append((label, self.symbol, 2 * r, 2 * r))
            for label, r in self.entries:
                ty = base - 2 * r
                page.segment(cx, ty, x + 2 * rmax + 2, ty, color=GREY, linewidth=0.3)
                page.text(x + 2 * rmax + 2.5, ty, label, size=fs, va="center_baseline")
            if self.nodata:
                page.text(x, base + 1.0 + line_height(fs) / 2, self.nodata[1], size=fs, va="center_baseline")
        else:
            cols, sw, gap = self.list_layout()
            lh = line_height(fs, 1.15)
            xc = x
            for rows, cw, _ in cols:
                for lines, st, dy, rh in rows:
                    yc = y + dy + rh / 2
                    if st.get("marker"):
                        size_mm = st.get("size_mm", 4 * PT_MM)
                        m = st["marker"]
                        filled = marker_filled(m)
                        page.marker(xc + sw / 2, yc, m, size_mm,
                                    facecolor=st.get("fill", "#000") if filled else "none",
                                    edgecolor=st.get("edgecolor", "#ffffff") if filled else st.get("fill", "#000"),
                                    linewidth=(st.get("linewidth", 0.3) if filled
                                               else max(st.get("linewidth", 0.3), 0.8)))
                        drawn.append((lines[0] if len(lines) == 1 else " ".join(lines), m,
                                      *marker_extent(m, size_mm)))
                    elif st.get("line"):
                        page.segment(xc, yc, xc + bw, yc, color=st.get("edgecolor", INK),
                                     linewidth=st.get("linewidth", 0.6), linestyle=st.get("linestyle", "-"))
                    else:
                        fill = st.get("fill", "none")
                        page.rect(xc, yc - bh / 2, bw, bh, facecolor=fill, edgecolor=st.get("edgecolor", GREY),
                                  linewidth=max(0.3, min(st.get("linewidth", 0.3), 1.2)),
                                  linestyle=st.get("linestyle", "-"), hatch=st.get("hatch"))
                    for i, s in enumerate(lines):
                        page.text(xc + sw + gap, yc + (i - (len(lines) - 1) / 2) * lh, s, size=fs,
                                  va="center_baseline")
                xc += cw + COL_GAP
        return drawn


# --------------------------------------------------------------------------------------
# lengths and credits text (the pieces are in mbm_sig.maps.furniture)

def nice_length(target: float) -> float:
    """Largest number of the 1-2-5 series not above ``target``."""
    if target <= 0:
        return 0
    e = math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * 10 ** e <= target:
            return m * 10 ** e
    return 10 ** e


def credits_lines(sources, notes, producer, date_text, width_mm, size):
    parts = []
    if sources:
        parts.append(fmt.typo("Sources : " + " ; ".join(dict.fromkeys(sources)) + "."))
    for n in notes or []:
        parts.append(fmt.typo(n))
    if producer or date_text:
        parts.append(fmt.typo("Réalisation : " + ", ".join(p for p in (producer, date_text) if p) + "."))
    out = []
    for p in parts:
        out += wrap(p, width_mm, size)
    return out
