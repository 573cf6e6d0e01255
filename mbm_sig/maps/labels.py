"""Label placement with collision avoidance, in page millimetres.

One placement for every label of a sheet (:func:`place_all`): the label layers of all map
layers and the toponyms are pooled, sorted by tier (towns before thematic labels) and then
by priority within the tier (population for towns), and placed greedily. A label is kept
when its box lies inside the map frame and overlaps neither a kept label, nor an obstacle
(scale bar, north arrow, inset…), nor a point symbol of any layer (except its own). Point
labels (``around=True``, QGIS «around point») sit beside their symbol: right, left,
above, below, then the four diagonals, at ``offset`` (the symbol's radius, mm) plus a small
gap. Polygon labels are centred on a point inside the polygon; a *required* label (a town
the rule says must be named) that does not fit there tries the positions around its anchor,
then smaller sizes down to :data:`MIN_SIZE`, then, as the last resort, a position over
point symbols (never over another label). Nothing is ever printed below :data:`MIN_SIZE`:
smaller requested sizes are raised to it. Labels that could not be placed are returned with
the reason, so the sheet lists them in its render information: a town above the threshold
is never dropped in silence.

:func:`place` is the single-layer form kept for callers that place one layer at a time.
"""

from __future__ import annotations

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
FRAME_GAP = 0.25       # mm more between a label's box and the frame line: the ink never glued to it
# the ink of a line of text as a PDF reader boxes it, from the baseline, in em (cap height
# above, descender below): a label's box holds both this and its own ink
CAP_EM, DESC_EM = 0.72, 0.20

TOWNS_TIER = 2          # towns above thematic labels
THEMATIC_TIER = 1

# town label size (pt) and weight by population, and the marks of seats
TOWN_STYLE = ((100_000, 9.0, "bold"), (50_000, 8.5, "bold"), (20_000, 7.5, "bold"),
              (10_000, 7.0, "normal"), (0, 6.5, "normal"))
SEAT_BONUS = 1e7        # priority added to arrondissement seats (before any other town)


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
    name: str = ""
    style: dict = field(default_factory=dict)  # colour, halo… (for the drawer)

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


def _hits(b, arr: np.ndarray, n: int) -> np.ndarray:
    a = arr[:n]
    return (a[:, 0] < b[2]) & (a[:, 2] > b[0]) & (a[:, 1] < b[3]) & (a[:, 3] > b[1])


def _overlaps(b, boxes: np.ndarray) -> bool:
    if len(boxes) == 0:
        return False
    return bool(np.any((boxes[:, 0] < b[2]) & (boxes[:, 2] > b[0]) & (boxes[:, 1] < b[3]) & (boxes[:, 3] > b[1])))


def around_candidates(x, y, w, h, r, gap=AROUND_GAP):
    """Centres of a w × h label box beside a symbol of radius ``r`` at (x, y), in order."""
    d = r + gap
    out = []
    for sx, sy in AROUND:
        k = 0.7071 if sx and sy else 1.0           # diagonals: on the circle of radius d
        out.append((x + sx * (d * k + w / 2), y + sy * (d * k + h / 2)))
    return out


def shifted_candidates(x, y, w, h):
    """Centres near (x, y) for a centred label that does not fit on its anchor: one and
    two lines up or down, half a label left or right, nearest first (a town name stays on
    or beside its commune)."""
    out = []
    for dy in (0, -1, 1, -2, 2, -3, 3, -4, 4):
        for dx in (0, -0.5, 0.5, -1.0, 1.0, -1.5, 1.5):
            if dx or dy:
                out.append((abs(dy) * h * 1.05 + abs(dx) * w * 0.5, x + dx * w, y + dy * h * 1.05))
    out.sort(key=lambda c: c[0])
    return [(cx, cy) for _, cx, cy in out]


def _per(v, n, dtype=float):
    if isinstance(v, (list, tuple, np.ndarray)):
        a = np.asarray(v, dtype=dtype)
        if len(a) != n:
            raise ValueError(f"{len(a)} values for {n} labels")
        return a
    return np.full(n, v, dtype=dtype if dtype is not object else object)


