"""The layout solver: where the frame, the legend blocks, the inset, the credits and the
title go on a sheet, returned as a typed :class:`Plan` (page millimetres, origin top-left).

:class:`AutoLayout` lays a sheet out as ``side`` (legend column at the right of the frame)
or ``bottom`` (a band under a full-width frame), or tries both (``auto``) and keeps the one
that draws the extent larger while everything fits. :class:`RowLayout` is a fixed layout
(the fiches: a given frame, the legend blocks in one row under it, the inset at its right
end). A layout is any object with ``plan(map, blocks) -> Plan``; :class:`Map` takes one as
its ``layout``. Every piece it places has the size protocol of
:mod:`mbm_sig.maps.furniture` (``size() -> (w, h)``, ``draw(page, x, y)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any, Protocol

from mbm_sig.maps import fmt, layout
from mbm_sig.maps.layout import LegendBlock

FRAME_MIN = 0.4          # a fitted frame keeps at least 40 % of the available height (width)
LAYOUT_BIAS = 1.03       # auto: the orientation's usual layout unless the other one draws 3 % more map
BAND_MIN_FRAME = 0.3     # a bottom band leaves the frame at least 30 % of the height under the title
BAND_COL_W = 45.0        # width of one column of entries when a band block is split in columns
BAND_MAX_COLS = 4
MARGIN = 10.0            # page margin (mm)

Box = tuple[float, float, float, float]          # x, y (top-left), w, h in mm


@dataclass
class Plan:
    """Where everything goes on a sheet (mm, origin top-left)."""

    frame: Box
    blocks: list[tuple[LegendBlock, float, float]] = field(default_factory=list)   # block, x, y
    fits: bool = True                           # the legend fits in the room it was given
    inset: Box | None = None
    credits: tuple[float, float, list[str]] = (MARGIN, 0.0, [])   # x, y, lines
    credits_w: float | None = None              # width the credits wrap to
    layout: str = ""                            # side, bottom, or the fixed layout's name
    title: list[str] = field(default_factory=list)        # title lines
    subtitle: list[str] = field(default_factory=list)
    y_title: float = MARGIN
    # what a series needs to share this layout (:func:`decide_grid`): the band's legend and
    # inset height and width (bottom), the columns of blocks, the inset and the legend height
    # (side)
    room: dict = field(default_factory=dict)


class Layout(Protocol):
    def plan(self, m, blocks: list[LegendBlock]) -> Plan: ...


@dataclass
class RowLayout:
    """A fixed layout: the frame where it is given, the legend blocks in one row under it,
    the inset at the row's right end; no title, no credits (the page draws its own)."""

    frame: Box
    inset_w: float = 34.0
    inset_ratio: float = 0.62
    gap: float = 4.0                 # frame to the legend row
    block_gap: float = 7.0           # between two legend blocks

    def plan(self, m, blocks) -> Plan:
        fx, fy, fw, fh = self.frame
        plan = Plan(frame=self.frame, credits=(MARGIN, m.H, []), layout="row")
        x, y = fx, fy + fh + self.gap
        for b in blocks:
            bw, _ = b.size()
            plan.blocks.append((b, x, y))
            x += bw + self.block_gap
        if m._inset:
            plan.inset = (fx + fw - self.inset_w, fy + fh + self.gap, self.inset_w, self.inset_w * self.inset_ratio)
        return plan


def titles(m) -> tuple[list[str], list[str], float]:
    """The title and subtitle lines of a sheet and the top of what comes under them (mm)."""
    W, M = m.W, MARGIN
    title_lines = layout.wrap(fmt.typo(m._title), W - 2 * M, 15, "bold") if m._title else []
    sub_lines = layout.wrap(fmt.typo(m._subtitle), W - 2 * M, 9.5) if m._subtitle else []
    y = M + len(title_lines) * layout.line_height(15, 1.15) + len(sub_lines) * layout.line_height(9.5)
    return title_lines, sub_lines, y + (3 if (title_lines or sub_lines) else 0)


