"""Label placement with collision avoidance, in page millimetres.

One placement for every label of a sheet (:func:`place_all`): the label layers of all map
layers and the toponyms are pooled, sorted by tier (towns before thematic labels) and then
by priority within the tier (population for towns), and placed greedily. A label is kept
when its box lies inside the map frame and overlaps neither a kept label, nor an obstacle
(scale bar, north arrow, inset…), nor a point symbol of any layer (except its own).

Point labels (``around=True``, QGIS «around point») sit beside their symbol: right, left,
above, below, then the four diagonals, at ``offset`` (the symbol's radius, mm) plus a small
gap, and only where their own symbol is the nearest to their ink (a terril's number beside
another terril reads as the other's); a label with no such place is dropped and listed.

A town (the toponym layer) sits next to its place: on its anchor, or at one of the
positions around it (:func:`near_candidates`, then a finer grid) that keep its ink within
:data:`TOWN_MAX_MM` of the anchor, never farther. A required town that finds none of them
clear of every symbol overlays a big proportional circle with its halo (the position that
covers least of it), then tries smaller sizes down to :data:`MIN_SIZE`, then overlays
markers as the last resort (never another label); thematic labels come after the towns
and yield to them. Towns outside the map's subject (Lille on a map of the basin) are
context: regular, grey, smaller, never required. On a map sheet (:func:`place_sheet`)
the towns keep the positions they have on the frame against the furniture alone, solved
once per frame, and only those a sheet's own symbols are in the way of move: identical
basin maps name their towns identically.

Nothing is ever printed below :data:`MIN_SIZE`: smaller requested sizes are raised to it.
Labels that could not be placed are returned with the reason, so the sheet lists them in
its render information: a town above the threshold is never dropped in silence.

:func:`place` is the single-layer form kept for callers that place one layer at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from matplotlib.artist import Artist

from mbm_sig.maps.fmt import french_text
from mbm_sig.maps.layout import PT_MM, measure_ink

MIN_SIZE = 6.0          # pt: no text on a map below this size at print size

# positions around a point, in order of preference: (sx, sy) direction of the label box
# from the anchor (y down): right, left, above, below, then the diagonals
AROUND = ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (-1, -1), (1, 1), (-1, 1))
AROUND_GAP = 0.5       # mm between the symbol's edge and the label box
HALO_PAD = 0.4         # mm around the ink kept clear (the halo, 0.28 mm, and the frame's line)
FRAME_GAP = 0.6        # mm between a label's box and the frame line (0.25 let a halo touch the line)
# the ink of a line of text as a PDF reader boxes it, from the baseline, in em (cap height
# above, descender below): a label's box holds both this and its own ink
CAP_EM, DESC_EM = 0.72, 0.20

TOWN_MAX_MM = 3.0       # a town label's ink never farther than this from its anchor (mm)
NEAR_STEPS = (0.3, 1.0, 2.0, 3.0)   # distances (mm) of the positions tried around a town's anchor
AMBIGUOUS_MM = 0.3      # a point label nearer another marker than its own by this much reads as the other's
INK_MARGIN = 0.2        # mm the engine keeps a town's ink inside TOWN_MAX_MM (rounding, measuring)
NEAR_MARGIN = 10.0      # mm around a point label's candidates where another marker could be nearer
GRID_STEP = 0.75        # mm: the fine search around a town's anchor when those positions are taken

TOWNS_TIER = 2          # towns above thematic labels
TOWN_GAP = 3.0          # mm more between two town names on one line (a required town's last resort
                        # excepted): «Harnes Courrières» never reads as one name
THEMATIC_TIER = 1

# town label size (pt) and weight by population, and the marks of seats
TOWN_STYLE = ((100_000, 9.0, "bold"), (50_000, 8.5, "bold"), (20_000, 7.5, "bold"),
              (10_000, 7.0, "normal"), (0, 6.5, "normal"))
SEAT_BONUS = 1e7        # priority added to arrondissement seats (before any other town)
CONTEXT_SHIFT = 1e9     # priority taken from the towns outside the subject (after all of its towns)
CONTEXT_SMALLER = 1.0   # pt: a town outside the subject is this much smaller
CONTEXT_COLOR = "#6b6b6b"   # and grey


@dataclass
class Label:
    text: str
    x: float          # centre of the label box, mm from the left
    y: float          # centre of the label box, mm from the top
    w: float
    h: float
    priority: float
    anchor: tuple | None = None      # the anchor (mm), for point labels beside their symbol
    size: float = MIN_SIZE
    layer: int = 0                   # index of the LabelLayer it comes from
    required: bool = False
    over_symbols: bool = False       # a required label placed over point symbols (last resort)
    weight: str = "normal"
    base: float | None = None        # baseline, mm below the box centre (None: 0.26 em)
    index: int = -1                  # its row in its LabelLayer

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in page mm, origin top-left."""
        return (self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2)


@dataclass
class LabelLayer:
    """The labels of one map layer (or the toponyms), anchors already in page mm."""

    texts: list
    anchors: np.ndarray                       # (n, 2) page mm, origin top-left
    size: float | np.ndarray = 6.0            # pt, one or one per label
    weight: str | list = "normal"
    priority: np.ndarray | None = None        # higher first within the tier
    tier: int = THEMATIC_TIER
    around: bool = False                      # beside the anchor's symbol instead of on it
    offset: float | np.ndarray = 0.8          # symbol radius (mm) the label must clear
    required: np.ndarray | None = None        # labels the rule says must be placed
    symbols: bool = False                     # anchors carry symbols others must avoid
    soft: bool = False                        # big circles a town may overlay with its halo (last resort)
    name: str = ""
    style: dict = field(default_factory=dict)  # colour, halo… (for the drawer)
    colors: list | None = None                # one colour per label (else the style's)
    max_mm: float = TOWN_MAX_MM               # towns: farthest their ink may sit from the anchor
    preferred: list | None = None             # per label: (x, y, size) kept when still clear, or None

    def __post_init__(self):
        n = len(self.texts)
        self.anchors = np.asarray(self.anchors, dtype=float).reshape(-1, 2)
        if len(self.anchors) != n:
            raise ValueError(f"label layer {self.name!r}: {n} texts but {len(self.anchors)} anchors")