def place_all(layers, frame, obstacles=(), min_size: float = MIN_SIZE,  # noqa: C901 (one greedy pass; split next)
              pad: float = HALO_PAD) -> Placement:
    """One greedy placement of every label of a sheet.

    ``layers``: :class:`LabelLayer` list; ``frame``: (x, y, w, h) page mm; ``obstacles``:
    (x, y, w, h) boxes in page mm (furniture). Returns a :class:`Placement`."""
    fx0, fy0, fw, fh = frame
    fx1, fy1 = fx0 + fw, fy0 + fh
    # the symbols of every layer that carries some: (box, layer, index)
    sym_boxes, sym_owner = [], []
    for li, L in enumerate(layers):
        if not (L.symbols or L.around) or not len(L.texts):
            continue
        r = np.nan_to_num(_per(L.offset, len(L.texts)), nan=0.0)
        xy = L.anchors
        ok = np.isfinite(xy).all(axis=1)
        for j in map(int, np.flatnonzero(ok)):
            sym_boxes.append((xy[j, 0] - r[j], xy[j, 1] - r[j], xy[j, 0] + r[j], xy[j, 1] + r[j]))
            sym_owner.append((li, j))
    sym = np.array(sym_boxes, dtype=float).reshape(-1, 4)
    owner = {o: k for k, o in enumerate(sym_owner)}

    # every candidate label, ordered by tier, required first, then priority
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
                          float(offs[j]),
                          bool(req[j]), float(pr[j])))
    items.sort(key=lambda it: it[:5])

    obst = np.array([(o[0], o[1], o[0] + o[2], o[1] + o[3]) for o in obstacles], dtype=float).reshape(-1, 4)
    cap = len(items) + 1
    kept_arr = np.empty((cap, 4))
    nk = 0
    out, unplaced = [], []
    for _, _, _, li, k, text, size, weight, off, is_req, prio in items:
        L = layers[li]
        x, y = L.anchors[k]
        if not (np.isfinite(x) and np.isfinite(y)):
            unplaced.append(dict(text=text, layer=L.name, required=is_req, reason="no anchor"))
            continue
        if not (fx0 <= x <= fx1 and fy0 <= y <= fy1):
            continue            # outside the frame: not this sheet's label
        own = owner.get((li, k))
        smaller = [s for s in (size - 1.0, size - 2.0) if s > min_size] + [min_size]
        sizes = [size] + (smaller if is_req and size > min_size else [])
        placed = None
        for strict in ((True, False) if is_req else (True,)):
            for s in sizes:
                w, h, base = label_box(text, s, weight, pad)
                if L.around:
                    cands = around_candidates(x, y, w, h, off)
                else:
                    # clear of symbols: on or just beside the anchor; over symbols (last resort):
                    # anywhere near it, so that a town name never wanders off its commune
                    near = shifted_candidates(x, y, w, h) if is_req else []
                    if strict:      # clear of symbols: only on or just beside its commune
                        near = [(cx, cy) for cx, cy in near if abs(cy - y) <= 3.2 * h and abs(cx - x) <= w]
                    cands = [(x, y)] + near
                for cx, cy in cands:
                    if not L.around:
                        # a centred label near the frame edge slides inside it (up to half its size)
                        g = FRAME_GAP
                        dx = max(fx0 + g - (cx - w / 2), 0.0) - max((cx + w / 2) - (fx1 - g), 0.0)
                        dy = max(fy0 + g - (cy - h / 2), 0.0) - max((cy + h / 2) - (fy1 - g), 0.0)
                        if abs(dx) <= w / 2 and abs(dy) <= h:
                            cx, cy = cx + dx, cy + dy
                    b = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                    if (b[0] < fx0 + FRAME_GAP or b[1] < fy0 + FRAME_GAP or b[2] > fx1 - FRAME_GAP
                            or b[3] > fy1 - FRAME_GAP):
                        continue
                    if nk and _hits(b, kept_arr, nk).any():
                        continue
                    if len(obst) and _overlaps(b, obst):
                        continue
                    if strict and len(sym):
                        hit = _hits(b, sym, len(sym))
                        if own is not None:
                            hit[own] = False
                        if hit.any():
                            continue
                    placed = (cx, cy, w, h, s, base)
                    break
                if placed:
                    break
            if placed:
                over = not strict
                break
        if placed is None:
            unplaced.append(dict(text=text, layer=L.name, required=is_req,
                                 reason="no room inside the frame clear of other labels and furniture"))
            continue
        cx, cy, w, h, s, base = placed
        lab = Label(text, cx, cy, w, h, prio, (float(x), float(y)), size=s, layer=li, required=is_req,
                    over_symbols=over, weight=str(weight), base=base)
        kept_arr[nk] = lab.bbox
        nk += 1
        out.append(lab)
    return Placement(out, unplaced)


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
               rule: TownRule = TownRule(), color: str = "#1a1a1a") -> LabelLayer:
    """The toponym label layer: names sized by population, seats first, the rule's towns
    required."""
    pop = np.nan_to_num(np.asarray(population, dtype=float), nan=0.0)
    n = len(pop)
    seat = np.zeros(n, dtype=bool) if seat is None else np.asarray(seat, dtype=bool)
    req = rule.required(pop, seat, frame_width_km)
    keep = req | (pop >= rule.optional_floor(frame_width_km))
    styles = [town_style(p) for p in pop]
    size = np.array([s for s, _ in styles])
    size = np.where(seat, np.maximum(size, TOWN_STYLE[2][1]), size)
    weight = ["bold" if (w == "bold" or st) else "normal" for (_, w), st in zip(styles, seat, strict=True)]
    texts = [str(t) if k else "" for t, k in zip(names, keep, strict=True)]
    return LabelLayer(texts, anchors_mm, size=size, weight=weight, priority=pop + SEAT_BONUS * seat,
                      tier=TOWNS_TIER, required=req & keep, name="toponymes",
                      style=dict(color=color, halo=True))


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
    x0, y0, x1, y1 = extent
    m = (t["x"] >= x0) & (t["x"] <= x1) & (t["y"] >= y0) & (t["y"] <= y1)
    if keep is not None:
        m &= t["insee"].isin(set(keep))
    return t[m]