class AutoLayout:
    """The side and bottom layouts of a sheet (``mode``: auto, side or bottom)."""

    def __init__(self, mode: str = "auto"):
        self.mode = mode
        self.m: Any = None

    def _fit_frame(self, avail_w, avail_h):
        """Frame size (w, h) in mm: the available area, shrunk in one direction to the
        extent's aspect ratio (``frame="fit"``), never below ``FRAME_MIN`` of it."""
        if self.m.frame == "fixed" or avail_w <= 0 or avail_h <= 0:
            return avail_w, avail_h
        x0, y0, x1, y1 = self.m.extent_bounds
        a = max(x1 - x0, 1.0) / max(y1 - y0, 1.0)
        if a >= avail_w / avail_h:
            return avail_w, max(avail_w / a, FRAME_MIN * avail_h)
        return max(avail_h * a, FRAME_MIN * avail_w), avail_h

    @staticmethod
    def _flow(blocks, room, nb, width):
        """Blocks top to bottom in ``nb`` columns of ``width`` mm (a new column when the
        next block would pass ``room``): [(block, dx, dy)], height."""
        out, col, y, h = [], 0, 0.0, 0.0
        for b in blocks:
            bh = b.size()[1]
            if y > 0 and y + bh > room and col < nb - 1:
                col, y = col + 1, 0.0
            out.append((b, col * (width + 4.0), y))
            h = max(h, y + bh)
            y += bh + 5 * b.scale
        return out, h

    def _fit_column(self, blocks, width, room, nb=1):
        """Shrink the legend blocks of a column (``nb`` columns of blocks, each ``width``
        mm) until they fit in ``room`` mm: smaller text (down to LEGEND_MIN_SCALE), then
        long list blocks with their entries in two columns. Returns [(block, dx, dy)], height."""
        for b in blocks:
            b.max_w, b.ncols = width, 1
        scales = [1.0]
        while scales[-1] - 0.05 >= layout.LEGEND_MIN_SCALE - 1e-9:
            scales.append(round(scales[-1] - 0.05, 2))
        for sc in scales:
            for b in blocks:
                b.scale = sc
            pos, h = self._flow(blocks, room, nb, width)
            if h <= room:
                return pos, h
        lists = sorted([b for b in blocks if b.kind in ("typo", "symbols", "base") and len(b._items()) >= 4],
                       key=lambda b: -b.size()[1])
        for b in lists:
            b.ncols = 2
            pos, h = self._flow(blocks, room, nb, width)
            if h <= room:
                return pos, h
        return self._flow(blocks, room, nb, width)

    def plan(self, m, blocks) -> Plan:
        """Frame (x, y, w, h) in mm and positions of legend blocks, inset and credits.

        Two layouts under the title: ``side`` (the frame on the left, a column on its right
        holding the legend blocks, then the inset and the credits at the bottom: see
        :meth:`_side`) and ``bottom`` (the frame across the full width, a band under it with
        the legend blocks side by side, the inset at its right end and the credits under
        them: see :meth:`_bottom`). ``layout="auto"`` lays the sheet out both ways and keeps
        the one that draws the extent larger (the area of the extent on paper: the frame's
        area when the frame fits the extent) among those where everything fits; the
        orientation's usual layout (landscape: side, portrait: bottom) is kept unless the
        other one draws ``LAYOUT_BIAS`` more. A forced ``bottom`` whose band cannot leave the
        frame ``BAND_MIN_FRAME`` of the height falls back to ``side``. The blocks given are
        not modified: each layout sizes copies, drawn from ``plan.blocks``."""
        self.m = m
        title_lines, sub_lines, top = titles(m)
        y_title = MARGIN
        usual = "side" if self.m.orientation == "landscape" else "bottom"
        kinds = [usual, "bottom" if usual == "side" else "side"] if self.mode == "auto" else [self.mode]
        cands = []
        for kind in kinds:
            bl = [dc_replace(b) for b in blocks]
            p = self._side(bl, top) if kind == "side" else self._bottom(bl, top)
            p.layout = kind
            cands.append(p)
        if self.mode == "bottom" and not cands[0].fits:
            p = self._side([dc_replace(b) for b in blocks], top)
            p.layout = "side"
            cands.append(p)
        plan = cands[0]
        if len(cands) > 1:
            fitting = [p for p in cands if p.fits] or cands[:1]
            plan = fitting[0]
            for p in fitting[1:]:
                if self._drawn_area(p.frame) > LAYOUT_BIAS * self._drawn_area(plan.frame):
                    plan = p
        plan.title, plan.subtitle, plan.y_title = title_lines, sub_lines, y_title
        return plan

    def _drawn_area(self, frame) -> float:
        """Area in mm² the extent covers in a frame (the frame's area when it fits the extent)."""
        fw, fh = frame[2], frame[3]
        x0, y0, x1, y1 = self.m.extent_bounds
        a = max(x1 - x0, 1.0) / max(y1 - y0, 1.0)
        return min(fw, fh * a) * min(fh, fw / a)

    @staticmethod
    def _band_columns(blocks, width, hgap=8.0, vgap=4.0):
        """Blocks of a bottom band in columns, left to right, in order: the lowest band whose
        columns fit in ``width`` mm (each block alone in its column when they all fit side by
        side; short blocks stack). Returns [(block, dx, dy)], height, width used."""
        sizes = [b.size() for b in blocks]
        if not sizes:
            return [], 0.0, 0.0

        def pack(limit):
            cols, cur, ch = [], [], 0.0
            for i, (_, h) in enumerate(sizes):
                if cur and ch + vgap + h > limit + 1e-9:
                    cols.append((cur, ch))
                    cur, ch = [], 0.0
                ch = h if not cur else ch + vgap + h
                cur.append(i)
            cols.append((cur, ch))
            used = sum(max(sizes[i][0] for i in c) for c, _ in cols) + hgap * (len(cols) - 1)
            return cols, used, max(h for _, h in cols)

        hs = [h for _, h in sizes]
        limits = sorted({sum(hs[i:j]) + vgap * (j - i - 1) for i in range(len(hs))
                         for j in range(i + 1, len(hs) + 1)})
        best = None
        for limit in limits:
            if limit < max(hs) - 1e-9:
                continue
            best = pack(limit)
            if best[1] <= width + 1e-6:
                break
        cols, used, height = best
        out, x = [], 0.0
        for c, _ in cols:
            y = 0.0
            for i in c:
                out.append((blocks[i], x, y))
                y += sizes[i][1] + vgap
            x += max(sizes[i][0] for i in c) + hgap
        return out, height, used

    def _fit_band(self, blocks, width, scale=1.0, floor=0.0):
        """Legend blocks of a bottom band ``width`` mm wide at text ``scale``: side by side
        in columns (:meth:`_band_columns`), then the entries of long list blocks split in
        columns (``BAND_COL_W`` each, up to ``BAND_MAX_COLS``) while that lowers the band and
        it is higher than ``floor`` (the inset's height). Returns [(block, dx, dy)], height,
        width used."""
        for b in blocks:
            b.scale, b.ncols, b.max_w = scale, 1, min(layout.LEGEND_MAX_W, width)
        best = self._band_columns(blocks, width)
        lists = [b for b in blocks if b.kind in ("typo", "symbols", "base")]
        while lists and best[1] > floor + 1e-6:
            step = None
            for b in lists:
                n = b.ncols + 1
                mw = n * BAND_COL_W * scale + layout.COL_GAP * (n - 1)
                if n > BAND_MAX_COLS or len(b._items()) < 2 * n or mw > width:
                    continue
                old = b.ncols, b.max_w
                b.ncols, b.max_w = n, mw
                cand = self._band_columns(blocks, width)
                b.ncols, b.max_w = old
                if cand[2] <= width + 1e-6 and cand[1] < best[1] - 0.5 and (step is None or cand[1] < step[2][1]):
                    step = (b, (n, mw), cand)
            if step is None:
                break
            b, (n, mw), best = step
            b.ncols, b.max_w = n, mw
        return best

    def _bottom(self, blocks, top, cred_size=6.0):
        """The frame across the page width; under it a band: the legend blocks side by side
        in columns, the inset at the right end, the credits under both. The text shrinks (to
        ``LEGEND_MIN_SCALE``) when the band would leave the frame less than
        ``BAND_MIN_FRAME`` of the height; ``plan.fits`` says whether it does. When the
        fitted frame is narrower than the page, the band is laid out again under the frame
        (same left and right edges) if that keeps 95 % of the frame's drawn area."""
        W, H, M = self.m.W, self.m.H, 10.0
        inset_w = 42.0 if self.m._inset else 0.0
        inset_h = inset_w * 0.9
        avail_w = W - 2 * M
        max_band = (H - M - top) * (1 - BAND_MIN_FRAME) - 5

        def band_of(bl, width, sc):
            lw = width - (inset_w + 6 if inset_w else 0)
            pos, legend_h, used = self._fit_band(bl, lw, sc, inset_h) if bl else ([], 0.0, 0.0)
            above = max(legend_h, inset_h)
            cred = self._credit_lines(width, cred_size)
            cred_h = len(cred) * layout.line_height(cred_size)
            return pos, above, cred, max(above + (cred_h + 4 if cred else 0), 8.0), used <= lw + 1e-6

        sc = 1.0
        while True:
            rows, above_cred, cred, band, inside = band_of(blocks, avail_w, sc)
            if band <= max_band or sc - 0.05 < layout.LEGEND_MIN_SCALE - 1e-9:
                break
            sc = round(sc - 0.05, 2)
        fits = band <= max_band + 1e-6 and inside
        fw, fh = self._fit_frame(avail_w, H - M - band - 5 - top)
        bw = avail_w
        if inset_w + 46 < fw < avail_w - 1:
            width = fw
            for _ in range(4):
                r2, a2, c2, b2, inside = band_of([dc_replace(b) for b in blocks], width, sc)
                if not inside:
                    break
                fw2, fh2 = self._fit_frame(avail_w, H - M - b2 - 5 - top)
                if fw2 >= width - 1e-6:
                    if (self._drawn_area((0, 0, fw2, fh2)) >= 0.95 * self._drawn_area((0, 0, fw, fh))
                            and (b2 <= max_band + 1e-6 or not fits)):
                        rows, above_cred, cred, band, fw, fh, bw = r2, a2, c2, b2, fw2, fh2, fw2
                    break
                width = fw2
        fx = M + (avail_w - fw) / 2
        x0 = fx if bw < avail_w else M
        plan = Plan(frame=(fx, top, fw, fh), fits=fits)
        plan.blocks = [(b, x0 + dx, top + fh + 5 + dy) for b, dx, dy in rows]
        plan.inset = (x0 + bw - inset_w, top + fh + 5, inset_w, inset_h) if inset_w else None
        # credits right under the legend band and the inset
        cred_h = len(cred) * layout.line_height(cred_size)
        yc = top + fh + 5 + (above_cred + 4 if above_cred else 0)
        plan.credits = (x0, min(yc, H - M - cred_h), cred)
        plan.credits_w = bw
        plan.room = dict(above=above_cred, band_w=bw, scale=sc)
        return plan

    def _side(self, blocks, top, cred_size=6.0):
        """The frame on the left, the legend column on its right (two columns of blocks,
        then no inset, when one column cannot hold the legend); the inset and the credits
        at the column's bottom, aligned on the frame's (the credits under the frame when
        the fitted frame leaves room for them there). ``plan.fits``: the legend fits."""
        W, H, M = self.m.W, self.m.H, 10.0
        col1, gap = 62.0, 6.0
        tries = [(1, True), (2, True), (2, False)] if self.m._inset else [(1, False), (2, False)]
        for nb, inset in tries:
            col_w = nb * col1 + (nb - 1) * 4.0
            avail_w, avail_h = W - 2 * M - col_w - gap, H - M - top
            fw, fh = self._fit_frame(avail_w, avail_h)
            fx = M + (avail_w - fw) / 2
            plan = Plan(frame=(fx, top, fw, fh))
            xc = fx + fw + gap
            # credits under the frame when the fitted frame leaves room for them there
            under = self._credit_lines(fw, cred_size)
            under_h = len(under) * layout.line_height(cred_size)
            if under and H - M - (top + fh + 4) >= under_h:
                cred, cred_h, in_col = under, under_h, False
                plan.credits, plan.credits_w = (fx, top + fh + 4, cred), fw
            else:
                cred = self._credit_lines(col_w, cred_size)
                cred_h, in_col = len(cred) * layout.line_height(cred_size), True
                plan.credits_w = col_w
            ih = col1 * 0.85 if inset else 0.0
            bottom_h = ih + (cred_h if in_col else 0) + (4 if ih and in_col and cred else 0)
            room = H - M - top - (bottom_h + 4 if bottom_h else 0)
            pos, legend_h = self._fit_column(blocks, col1, room, nb) if blocks else ([], 0.0)
            if legend_h <= room + 1e-6:
                break
        plan.fits = legend_h <= room + 1e-6
        stack = legend_h + (4 + bottom_h if bottom_h else 0)
        bottom = min(H - M, max(top + fh, top + stack))     # column aligned on the frame's bottom
        plan.blocks = [(b, xc + dx, top + dy) for b, dx, dy in pos]
        yi = bottom - (cred_h + 4 if in_col and cred else 0) - ih
        plan.inset = (xc + col_w - col1, yi, col1, ih) if inset else None
        if in_col:
            plan.credits = (xc, bottom - cred_h, cred)
        plan.room = dict(nb=nb, inset=inset, legend_h=legend_h)
        return plan

    def _credit_lines(self, width, size):
        c = self.m._credits
        if not c and not self.m.fictive:
            return []
        c = c or dict(sources=[], notes=[], producer=None, date=None)
        notes = list(c["notes"])
        if self.m.fictive:
            notes.append("Données fictives, à des fins de démonstration : ne pas diffuser.")
        return layout.credits_lines(c["sources"], notes, c["producer"], c["date"], width, size)