@dataclass
class Placement:
    labels: list                         # kept Label objects, in placement order
    unplaced: list                       # dicts: text, layer, required, reason


def label_box(text: str, size: float, weight: str = "normal", pad: float = HALO_PAD) -> tuple[float, float, float]:
    """(width, height, baseline) of a label's box in mm: its ink (measured in the print
    font) and the cap-height-to-descender line a reader boxes it in, both, with ``pad``
    around for the halo; the baseline is given from the box centre (down). A label whose
    box lies inside the frame keeps its ink and halo inside it, whatever its letters."""
    w, h, d = measure_ink(text, size, weight)
    em = size * PT_MM
    top = max(h - d, CAP_EM * em)          # above the baseline
    bottom = max(d, DESC_EM * em)          # below it
    return w + 2 * pad, top + bottom + 2 * pad, (top - bottom) / 2


def around_candidates(x, y, w, h, r, gap=AROUND_GAP):
    """Centres of a w × h label box beside a symbol of radius ``r`` at (x, y), in order."""
    d = r + gap
    out = []
    for sx, sy in AROUND:
        k = 0.7071 if sx and sy else 1.0           # diagonals: on the circle of radius d
        out.append((x + sx * (d * k + w / 2), y + sy * (d * k + h / 2)))
    return out


def _per(v, n, dtype=float):
    if isinstance(v, (list, tuple, np.ndarray)):
        a = np.asarray(v, dtype=dtype)
        if len(a) != n:
            raise ValueError(f"{len(a)} values for {n} labels")
        return a
    return np.full(n, v, dtype=dtype if dtype is not object else object)


def ink_extent(text: str, size: float, weight: str = "normal", pad: float = HALO_PAD) -> tuple[float, float, float]:
    """(half width, top, bottom) of a label's ink from the centre of its box (mm, y down:
    ``top`` is negative): the glyphs as printed, not the box with its halo and line."""
    w, h, d = measure_ink(text, size, weight)
    base = label_box(text, size, weight, pad)[2]
    return w / 2, base - (h - d), base + d


def ink_distance(cx, cy, ink, x, y):
    """Distance (mm) from the anchor (x, y) to the ink (:func:`ink_extent`) of a label
    whose box is centred on (cx, cy); 0 when the anchor lies under the ink. Arrays welcome."""
    hw, top, bottom = ink
    cy = np.asarray(cy, dtype=float)
    dx = np.maximum(np.abs(np.asarray(cx, dtype=float) - x) - hw, 0.0)
    dy = np.maximum(np.maximum(cy + top - y, y - (cy + bottom)), 0.0)
    return np.hypot(dx, dy)


def _nearest_first(c: np.ndarray, ink, x, y, max_mm: float, tiebreak=None) -> np.ndarray:
    dist = ink_distance(c[:, 0], c[:, 1], ink, x, y)
    keys = (np.round(dist, 3),) if tiebreak is None else (tiebreak, np.round(dist, 3))
    order = np.lexsort(keys)
    return c[order[dist[order] <= max_mm + 1e-9]]


def _near_pattern() -> np.ndarray:
    """The positions of :func:`near_candidates` as coefficients (kx, dx, ky, dy): a box
    centre at (kx × half ink width + dx, ky × half ink height + dy) from the anchor."""
    out = [(0.0, 0.0, 0.0, 0.0)]
    for fy in (0.0, -0.6, 0.6):
        for fx in (0.0, -0.5, 0.5, -0.9, 0.9):
            if fx or fy:
                out.append((fx, 0.0, fy, 0.0))
    for d in NEAR_STEPS:
        for sy in (-1, 1):                          # above, below, slid along the name
            for fx in (0.0, -0.5, 0.5, -0.9, 0.9):
                out.append((fx, 0.0, sy, sy * d))
        for sx in (1, -1):                          # right, left
            for fy in (0.0, -0.6, 0.6):
                out.append((sx, sx * d, fy, 0.0))
        k = 0.7071 * d
        for sx, sy in ((1, -1), (-1, -1), (1, 1), (-1, 1)):
            out.append((sx, sx * k, sy, sy * k))
    return np.array(out)


_NEAR = _near_pattern()


def near_candidates(x, y, ink, max_mm: float = TOWN_MAX_MM) -> np.ndarray:
    """Centres (n, 2) of a label box next to its place (x, y), nearest first (QGIS's
    «around point» with a maximum distance): on the anchor, slid along it with the anchor
    still under the ink, then beside, above, below and on the diagonals at growing
    distances (:data:`NEAR_STEPS`), never with the ink (:func:`ink_extent`) farther than
    ``max_mm`` from the anchor."""
    hw, top, bottom = ink
    ih = (bottom - top) / 2
    c = np.empty((len(_NEAR), 2))
    c[:, 0] = x + _NEAR[:, 0] * hw + _NEAR[:, 1]
    c[:, 1] = (y - (top + bottom) / 2) + _NEAR[:, 2] * ih + _NEAR[:, 3]
    return _nearest_first(c, ink, x, y, max_mm)


def grid_candidates(x, y, ink, max_mm: float = TOWN_MAX_MM, step: float = GRID_STEP) -> np.ndarray:
    """Every centre on a ``step`` mm grid around (x, y) that keeps the ink within
    ``max_mm`` of the anchor, nearest first: the fine search of a town that none of
    :func:`near_candidates` suits."""
    hw, top, bottom = ink
    kx, ky = int((hw + max_mm) / step), int(((bottom - top) / 2 + max_mm) / step) + 1
    gx, gy = np.meshgrid(np.arange(-kx, kx + 1) * step, np.arange(-ky, ky + 1) * step)
    c = np.stack([gx.ravel() + x, gy.ravel() + y - (top + bottom) / 2], axis=1)
    return _nearest_first(c, ink, x, y, max_mm, tiebreak=np.hypot(c[:, 0] - x, c[:, 1] - y))


def _boxes(c: np.ndarray, w: float, h: float) -> np.ndarray:
    out = np.empty((len(c), 4))
    out[:, :2] = c - (w / 2, h / 2)
    out[:, 2:] = c + (w / 2, h / 2)
    return out