def town_layer_for(t, extent, frame, rule: TownRule = TownRule(), keep=None, color: str = "#1a1a1a") -> LabelLayer:
    """The toponym label layer of a sheet: the towns inside ``extent`` drawn in the page
    ``frame`` (x, y, w, h mm), sized by population, seats first, the rule's towns required;
    EPCI villes-centres rank with the seats on local maps."""
    fx0, fy0, fw, fh = frame
    x0, y0, x1, y1 = extent
    sub = towns_in(t, extent, keep)
    mm_per_m = fw / (x1 - x0)
    xy = np.c_[fx0 + (sub["x"].to_numpy() - x0) * mm_per_m, fy0 + (y1 - sub["y"].to_numpy()) * mm_per_m]
    width_km = (x1 - x0) / 1000
    seat = sub["seat"].to_numpy(bool)
    if width_km <= rule.wide_km:
        seat = seat | sub["ville_centre"].to_numpy(bool)
    layer = town_layer(sub["nom"].tolist(), xy, sub["population"].to_numpy(float), seat=seat,
                       frame_width_km=width_km, rule=rule, color=color)
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
        items.append((lab.x, lab.y, lab.text, lab.size, lab.weight, st.get("color", "#1a1a1a"),
                      bool(st.get("halo", True)), lab.base))
        records.append(dict(text=lab.text, bbox=lab.bbox, priority=lab.priority, anchor=lab.anchor,
                            around=bool(L.around), size=lab.size, layer=L.name, required=lab.required,
                            over_symbols=lab.over_symbols))
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