# ------------------------------------------------------------------------------ series

SIDE_COL = 62.0                 # width of one column of legend blocks (side layout)
SIDE_GAP = 6.0                  # frame to the legend column
INSET_BAND = 42.0               # inset width in a bottom band
INSET_WORTH = 1.2               # a series keeps its locator map unless dropping it draws 20 % more map


@dataclass(frozen=True)
class Grid:
    """One layout shared by the sheets of a series (a coverage series, the basin maps of an
    atlas), decided once over all of them (:func:`decide_grid`): the frame (its size and
    place), the room of the legend blocks, the inset and the credits are at the same place
    on every sheet; each sheet's extent is fitted into the common frame (mm, top-left)."""

    kind: str                                   # side or bottom
    frame: Box
    legend: Box                                 # room of the legend blocks
    credits: tuple[float, float, float]         # x, y (top-left), width the lines wrap to
    inset: Box | None = None
    ncols: int = 1                              # side: columns of legend blocks

    def as_dict(self) -> dict:
        """The grid as a recipe's ``sheet_layout`` (rounded to 0.01 mm: stable page keys)."""
        def r(v):
            return [round(float(x), 2) for x in v]
        return dict(layout=self.kind, frame=r(self.frame), legend=r(self.legend), credits=r(self.credits),
                    inset=r(self.inset) if self.inset else None, columns=self.ncols)

    @classmethod
    def from_dict(cls, d: dict) -> Grid:
        def box(v) -> Box:
            x, y, w, h = (float(a) for a in v)
            return x, y, w, h
        cx, cy, cw = (float(a) for a in d["credits"])
        ins = d.get("inset")
        return cls(str(d["layout"]), box(d["frame"]), box(d["legend"]), (cx, cy, cw), box(ins) if ins else None,
                   int(d.get("columns", 1)))