def _near(A: np.ndarray, B: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """The rows of boxes A that reach the box around all the boxes B (grown by ``margin``):
    the only ones a candidate of B can meet."""
    if not len(A) or not len(B):
        return np.zeros(len(A), dtype=bool)
    x0, y0 = B[:, 0].min() - margin, B[:, 1].min() - margin
    x1, y1 = B[:, 2].max() + margin, B[:, 3].max() + margin
    return (A[:, 0] < x1) & (A[:, 2] > x0) & (A[:, 1] < y1) & (A[:, 3] > y0)


def _any_hit(B: np.ndarray, A: np.ndarray) -> np.ndarray:
    """For each box of B (n, 4): does it overlap one of A (m, 4)?"""
    if not len(A) or not len(B):
        return np.zeros(len(B), dtype=bool)
    hit = ((A[None, :, 0] < B[:, None, 2]) & (A[None, :, 2] > B[:, None, 0])
           & (A[None, :, 1] < B[:, None, 3]) & (A[None, :, 3] > B[:, None, 1]))
    return np.asarray(hit.any(axis=1))


def _overlap_area(B: np.ndarray, A: np.ndarray) -> np.ndarray:
    """For each box of B: the area (mm²) it covers of the boxes A."""
    if not len(A) or not len(B):
        return np.zeros(len(B))
    w = np.minimum(A[None, :, 2], B[:, None, 2]) - np.maximum(A[None, :, 0], B[:, None, 0])
    h = np.minimum(A[None, :, 3], B[:, None, 3]) - np.maximum(A[None, :, 1], B[:, None, 1])
    return (np.clip(w, 0, None) * np.clip(h, 0, None)).sum(axis=1)


class _Symbols:
    """The point symbols of a sheet labels keep off, as circles sorted by x (a symbol near
    a box is found by bisection): centre, radius, whether it is soft (a big proportional
    circle a town may overlay with its halo when nothing near its place is free), and
    (layer, index) -> row of the symbols label layers carry."""

    def __init__(self, layers):
        xs, ys, rs, soft, keys = [], [], [], [], []
        for li, L in enumerate(layers):
            if not (L.symbols or L.around) or not len(L.texts):
                continue
            r = np.nan_to_num(_per(L.offset, len(L.texts)), nan=0.0)
            xy = L.anchors
            ok = np.flatnonzero(np.isfinite(xy).all(axis=1))
            xs.append(xy[ok, 0])
            ys.append(xy[ok, 1])
            rs.append(r[ok])
            soft.append(np.full(len(ok), bool(L.soft)))
            keys += [(li, int(j)) for j in ok]
        x = np.concatenate(xs) if xs else np.zeros(0)
        order = np.argsort(x, kind="stable")
        self.x = x[order]
        self.y = (np.concatenate(ys) if ys else np.zeros(0))[order]
        self.r = (np.concatenate(rs) if rs else np.zeros(0))[order]
        self.soft = (np.concatenate(soft) if soft else np.zeros(0, dtype=bool))[order]
        self.rmax = float(self.r.max()) if len(self.r) else 0.0
        self.owner = {keys[k]: i for i, k in enumerate(order.tolist())}

    def __len__(self) -> int:
        return len(self.x)

    def near(self, x0, y0, x1, y1) -> np.ndarray:
        """Rows of the symbols whose circle may reach the box (x0, y0, x1, y1)."""
        if not len(self.x):
            return np.zeros(0, dtype=int)
        a, b = np.searchsorted(self.x, (x0 - self.rmax, x1 + self.rmax))
        rows = np.arange(a, b)
        r = self.r[rows]
        yy, xx = self.y[rows], self.x[rows]
        return rows[(yy + r > y0) & (yy - r < y1) & (xx + r > x0) & (xx - r < x1)]


class _Placer:
    """The greedy placement state of one sheet: the frame, the furniture, the symbols and
    the boxes of the labels kept so far."""

    def __init__(self, layers, frame, obstacles, pad):
        self.layers, self.pad = layers, pad
        fx0, fy0, fw, fh = frame
        self.fr = (fx0, fy0, fx0 + fw, fy0 + fh)
        self.sym = _Symbols(layers)
        self.obst = np.array([(o[0], o[1], o[0] + o[2], o[1] + o[3]) for o in obstacles],
                             dtype=float).reshape(-1, 4)
        self._kept = np.empty((sum(len(L.texts) for L in layers) + 1, 4))
        self._nk = 0
        self.town_gap = 0.0             # mm more kept between two town names on one line
        self._towns: list = []          # the kept town boxes
        self.town = False               # the label being placed is a town
        self.ambiguous = False          # the last label found room only nearer another symbol

    @property
    def kept(self) -> np.ndarray:
        return self._kept[:self._nk]

    def keep(self, box, town: bool = False) -> None:
        self._kept[self._nk] = box
        self._nk += 1
        if town:
            self._towns.append(box)

    def slide(self, c: np.ndarray, w: float, h: float) -> np.ndarray:
        """A centred label near the frame edge slides inside it (up to half its size)."""
        fx0, fy0, fx1, fy1 = self.fr
        g = FRAME_GAP
        dx = np.maximum(fx0 + g - (c[:, 0] - w / 2), 0.0) - np.maximum((c[:, 0] + w / 2) - (fx1 - g), 0.0)
        dy = np.maximum(fy0 + g - (c[:, 1] - h / 2), 0.0) - np.maximum((c[:, 1] + h / 2) - (fy1 - g), 0.0)
        ok = (np.abs(dx) <= w / 2) & (np.abs(dy) <= h)
        return c + np.stack([np.where(ok, dx, 0.0), np.where(ok, dy, 0.0)], axis=1)

    def free(self, B: np.ndarray) -> np.ndarray:
        """Boxes inside the frame, clear of the kept labels and of the furniture."""
        fx0, fy0, fx1, fy1 = self.fr
        g = FRAME_GAP
        ok = (B[:, 0] >= fx0 + g) & (B[:, 1] >= fy0 + g) & (B[:, 2] <= fx1 - g) & (B[:, 3] <= fy1 - g)
        kept = self.kept
        ok &= ~_any_hit(B, kept[_near(kept, B)])
        ok &= ~_any_hit(B, self.obst)
        if self.town and self.town_gap and self._towns:     # a town name apart from those beside it
            wide = B + np.array([-self.town_gap, 0.0, self.town_gap, 0.0])
            ok &= ~_any_hit(wide, np.asarray(self._towns, dtype=float))
        return ok

    def symbol_cover(self, B: np.ndarray, own, which: str) -> np.ndarray:
        """How much of the symbols (``which``: all, hard or soft) each box covers, its own
        symbol left out: the sum over the circles it enters of the depth squared (0: clear)."""
        s = self.sym
        if not len(s) or not len(B):
            return np.zeros(len(B))
        rows = s.near(B[:, 0].min(), B[:, 1].min(), B[:, 2].max(), B[:, 3].max())
        if which != "all":
            rows = rows[s.soft[rows] == (which == "soft")]
        if own is not None:
            rows = rows[rows != own]
        if not len(rows):
            return np.zeros(len(B))
        x, y, r = s.x[rows], s.y[rows], s.r[rows]
        dx = np.maximum(np.maximum(B[:, None, 0] - x[None], x[None] - B[:, None, 2]), 0.0)
        dy = np.maximum(np.maximum(B[:, None, 1] - y[None], y[None] - B[:, None, 3]), 0.0)
        depth = np.clip(r[None] - np.hypot(dx, dy), 0.0, None)
        return (depth * depth).sum(axis=1)

    def nearest_is_own(self, c: np.ndarray, ink, own) -> np.ndarray:
        """For each centre ``c`` of a point label of ink extent ``ink``: is its own symbol
        the nearest marker to its ink? A terril's number nearer another terril reads as the
        other's (``mbm-sig check`` reports it beyond :data:`AMBIGUOUS_MM`)."""
        s = self.sym
        if own is None or len(s) < 2:
            return np.ones(len(c), dtype=bool)
        hw, top, bottom = ink
        x0, x1, y0, y1 = c[:, 0] - hw, c[:, 0] + hw, c[:, 1] + top, c[:, 1] + bottom
        # only markers near the candidates can be nearer than the label's own symbol
        rows = s.near(x0.min() - NEAR_MARGIN, y0.min() - NEAR_MARGIN, x1.max() + NEAR_MARGIN, y1.max() + NEAR_MARGIN)
        rows = rows[~s.soft[rows] & (rows != own)]
        ox, oy, orad = s.x[own], s.y[own], s.r[own]
        mine = np.hypot(np.maximum(np.maximum(x0 - ox, ox - x1), 0.0),
                        np.maximum(np.maximum(y0 - oy, oy - y1), 0.0)) - orad
        if not len(rows):
            return np.ones(len(c), dtype=bool)
        x, y, r = s.x[rows], s.y[rows], s.r[rows]
        dx = np.maximum(np.maximum(x0[:, None] - x[None], x[None] - x1[:, None]), 0.0)
        dy = np.maximum(np.maximum(y0[:, None] - y[None], y[None] - y1[:, None]), 0.0)
        rim = np.hypot(dx, dy) - r[None]
        return rim.min(axis=1) >= mine

    def _first_around(self, c: np.ndarray, w: float, h: float, own: int, ink) -> int | None:
        """:meth:`choose` ``strict`` for a point label, its few positions one at a time (the
        first free one, nearest its own symbol and clear of every other, ends the search);
        the same answer as the arrays give, for a fraction of their cost."""
        s, g = self.sym, FRAME_GAP
        fx0, fy0, fx1, fy1 = self.fr
        hw, top, bottom = ink
        kept, obst = self.kept, self.obst
        ox, oy, orad = float(s.x[own]), float(s.y[own]), float(s.r[own])
        free_any = unamb_any = False
        for i, (cx, cy) in enumerate(c.tolist()):
            b0, b1, b2, b3 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            if b0 < fx0 + g or b1 < fy0 + g or b2 > fx1 - g or b3 > fy1 - g:
                continue
            if len(kept) and ((kept[:, 0] < b2) & (kept[:, 2] > b0) & (kept[:, 1] < b3) & (kept[:, 3] > b1)).any():
                continue
            if len(obst) and ((obst[:, 0] < b2) & (obst[:, 2] > b0) & (obst[:, 1] < b3) & (obst[:, 3] > b1)).any():
                continue
            free_any = True
            i0, i1, j0, j1 = cx - hw, cx + hw, cy + top, cy + bottom
            mine = math.hypot(max(i0 - ox, ox - i1, 0.0), max(j0 - oy, oy - j1, 0.0)) - orad
            m = max(mine, 0.0)          # a marker nearer than its own lies within this of the ink
            rows = s.near(min(b0, i0 - m), min(b1, j0 - m), max(b2, i1 + m), max(b3, j1 + m))
            rows = rows[rows != own]
            if len(rows):
                x, y, r = s.x[rows], s.y[rows], s.r[rows]
                rim = np.hypot(np.maximum(np.maximum(i0 - x, x - i1), 0.0),
                               np.maximum(np.maximum(j0 - y, y - j1), 0.0)) - r
                if (rim[~s.soft[rows]] < mine).any():
                    continue
                unamb_any = True
                if (np.hypot(np.maximum(np.maximum(b0 - x, x - b2), 0.0),
                             np.maximum(np.maximum(b1 - y, y - b3), 0.0)) < r).any():
                    continue
            return i
        self.ambiguous = free_any and not unamb_any
        return None

    def choose(self, c: np.ndarray, w: float, h: float, mode: str, own, around=None) -> int | None:
        """Index of the candidate kept: ``strict`` the first clear of every symbol,
        ``soft`` the one covering least of the big circles among those clear of the
        markers, ``any`` the one covering least of any symbol (the last resort)."""
        if mode == "strict" and around is not None and own is not None:
            return self._first_around(c, w, h, own, around)
        B = _boxes(c, w, h)
        ok = self.free(B)
        if not ok.any():
            return None
        idx = np.flatnonzero(ok)
        if around is not None:      # beside its own symbol (``around``: its ink extent), nearest to it
            idx = idx[self.nearest_is_own(c[idx], around, own)]
            if not len(idx):
                self.ambiguous = True
                return None
        if mode == "strict":
            clear = self.symbol_cover(B[idx], own, "all") <= 0
            return int(idx[np.argmax(clear)]) if clear.any() else None
        if mode == "soft":
            hard = self.symbol_cover(B[idx], own, "hard")
            idx = idx[hard <= 0]
            if not len(idx):
                return None
            cover = self.symbol_cover(B[idx], own, "soft")
        else:
            cover = self.symbol_cover(B[idx], own, "all")
        return int(idx[np.argmin(np.round(cover, 3))])


def _items(layers, min_size):
    """Every candidate label, ordered by tier, required first, then priority."""
    items = []
    for li, L in enumerate(layers):
        n = len(L.texts)
        if not n:
            continue
        sizes = np.maximum(_per(L.size, n), min_size)
        weights = L.weight if isinstance(L.weight, (list, tuple, np.ndarray)) else [L.weight] * n
        pr = np.zeros(n) if L.priority is None else np.nan_to_num(np.asarray(L.priority, dtype=float), nan=-np.inf)
        req = np.zeros(n, dtype=bool) if L.required is None else np.asarray(L.required, dtype=bool)
        offs = np.nan_to_num(_per(L.offset, n), nan=0.0)
        for j in range(n):
            t = L.texts[j]
            if t is None or t != t or str(t) == "":
                continue
            items.append((-L.tier, not req[j], -pr[j], li, j, french_text(str(t)), float(sizes[j]), weights[j],
                          float(offs[j]), bool(req[j]), float(pr[j])))
    items.sort(key=lambda it: it[:5])
    return items


def _attempts(L, is_req: bool, size: float, min_size: float, soft: bool = True):
    """(mode, size) in order of preference. A town (or any required label) keeps its size
    and its place first: clear of every symbol, then over a big circle with its halo, then
    smaller, then over markers as the last resort; a thematic label tries once, clear."""
    if not is_req:          # thematic labels: once, clear; optional towns next to their place, clear,
        # else over a big circle with their halo as a required town may: the same towns named on
        # the basin maps with circles as on those without (never dropped for a circle alone)
        if L.tier == TOWNS_TIER:
            return [("strict", size), ("grid", size)] + ([("soft", size)] if soft else [])
        return [("strict", size)]
    smaller = [s for s in (size - 1.0, size - 2.0) if s > min_size] + ([min_size] if size > min_size else [])
    modes = ("strict", "grid", "soft") if soft else ("strict", "grid")     # soft = strict without circles
    return ([(m, size) for m in modes] + [(m, s) for s in smaller for m in modes]
            + [("any", size)] + [("any", s) for s in smaller])


def _candidates(P: _Placer, L, x, y, w, h, off, near, mode: str = "strict") -> np.ndarray:
    """``near``: None, or the ink extent of a town label, kept next to its place."""
    if L.around:
        return np.asarray(around_candidates(x, y, w, h, off), dtype=float)
    if near is not None:     # a town: next to its place, never drifting away
        m = L.max_mm - INK_MARGIN
        cands = grid_candidates if mode in ("grid", "any") else near_candidates
        c = P.slide(cands(x, y, near, m), w, h)
        return c[ink_distance(c[:, 0], c[:, 1], near, x, y) <= m + 1e-9]
    return P.slide(np.array([[x, y]], dtype=float), w, h)


def place_all(layers, frame, obstacles=(), min_size: float = MIN_SIZE, pad: float = HALO_PAD,
              town_gap: float = 0.0) -> Placement:
    """One greedy placement of every label of a sheet.

    ``layers``: :class:`LabelLayer` list; ``frame``: (x, y, w, h) page mm; ``obstacles``:
    (x, y, w, h) boxes in page mm (furniture); ``town_gap``: mm more kept between two town
    names on one line. Returns a :class:`Placement`."""
    P = _Placer(layers, frame, obstacles, pad)
    P.town_gap = town_gap
    fx0, fy0, fx1, fy1 = P.fr
    soft = bool(P.sym.soft.any())           # big circles a town may overlay: else no such pass
    out, unplaced = [], []
    for _, _, _, li, k, text, size, weight, off, is_req, prio in _items(layers, min_size):
        L = layers[li]
        x, y = L.anchors[k]
        if not (np.isfinite(x) and np.isfinite(y)):
            unplaced.append(dict(text=text, layer=L.name, required=is_req, reason="no anchor"))
            continue
        if not (fx0 <= x <= fx1 and fy0 <= y <= fy1):
            continue            # outside the frame: not this sheet's label
        own = P.sym.owner.get((li, k))
        placed = None
        P.ambiguous = False
        P.town = False          # the frame's position is kept whenever it is clear (same on every sheet)
        pref = L.preferred[k] if L.preferred is not None else None
        if pref is not None:        # the frame's position of this town, kept when still clear
            w, h, base = label_box(text, pref[2], weight, pad)
            if P.choose(np.array([pref[:2]], dtype=float), w, h, "strict", own) is not None:
                placed = (pref[0], pref[1], w, h, pref[2], base, "strict")
        near = is_req or L.tier == TOWNS_TIER
        for mode, s in ([] if placed else _attempts(L, is_req, size, min_size, soft)):
            P.town = L.tier == TOWNS_TIER and mode != "any"     # the last resort of a required town: no gap
            w, h, base = label_box(text, s, weight, pad)
            ink = ink_extent(text, s, weight, pad) if (near or L.around) else None
            c = _candidates(P, L, x, y, w, h, off, None if L.around else ink, mode)
            i = (P.choose(c, w, h, "strict" if mode == "grid" else mode, own, ink if L.around else None)
                 if len(c) else None)
            if i is not None:
                placed = (float(c[i, 0]), float(c[i, 1]), w, h, s, base, mode)
                break
        if placed is None:
            unplaced.append(dict(text=text, layer=L.name, required=is_req,
                                 reason=("no room beside its symbol that is not nearer another symbol"
                                         if P.ambiguous else
                                         "no room inside the frame clear of other labels and furniture")))
            continue
        cx, cy, w, h, s, base, mode = placed
        lab = Label(text, cx, cy, w, h, prio, (float(x), float(y)), size=s, layer=li, required=is_req,
                    over_symbols=mode in ("soft", "any"), weight=str(weight), base=base, index=k)
        P.keep(lab.bbox, town=L.tier == TOWNS_TIER)
        out.append(lab)
    return Placement(out, unplaced)


_FRAME_TOWNS: dict = {}          # the towns' placement per frame (see place_sheet), per process
_FRAME_TOWNS_MAX = 64


def _frame_key(L: LabelLayer, frame, obstacles, pad) -> tuple:
    n = len(L.texts)
    return (tuple(L.texts), np.round(L.anchors, 3).tobytes(), np.asarray(_per(L.size, n)).tobytes(),
            tuple(L.weight) if isinstance(L.weight, (list, tuple, np.ndarray)) else L.weight,
            None if L.required is None else np.asarray(L.required, dtype=bool).tobytes(),
            None if L.priority is None else np.asarray(L.priority, dtype=float).tobytes(),
            tuple(round(float(v), 3) for v in frame), tuple(tuple(round(float(v), 3) for v in o) for o in obstacles),
            float(pad), float(L.max_mm))


def frame_positions(towns: LabelLayer, frame, obstacles=(), pad: float = HALO_PAD) -> list:
    """Where the towns go on this frame when nothing but the furniture is in the way: per
    town, (x, y, size) of its label, or None. Solved once per frame (and set of towns,
    furniture) in a process: the sheets of an atlas that share a frame name their towns
    at the same places."""
    key = _frame_key(towns, frame, obstacles, pad)
    got = _FRAME_TOWNS.get(key)
    if got is None:
        alone = LabelLayer(list(towns.texts), towns.anchors, size=towns.size, weight=towns.weight,
                           priority=towns.priority, tier=towns.tier, required=towns.required,
                           max_mm=towns.max_mm, name=towns.name)
        res = place_all([alone], frame, obstacles=obstacles, pad=pad, town_gap=TOWN_GAP)
        got = [None] * len(towns.texts)
        for lab in res.labels:
            got[lab.index] = (lab.x, lab.y, lab.size)
        if len(_FRAME_TOWNS) >= _FRAME_TOWNS_MAX:
            _FRAME_TOWNS.pop(next(iter(_FRAME_TOWNS)))
        _FRAME_TOWNS[key] = got
    return list(got)


def place_sheet(layers, frame, obstacles=(), pad: float = HALO_PAD) -> Placement:
    """:func:`place_all` for a map sheet: the towns (the toponym layer, tier
    :data:`TOWNS_TIER`) keep the positions they have on this frame against the furniture
    alone (:func:`frame_positions`), and only those a sheet's own symbols (or a town moved
    for them) are in the way of are placed again, next to their place: identical basin
    maps name their towns identically. On a sheet where the towns are the only labels and no
    symbol is drawn (a per-commune atlas page), nothing but the furniture is in their way: their
    one placement is that one, made once."""
    towns = [L for L in layers if L.tier == TOWNS_TIER and len(L.texts)]
    if any(L is not T for L in layers for T in towns[:1]) or len(towns) != 1:
        for L in towns:
            if L.preferred is None:
                L.preferred = frame_positions(L, frame, obstacles, pad)
    return place_all(layers, frame, obstacles=obstacles, pad=pad, town_gap=TOWN_GAP)


def place(texts, xy_mm: np.ndarray, size: float, frame, priority=None, points: bool = False,
          obstacles=(), kept_boxes=None, pad: float = HALO_PAD, weight: str = "normal", gap: float = 1.2,
          around: bool | None = None, offset=0.8):
    """Greedy placement of one label layer. ``xy_mm``: anchors in page mm (origin top-left).
    Returns the kept :class:`Label` list. ``kept_boxes`` (list of bboxes) is extended in
    place so several label layers do not collide with each other. ``around`` (default:
    ``points``) places each label beside its anchor at ``offset`` mm (a number, or one per
    anchor: the symbol's radius) instead of centring it on the anchor. Sizes below
    :data:`MIN_SIZE` are raised to it."""
    around = points if around is None else around
    boxes = [(b[0], b[1], b[2] - b[0], b[3] - b[1]) for b in (kept_boxes or [])]
    L = LabelLayer(list(texts), np.asarray(xy_mm, dtype=float).reshape(-1, 2), size=size, weight=weight,
                   priority=None if priority is None else np.asarray(priority, dtype=float),
                   around=around, offset=offset)
    res = place_all([L], frame, obstacles=list(obstacles) + boxes, pad=pad)
    if kept_boxes is not None:
        kept_boxes.extend(lab.bbox for lab in res.labels)
    return res.labels


# ------------------------------------------------------------------------------ towns

def town_style(population: float) -> tuple[float, str]:
    """(size pt, weight) of a town label by population."""
    p = 0 if population is None or population != population else float(population)
    for floor, size, weight in TOWN_STYLE:
        if p >= floor:
            return size, weight
    return TOWN_STYLE[-1][1], TOWN_STYLE[-1][2]


@dataclass(frozen=True)
class TownRule:
    """Which towns must be named: every commune of at least ``min_population`` inside the
    frame; on basin-wide maps (frame wider than ``wide_km``) at least the arrondissement
    seats and the communes of ``wide_min_population``. Other communes are named when room
    is left, by population, down to ``optional_min_population`` (``wide_optional_min_population``
    on basin-wide maps)."""

    min_population: int = 10_000
    wide_min_population: int = 20_000
    wide_km: float = 60.0
    optional_min_population: int = 3_000
    wide_optional_min_population: int = 10_000
    edge_mm: float = 2.5        # a town whose anchor lies closer to the frame edge is not required

    def optional_floor(self, frame_width_km: float) -> int:
        return self.wide_optional_min_population if frame_width_km > self.wide_km else self.optional_min_population

    def required(self, population: np.ndarray, seat: np.ndarray, frame_width_km: float) -> np.ndarray:
        pop = np.nan_to_num(np.asarray(population, dtype=float), nan=0.0)
        seat = np.asarray(seat, dtype=bool)
        if frame_width_km > self.wide_km:
            return seat | (pop >= self.wide_min_population)
        return seat | (pop >= self.min_population)


def town_layer(names, anchors_mm, population, seat=None, frame_width_km: float = 0.0,
               rule: TownRule = TownRule(), color: str = "#1a1a1a", inside=None) -> LabelLayer:
    """The toponym label layer: names sized by population, seats first, the rule's towns
    required. ``inside`` (one flag per town, default all): the towns of the map's subject
    (the basin, the coverage feature). The others are context: regular weight, grey, one
    point smaller, never required, placed after the subject's towns; only the subject's
    seats and large towns are bold."""
    pop = np.nan_to_num(np.asarray(population, dtype=float), nan=0.0)
    n = len(pop)
    seat = np.zeros(n, dtype=bool) if seat is None else np.asarray(seat, dtype=bool)
    inside = np.ones(n, dtype=bool) if inside is None else np.asarray(inside, dtype=bool)
    # context towns: only those the rule would require inside the subject (Lille, Arras)
    context = rule.required(pop, seat, frame_width_km) & ~inside
    seat = seat & inside
    req = rule.required(pop, seat, frame_width_km) & inside
    keep = req | context | ((pop >= rule.optional_floor(frame_width_km)) & inside)
    styles = [town_style(p) for p in pop]
    size = np.array([s for s, _ in styles])
    size = np.where(seat, np.maximum(size, TOWN_STYLE[2][1]), size)
    size = np.where(inside, size, np.maximum(size - CONTEXT_SMALLER, MIN_SIZE))
    weight = ["bold" if (w == "bold" or st) and ins else "normal"
              for (_, w), st, ins in zip(styles, seat, inside, strict=True)]
    texts = [str(t) if k else "" for t, k in zip(names, keep, strict=True)]
    colors = [color if ins else CONTEXT_COLOR for ins in inside]
    return LabelLayer(texts, anchors_mm, size=size, weight=weight,
                      priority=np.where(inside, pop + SEAT_BONUS * seat, pop - CONTEXT_SHIFT),
                      tier=TOWNS_TIER, required=req & keep, name="toponymes",
                      style=dict(color=color, halo=True), colors=colors)


def town_context(size: float) -> tuple[float, str]:
    """(size, weight) of a context town (outside the map's subject) that would be printed
    at ``size`` inside it."""
    return max(size - CONTEXT_SMALLER, MIN_SIZE), "normal"


def towns(cat):
    """The toponym candidates of a catalogue: commune name, population, seat flag and
    anchor (a point inside the commune, EPSG:2154). Arrondissement seats (prefectures and
    sub-prefectures) are marked; the EPCI's most populous commune (ville-centre) too."""
    import pandas as pd
    com = cat.read("communes")
    pts = com.geometry.representative_point()
    seat = com["chef_lieu"].notna() if "chef_lieu" in com else pd.Series(False, index=com.index)
    centre = com["ville_centre_epci"].fillna(False).astype(bool) if "ville_centre_epci" in com else seat & False
    return pd.DataFrame({"nom": com["nom"].astype(str), "insee": com["insee"].astype(str),
                         "population": pd.to_numeric(com["population"], errors="coerce").fillna(0).to_numpy(float),
                         "seat": seat.to_numpy(bool), "ville_centre": centre.to_numpy(bool),
                         "x": pts.x.to_numpy(float), "y": pts.y.to_numpy(float)})


def towns_in(t, extent, keep=None):
    """The towns whose anchor lies inside the ground ``extent`` (x0, y0, x1, y1), and, when
    ``keep`` (a set of INSEE codes) is given, among those communes only (atlas focus)."""
    return t.iloc[_towns_at(t, extent, keep)]


_TOWN_COLUMNS = ("x", "y", "insee", "seat", "ville_centre", "population", "nom")
_TOWN_ARRAYS: list = []          # [(table, its columns as arrays)], the last few tables met


def _town_arrays(t) -> dict:
    """The columns of a town table as numpy arrays, made once per table (a sheet's town
    names take the towns in its extent from the same table on every page of an atlas)."""
    for table, arrays in _TOWN_ARRAYS:
        if table is t and len(arrays["x"]) == len(t):
            return arrays
    arrays = {c: (t[c].to_numpy(float) if c in ("x", "y", "population") else t[c].to_numpy(bool)
                  if c in ("seat", "ville_centre") else np.asarray(t[c].tolist(), dtype=object))
              for c in _TOWN_COLUMNS if c in t.columns}
    _TOWN_ARRAYS.insert(0, (t, arrays))       # (the table kept: its identity is not reused)
    del _TOWN_ARRAYS[4:]
    return arrays


def _towns_at(t, extent, keep=None) -> np.ndarray:
    """The positions in ``t`` of :func:`towns_in`'s towns, in the table's order."""
    a = _town_arrays(t)
    x0, y0, x1, y1 = extent
    x, y = a["x"], a["y"]
    m = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    if keep is not None:
        keep = set(keep)
        m &= np.fromiter((c in keep for c in a["insee"]), bool, len(m))
    return np.flatnonzero(m)


def town_layer_for(t, extent, frame, rule: TownRule = TownRule(), keep=None, color: str = "#1a1a1a",
                   subject=None) -> LabelLayer:
    """The toponym label layer of a sheet: the towns inside ``extent`` drawn in the page
    ``frame`` (x, y, w, h mm), sized by population, seats first, the rule's towns required;
    EPCI villes-centres rank with the seats on local maps. ``subject`` (a shapely geometry,
    the basin or the sheet's territory): the towns outside it are context (grey, regular,
    smaller, not required)."""
    fx0, fy0, fw, fh = frame
    x0, y0, x1, y1 = extent
    a, at = _town_arrays(t), _towns_at(t, extent, keep)
    sx, sy = a["x"][at], a["y"][at]
    mm_per_m = fw / (x1 - x0)
    xy = np.c_[fx0 + (sx - x0) * mm_per_m, fy0 + (y1 - sy) * mm_per_m]
    width_km = (x1 - x0) / 1000
    seat = a["seat"][at]
    if width_km <= rule.wide_km:
        seat = seat | a["ville_centre"][at]
    inside = None
    if subject is not None:
        import shapely
        inside = shapely.contains_xy(subject, sx, sy)
    layer = town_layer(a["nom"][at].tolist(), xy, a["population"][at], seat=seat,
                       frame_width_km=width_km, rule=rule, color=color, inside=inside)
    e = rule.edge_mm
    near_edge = ((xy[:, 0] < fx0 + e) | (xy[:, 0] > fx0 + fw - e) | (xy[:, 1] < fy0 + e) | (xy[:, 1] > fy0 + fh - e))
    layer.required = layer.required & ~near_edge
    return layer


HALO_PT = 1.6           # width of the white halo stroke (pt): about 0.3 mm on each side


def _pdftext():
    """The PDF text fast path module (its halo support)."""
    from mbm_sig.maps.output import pdftext
    return pdftext


class _HaloText:
    """Stands for the Text of a label's halo when the label artist calls the renderer: the
    PDF text fast path strokes it (text render mode 2), see mbm_sig.maps.output.pdftext."""

    def __init__(self, width: float):
        HALO_GID = _pdftext().HALO_GID
        self._gid = f"{HALO_GID}{width}"

    def get_gid(self):
        return self._gid

    def get_fontfeatures(self):
        return None

    def get_language(self):
        return None


class LabelArtist(Artist):
    """Every label of a sheet in one artist, drawn straight by the renderer (no matplotlib
    Text layout per label): its halo (stroked text in PDF, a stroked path elsewhere) then
    the text, centred on the label box, baseline placed so that the ink is centred."""

    def __init__(self, page_w: float, page_h: float, items, halo_pt: float = HALO_PT):
        super().__init__()
        self.set_zorder(4)
        self.W, self.H, self.items, self.halo_pt = page_w, page_h, list(items), halo_pt
        self._props: dict = {}

    def _prop(self, size, weight):
        key = (size, weight)
        if key not in self._props:
            from matplotlib.font_manager import FontProperties

            from mbm_sig.maps.layout import font
            self._props[key] = FontProperties(family=font(), size=size, weight=weight)
        return self._props[key]

    def draw(self, renderer):
        if not self.get_visible() or not self.items:
            return
        from matplotlib import patheffects
        from matplotlib.backends import backend_pdf
        from matplotlib.colors import to_rgba
        pdftext = _pdftext()
        base = getattr(renderer, "_vector_renderer", renderer)      # PDF: inside a MixedModeRenderer
        fast_cls = getattr(pdftext, "FastRendererPdf", ())          # the print-font renderer of our saves
        pdf_fast = isinstance(base, fast_cls) or (isinstance(base, backend_pdf.RendererPdf)
                                                  and backend_pdf.RendererPdf.draw_text is pdftext._draw_text)
        halo_text = _HaloText(self.halo_pt)
        stroke = patheffects.PathEffectRenderer(
            [patheffects.Stroke(linewidth=self.halo_pt, foreground="white")], renderer)
        cw, ch = renderer.get_canvas_width_height()
        sx, sy = cw / self.W, ch / self.H
        gc = renderer.new_gc()
        for x, y, text, size, weight, color, halo, *rest in self.items:
            prop = self._prop(size, weight)
            w = renderer.get_text_width_height_descent(text, prop, ismath=False)[0]
            px = x * sx - w / 2
            base = rest[0] if rest and rest[0] is not None else 0.26 * size * 25.4 / 72
            py = (self.H - (y + base)) * sy       # the baseline the box was measured on
            if renderer.flipy():
                py = ch - py
            if halo:
                gc.set_foreground((1.0, 1.0, 1.0, 1.0), isRGBA=True)
                if pdf_fast:
                    renderer.draw_text(gc, px, py, text, prop, 0.0, ismath=False, mtext=halo_text)
                else:
                    stroke.draw_text(gc, px, py, text, prop, 0.0, ismath=False)
            gc.set_foreground(to_rgba(color), isRGBA=True)
            renderer.draw_text(gc, px, py, text, prop, 0.0, ismath=False)
        gc.restore()
        self.stale = False


def draw(page, placement: Placement, layers) -> tuple[list[dict], list[dict]]:
    """Draw a placement on a page (one :class:`LabelArtist` on ``page.fig``, page mm):
    each label over a white halo when its layer asks for one; labels stay real,
    searchable text in the PDF (the halo is marked as an artifact). Returns (labels,
    unplaced) records for the sheet's render information."""
    records, items = [], []
    for lab in placement.labels:
        L = layers[lab.layer]
        st = L.style or {}
        color = L.colors[lab.index] if L.colors is not None and lab.index >= 0 else st.get("color", "#1a1a1a")
        items.append((lab.x, lab.y, lab.text, lab.size, lab.weight, color, bool(st.get("halo", True)), lab.base))
        records.append(dict(text=lab.text, bbox=lab.bbox, priority=lab.priority, anchor=lab.anchor,
                            around=bool(L.around), size=lab.size, layer=L.name, required=lab.required,
                            over_symbols=lab.over_symbols, weight=lab.weight,
                            offset=float(_per(L.offset, len(L.texts))[lab.index]) if lab.index >= 0 else 0.0))
    if items:
        page.fig.add_artist(LabelArtist(page.W, page.H, items))
    return records, list(placement.unplaced)


def drop_duplicates_of(towns: LabelLayer, layers, within_mm: float = 1.5) -> int:
    """Blank the labels of ``layers`` that repeat a town's name at its place (a layer
    labelling its communes by name): the toponym layer names them once. Returns how many."""
    from mbm_sig.maps.fmt import french_text as ft
    names: dict = {}
    for t, xy in zip(towns.texts, towns.anchors, strict=True):
        if t:
            names.setdefault(ft(str(t)), []).append(xy)
    n = 0
    for L in layers:
        for j, t in enumerate(L.texts):
            if not t:
                continue
            for xy in names.get(ft(str(t)), ()):
                if abs(L.anchors[j, 0] - xy[0]) <= within_mm and abs(L.anchors[j, 1] - xy[1]) <= within_mm:
                    L.texts[j] = ""
                    n += 1
                    break
    return n


def kept_towns(cat):
    """What :func:`cached_towns` keeps on ``cat`` (plain values: the key it was read under and
    the towns), for another process to :func:`keep_towns`; None before the first read."""
    return getattr(cat, "_mbm_towns", None)


def keep_towns(cat, kept) -> None:
    """Keep on ``cat`` the towns another process read (:func:`kept_towns`)."""
    if kept is not None:
        cat._mbm_towns = kept


def cached_towns(cat):
    """:func:`towns` of a catalogue, read once per catalogue object and communes version."""
    key = getattr(cat, "url", None)
    try:
        stamp = cat.last_import("communes")
        stamp = str(stamp.get("imported_at")) if stamp else ""
    except Exception:         # a backend without provenance: read once per object
        stamp = ""
    cache = getattr(cat, "_mbm_towns", None)
    if cache is None or cache[0] != (key, stamp):
        cache = ((key, stamp), towns(cat))
        try:
            cat._mbm_towns = cache
        except AttributeError:
            pass
    return cache[1]