class GridLayout:
    """A sheet laid out on a :class:`Grid`: the frame, the legend room, the inset and the
    credits where the grid puts them; the legend blocks fitted into their room (smaller text,
    list blocks in columns) as :class:`AutoLayout` fits them."""

    def __init__(self, grid: Grid):
        self.grid = grid

    def plan(self, m, blocks) -> Plan:
        g = self.grid
        auto = AutoLayout(g.kind)
        auto.m = m
        title_lines, sub_lines, _ = titles(m)
        lx, ly, lw, lh = g.legend
        bl = [dc_replace(b) for b in blocks]
        if not bl:
            pos, h = [], 0.0
        elif g.kind == "side":
            pos, h = auto._fit_column(bl, SIDE_COL, lh, g.ncols)
        else:
            floor = g.inset[3] if g.inset else 0.0
            sc = 1.0
            while True:
                pos, h, _ = auto._fit_band(bl, lw, sc, floor)
                if h <= lh + 1e-6 or sc - 0.05 < layout.LEGEND_MIN_SCALE - 1e-9:
                    break
                sc = round(sc - 0.05, 2)
        cx, cy, cw = g.credits
        plan = Plan(frame=g.frame, fits=h <= lh + 1e-6, layout=g.kind,
                    inset=g.inset if (g.inset and m._inset) else None,
                    credits=(cx, cy, auto._credit_lines(cw, 6.0)), credits_w=cw,
                    title=title_lines, subtitle=sub_lines, y_title=MARGIN)
        plan.blocks = [(b, lx + dx, ly + dy) for b, dx, dy in pos]
        return plan


def _natural(m) -> tuple[float, float]:
    """Ground width and height a sheet's extent takes with its margin (m)."""
    x0, y0, x1, y1 = m.extent_bounds
    return max(x1 - x0, 1.0) * (1 + m.margin), max(y1 - y0, 1.0) * (1 + m.margin)


def _common_frame(maps, avail_w, avail_h) -> tuple[float, float]:
    """The smallest frame in the room (``avail_w`` × ``avail_h`` mm) that draws every sheet
    at the largest scale the room allows it: the extents fill the frame as well as one frame
    can (a frame ``fixed`` sheet takes the whole room)."""
    if any(m.frame == "fixed" for m in maps):
        return avail_w, avail_h
    fw = fh = 0.0
    for m in maps:
        ew, eh = _natural(m)
        s = max(ew / avail_w, eh / avail_h)
        fw, fh = max(fw, ew / s), max(fh, eh / s)
    return min(fw, avail_w), min(fh, avail_h)


def _band_height(auto, m, plan, width, floor) -> float:
    """Height of a sheet's legend blocks in a band ``width`` mm wide, at the text scale its own
    layout used (or smaller, down to ``LEGEND_MIN_SCALE``, while that lowers the band)."""
    auto.m = m
    bl = [dc_replace(b) for b, _, _ in plan.blocks]
    if not bl:
        return 0.0
    sc = float(plan.room.get("scale", 1.0))
    _, h, used = auto._fit_band(bl, width, sc, floor)
    return h if used <= width + 1e-6 else float("inf")


def decide_grid(members: list, kind: str) -> Grid:
    """The :class:`Grid` of a series: ``members`` are (map, plan) pairs, each sheet laid out
    alone with layout ``kind`` (its own legend: :func:`mbm_sig.maps.draw.planned`). Under the
    lowest title, the room left by the tallest legend band (bottom) or the widest legend
    column (side) holds the common frame (:func:`_common_frame`); legend, inset and credits
    take the place the largest of them needs, the same on every sheet."""
    m0 = members[0][0]
    W, H, M = m0.W, m0.H, MARGIN
    maps = [m for m, _ in members]
    plans = [p for _, p in members]
    top = max(titles(m)[2] for m in maps)
    auto = AutoLayout(kind)

    def cred_h(m, width):
        auto.m = m
        return len(auto._credit_lines(width, 6.0)) * layout.line_height(6.0)

    has_inset = any(m._inset for m in maps)
    if kind == "bottom":
        avail_w = W - 2 * M
        bw = max(float(p.room.get("band_w", avail_w)) for p in plans)
        inset_w = INSET_BAND if has_inset else 0.0
        inset_h = inset_w * 0.9
        above = max([float(p.room.get("above", 0.0)) for p in plans] + [inset_h])
        ch = max(cred_h(m, bw) for m in maps)
        band = max(above + (ch + 4 if ch else 0), 8.0)
        fw, fh = _common_frame(maps, avail_w, H - M - band - 5 - top)
        for _ in range(3):          # the band under the frame (same edges) when the frame is narrower
            if not inset_w + 46 < fw < bw - 1:
                break
            above2 = max([_band_height(auto, m, p, fw - (inset_w + 6 if inset_w else 0), inset_h)
                          for m, p in members] + [inset_h])
            ch2 = max(cred_h(m, fw) for m in maps)
            band2 = max(above2 + (ch2 + 4 if ch2 else 0), 8.0)
            fw2, fh2 = _common_frame(maps, avail_w, H - M - band2 - 5 - top)
            if fw2 * fh2 < 0.95 * fw * fh:
                break
            bw, above, ch, band, fw, fh = min(fw, fw2 + 1e-6), above2, ch2, band2, fw2, fh2
        fx = M + (avail_w - fw) / 2
        x0 = M + (avail_w - bw) / 2
        yb = top + fh + 5
        # the legend and the inset under the frame (its edges) when every legend fits there in
        # the same height; the credits keep their width (a footer: more lines would lower the map)
        lx, lw = x0, bw
        if inset_w + 46 < fw < bw - 1 and all(
                _band_height(auto, m, p, fw - (inset_w + 6 if inset_w else 0), inset_h) <= above + 1e-6
                for m, p in members):
            lx, lw = fx, fw
        inset = (lx + lw - inset_w, yb, inset_w, inset_h) if inset_w else None
        return Grid("bottom", (fx, top, fw, fh), (lx, yb, lw - (inset_w + 6 if inset_w else 0), above),
                    (x0, yb + (above + 4 if above else 0), bw), inset)
    nb0 = max(int(p.room.get("nb", 1)) for p in plans)
    inset0 = has_inset and all(p.room.get("inset", False) for p in plans)
    legend_h = max(float(p.room.get("legend_h", 0.0)) for p in plans)
    # the column the sheets' own layouts used; when the tallest legend does not fit it beside
    # the inset and the credits, the credits under a lower frame, or no inset, or two columns:
    # the one that fits with the largest frame (a locator map is worth 20 % of it)
    tries = [(nb0, inset0, None), (nb0, inset0, True)] + ([(nb0, False, None)] if inset0 else []) + \
        ([(2, False, None)] if nb0 < 2 else [])
    best = None
    for nb, with_inset, under in tries:
        g, fits = _side_grid(maps, top, legend_h, nb, with_inset, under, cred_h)
        area = g.frame[2] * g.frame[3] * (INSET_WORTH if g.inset else 1.0)
        if best is None or (fits and (not best[1] or area > best[2] + 1e-6)):
            best = (g, fits, area)
    return best[0]


def _side_grid(maps, top, legend_h, nb, with_inset, under, cred_h) -> tuple[Grid, bool]:
    """A side :class:`Grid` with ``nb`` columns of blocks, the inset or not, the credits under
    the frame (``under``: True, the frame lowered to make room for them; None, when the
    frame leaves room for them) or in the column; and whether the tallest legend fits."""
    m0 = maps[0]
    W, H, M = m0.W, m0.H, MARGIN
    col_w = nb * SIDE_COL + (nb - 1) * 4.0
    avail_w = W - 2 * M - col_w - SIDE_GAP
    avail_h = H - M - top
    if under:
        avail_h -= 4 + max(cred_h(m, avail_w) for m in maps)
    fw, fh = _common_frame(maps, avail_w, avail_h)
    fx = M + (avail_w - fw) / 2
    xc = fx + fw + SIDE_GAP
    ih = SIDE_COL * 0.85 if with_inset else 0.0
    below = max(cred_h(m, fw) for m in maps)
    if below and (under or (under is None and H - M - (top + fh + 4) >= below)):
        credits: tuple | None = (fx, top + fh + 4, fw)
        bottom_h, ch = ih, 0.0
    else:
        ch = max(cred_h(m, col_w) for m in maps)
        credits = None
        bottom_h = ih + ch + (4 if ih and ch else 0)
    stack = legend_h + (4 + bottom_h if bottom_h else 0)
    bottom = min(H - M, max(top + fh, top + stack))
    if credits is None:
        credits = (xc, bottom - ch, col_w)
    yi = bottom - (ch + 4 if ch else 0) - ih
    inset = (xc + col_w - SIDE_COL, yi, SIDE_COL, ih) if with_inset else None
    room_bottom = yi if with_inset else (credits[1] if ch else H - M)
    room = room_bottom - top - (4 if bottom_h else 0)
    return Grid("side", (fx, top, fw, fh), (xc, top, col_w, room), credits, inset, nb), legend_h <= room + 1e-6
