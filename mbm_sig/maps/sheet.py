"""The :class:`Map`: one print sheet, built call by call (model: mapsf) and drawn with
matplotlib at an exact ISO page size.

    m = Map(page="A4", orientation="portrait", extent=arrondissement, margin=0.05)
    m.layer(communes, type="choro", var="densite", method="q6", palette="YlOrRd",
            legend_title="Densité (hab./km²)")
    m.layer(arrondissements, type="base", fill="none", edgecolor="#333", linewidth=0.6)
    m.labels(communes, var="nom", priority="population")
    m.title("Densité de population"); m.scalebar(); m.arrow(); m.credits(sources=[...])
    info = m.save("densite.pdf")

Drawing is deferred to :meth:`Map.draw` / :meth:`Map.save` so the frame, the scale and
the legend can be laid out together. The frame fits the extent (``frame="fit"``, QGIS «fit
frame to extent»): its height (or width) shrinks to the extent's aspect within the space
left by the title and the legend column or band (never below ``FRAME_MIN`` of it), and the
legend, inset and credits are placed against the actual frame; ``frame="fixed"`` keeps the
whole available area and pads the extent instead. Legends of ``typo`` and ``symbols`` layers
list only the categories drawn in the sheet's extent, in the layer's order. Labels of point
layers sit beside their symbol (``placement="around"``), polygon labels are centred. Point
symbols are matplotlib markers (``o s D ^ v P X * p h``…) drawn at the same size on the map
and in the legend.

Two layouts (``layout=``): ``side``, the frame on the left and a right-hand column with
the legend blocks, the inset and the credits; ``bottom``, the frame across the full width
and a band under it with the legend blocks side by side in columns, the inset at its right
end and the credits under them. ``auto`` (the default) lays the sheet out both ways and
keeps the one that draws the extent larger while everything fits: a wide extent (the basin,
aspect ~2.4) gets the band even on a landscape sheet, a tall one the column even on a
portrait sheet (``Map._layout``; ``RenderInfo.layout`` says which). In the side column,
titles and entries wrap; when the blocks do not fit above the inset and credits, the legend
text shrinks (down to ``LEGEND_MIN_SCALE``), then long blocks go to two columns. In the band,
long list blocks spread their entries over several columns while that lowers the band, and
the text shrinks when the band would crush the frame. Geometry is filtered to the extent, clipped and
simplified to print resolution (``simplify_mm`` on paper) before it reaches matplotlib,
and each thematic layer becomes a few compound paths.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass, field, replace as dc_replace
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import shapely
from matplotlib import patheffects
from matplotlib.collections import CircleCollection, PathCollection, RegularPolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.transforms import IdentityTransform

from mbm_sig.maps import fmt, fonts, geom, layout
from mbm_sig.maps.classify import assign, classify, normalise_method
from mbm_sig.maps import labels as labels_mod
from mbm_sig.maps.layout import PT_MM, LegendBlock, Page
from mbm_sig.maps.palettes import QUALITATIVE, colors as palette_colors

PAGES = {"A5": (148.0, 210.0), "A4": (210.0, 297.0), "A3": (297.0, 420.0), "A2": (420.0, 594.0)}
ORIENTATIONS = ("portrait", "landscape", "auto")
AUTO_LANDSCAPE = 1.15     # orientation auto: landscape when the extent is this much wider than tall
LAYER_TYPES = ("choro", "prop", "prop_choro", "typo", "symbols", "base")
NODATA = "#d9d9d9"
NODATA_LABEL = "Pas de données"
PRODUCER = "Mission Bassin Minier"
FRAMES = ("fit", "fixed")
FRAME_MIN = 0.4          # a fitted frame keeps at least 40 % of the available height (width)
PLACEMENTS = ("around", "center")
LAYOUTS = ("auto", "side", "bottom")
LAYOUT_BIAS = 1.03       # auto: the orientation's usual layout unless the other one draws 3 % more map
BAND_MIN_FRAME = 0.3     # a bottom band leaves the frame at least 30 % of the height under the title
BAND_COL_W = 45.0        # width of one column of entries when a band block is split in columns
BAND_MAX_COLS = 4

layout.FONT = fonts.ensure()     # reduced DejaVu Sans: fast PDF font subsetting
RC = {
    "pdf.fonttype": 42, "ps.fonttype": 42, "font.family": layout.FONT,
    "svg.hashsalt": "mbm-sig", "svg.fonttype": "path", "pdf.compression": 3,
    "path.simplify": True, "hatch.linewidth": 0.4, "axes.unicode_minus": True,
}


class MapError(ValueError):
    """Invalid map specification (unknown type, missing field…)."""


@dataclass
class RenderInfo:
    """What was drawn: useful to tests, the atlas engine and the CLI."""

    page: str
    orientation: str
    size_mm: tuple[float, float]
    frame_mm: tuple[float, float, float, float]          # x, y (top-left), w, h
    extent: tuple[float, float, float, float]            # ground bbox of the frame
    scale: float                                         # 1 : scale
    labels: list[dict] = field(default_factory=list)      # text, bbox (mm, top-left origin)
    legends: list[dict] = field(default_factory=list)     # per thematic layer
    texts: dict = field(default_factory=dict)            # title, subtitle, credits lines
    features: dict = field(default_factory=dict)          # layer index -> features drawn
    symbols: dict = field(default_factory=dict)           # layer index -> marker, size on the map
    boxes: dict = field(default_factory=dict)             # layout boxes (mm, top-left): inset, credits…
    pages: int = 1
    layout: str = ""                                      # side (legend column) or bottom (band)
    path: str | None = None
    layers: list = field(default_factory=list)            # catalogue layers read (recipes)
    unplaced_labels: list = field(default_factory=list)   # labels with no room: text, layer, required, reason
    figure: Any = None


def _geoms(data) -> np.ndarray:
    if hasattr(data, "geometry"):
        return np.asarray(data.geometry.values, dtype=object)
    if isinstance(data, (list, tuple, np.ndarray)):
        return np.asarray(data, dtype=object)
    return np.asarray([data], dtype=object)


def _bounds(extent) -> tuple[float, float, float, float]:
    if extent is None:
        raise MapError("no extent: give Map(extent=...) or add a layer first")
    if hasattr(extent, "total_bounds"):
        b = extent.total_bounds
    elif hasattr(extent, "bounds") and not isinstance(extent, (tuple, list)):
        b = extent.bounds
    else:
        b = extent
    b = tuple(float(v) for v in b)
    if len(b) != 4 or not all(map(math.isfinite, b)) or b[2] <= b[0] or b[3] <= b[1]:
        raise MapError(f"invalid extent {b!r}: expected (xmin, ymin, xmax, ymax)")
    return b


def fit_extent(bounds, ratio: float, margin: float):
    """Grow ``bounds`` to the frame's aspect ratio (w/h), then scale by 1 + margin."""
    x0, y0, x1, y1 = bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    if w / h < ratio:
        w = h * ratio
    else:
        h = w / ratio
    w, h = w * (1 + margin), h * (1 + margin)
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


LABEL_GAP_MM = 2.6          # two reference labels of a size legend never closer (text height)


def _nodata_entry(label: str, classes) -> str:
    """The missing-values legend entry with its count: «Pas de données (12)»."""
    return f"{label} ({fmt.num(int((np.asarray(classes) < 0).sum()))})"


def nice_values(vmax: float, n: int = 3, scale_max: float | None = None, rmax_mm: float | None = None,
                gap_mm: float = LABEL_GAP_MM) -> list[float]:
    """Reference values for a proportional-symbol legend: the maximum, then round values;
    with ``rmax_mm`` (the radius of ``scale_max``, default ``vmax``), a value is kept only
    when its label (at the top of its circle) clears the previous one by ``gap_mm``."""
    out = [vmax]
    smax = scale_max or vmax
    for f in (0.4, 0.1)[: n - 1]:
        v = layout.nice_length(vmax * f * 1.25)
        if not (v > 0 and v < out[-1] * 0.8):
            continue
        if rmax_mm is not None:
            top = 2 * rmax_mm * math.sqrt(out[-1] / smax)
            if top - 2 * rmax_mm * math.sqrt(v / smax) < gap_mm:
                continue
        out.append(v)
    return out


@dataclass
class _Layer:
    type: str
    geoms: np.ndarray
    style: dict
    values: np.ndarray | None = None
    classes: np.ndarray | None = None          # class index per feature (-1 = no data)
    colors: list | None = None                 # colour per class / category
    breaks: np.ndarray | None = None
    categories: list | None = None
    markers: list | None = None                # symbols: marker per category (None: one marker)
    sizes: np.ndarray | None = None            # symbol radius in points
    anchors: np.ndarray | None = None
    legend: list = field(default_factory=list)  # LegendBlock(s)
    fictive: bool = False
    name: str = ""
    cat_legend: bool = False                   # legend entries are the categories (filterable)
    source: object = field(default=None, compare=False, repr=False)   # its data (labels find their symbols)


_INSET_CACHE: dict = {}


def _inset_path(g, tol):
    """Simplified inset outline, cached by content (the same inset is on every atlas page)."""
    import hashlib
    key = (hashlib.sha1(b"".join(shapely.to_wkb(g))).hexdigest(), round(tol, 1))
    if key not in _INSET_CACHE:
        if len(_INSET_CACHE) > 16:
            _INSET_CACHE.clear()
        (_INSET_CACHE[key],) = geom.polygon_paths(shapely.simplify(g, tol))
    return _INSET_CACHE[key]


class MapFrame:
    """A map frame drawn straight on the Figure (no Axes: cheaper, and exact).

    ``transData`` maps ground coordinates (EPSG:2154 metres) to the page; artists added
    with :meth:`add_artist` are clipped to the frame."""

    def __init__(self, fig, rect_frac, extent):
        from matplotlib.transforms import Affine2D, Bbox, TransformedBbox
        left, bottom, w, h = rect_frac
        x0, y0, x1, y1 = extent
        self.fig = fig
        self.transData = (Affine2D().translate(-x0, -y0).scale(w / (x1 - x0), h / (y1 - y0))
                          .translate(left, bottom) + fig.transFigure)
        # page points (1/72 in) from the bottom-left corner: paths are written to the PDF
        # in points rounded to PRECISION decimals (shorter files, below print resolution)
        wi, hi = fig.get_size_inches()
        self._pt = (x0, y0, w * wi * 72 / (x1 - x0), h * hi * 72 / (y1 - y0), left * wi * 72, bottom * hi * 72)
        self.transPt = Affine2D().scale(1 / 72) + fig.dpi_scale_trans
        self.clip = TransformedBbox(Bbox.from_bounds(left, bottom, w, h), fig.transFigure)

    PRECISION = 2

    def to_points(self, path):
        """The path with its vertices in rounded page points (use with ``transPt``)."""
        from matplotlib.path import Path as _Path
        if path is None:
            return None
        x0, y0, sx, sy, lx, by = self._pt
        v = np.empty_like(path.vertices)
        v[:, 0] = np.round((path.vertices[:, 0] - x0) * sx + lx, self.PRECISION)
        v[:, 1] = np.round((path.vertices[:, 1] - y0) * sy + by, self.PRECISION)
        return _Path(v, path.codes)

    def add_artist(self, artist):
        artist.set_clip_box(self.clip)
        artist.set_clip_on(True)
        self.fig.add_artist(artist)
        return artist

    def add_collection(self, col, autolim=False):
        return self.add_artist(col)


class Map:
    """One map sheet. See the module docstring.

    ``frame``: ``fit`` (the frame takes the extent's aspect) or ``fixed``; ``layout``:
    ``auto``, ``side`` (legend column on the right) or ``bottom`` (legend band under a
    full-width frame)."""

    def __init__(self, page: str = "A4", orientation: str = "portrait", extent=None,
                 margin: float = 0.05, fictive: bool = False, simplify_mm: float = 0.15,
                 background: str = "#ffffff", frame: str = "fit", layout: str = "auto"):
        if page not in PAGES:
            raise MapError(f"unknown page size {page!r}; known sizes: {', '.join(PAGES)}")
        if orientation not in ORIENTATIONS:
            raise MapError(f"orientation must be portrait, landscape or auto, not {orientation!r}")
        if frame not in FRAMES:
            raise MapError(f"frame must be fit or fixed, not {frame!r}")
        if layout not in LAYOUTS:
            raise MapError(f"layout must be auto, side or bottom, not {layout!r}")
        self.frame = frame
        self.layout = layout
        self.page, self._orientation = page, orientation
        self._extent = _bounds(extent) if extent is not None else None
        self.margin = float(margin)
        self.fictive = bool(fictive)
        self.simplify_mm = float(simplify_mm)
        self.background = background
        self._layers: list[_Layer] = []
        self._labels: list[dict] = []
        self._toponyms = None
        self._focus = None
        self._title = self._subtitle = None
        self._scalebar = self._arrow = False
        self._inset = None
        self._credits = None
        self._logo = None
        self._basemap = None
        self._legend = True
        self.metadata: dict = {}

    # ---------------------------------------------------------------- layers
    def layer(self, data, type: str = "base", var: str | None = None, *, var2: str | None = None,
              method: str = "quantile", k: int = 5, breaks=None, palette: str | list = "YlOrRd",
              colors: dict | None = None, nodata: str = NODATA, nodata_label: str = NODATA_LABEL,
              legend: bool = True, legend_title: str | None = None, legend_title2: str | None = None,
              legend_decimals: int | None = None, legend_label: str | None = None,
              inches: float = 0.25, symbol: str = "circle", fill: str | None = None,
              edgecolor: str | None = None, linewidth: float | None = None, linestyle: str = "-",
              alpha: float = 1.0, marker: str = "o", size: float | None = None, hatch: str | None = None,
              order: list | None = None, fictive: bool = False, name: str = "",
              val_max: float | None = None, markers: dict | None = None) -> "Map":
        """Add a layer. ``type``: choro, prop, prop_choro, typo, symbols or base. ``val_max``
        (proportional symbols): the value drawn at the full radius, shared by the sheets of a
        series (as in mapsf); by default the sheet's largest value."""
        if type not in LAYER_TYPES:
            raise MapError(f"unknown layer type {type!r}; known types: {', '.join(LAYER_TYPES)}")
        g = _geoms(data)
        need = {"choro": [var], "prop": [var], "prop_choro": [var, var2], "typo": [var],
                "symbols": [var] if var else []}.get(type, [])
        for v in need:
            if v is None:
                raise MapError(f"layer type {type!r} needs var" + ("/var2" if type == "prop_choro" else ""))
            if not hasattr(data, "columns") or v not in data.columns:
                raise MapError(f"field {v!r} not in the layer data")
        st = dict(fill=fill, edgecolor=edgecolor, linewidth=linewidth, linestyle=linestyle,
                  alpha=alpha, marker=marker, size=size, hatch=hatch)
        L = _Layer(type=type, geoms=g, style=st, fictive=fictive, name=name, source=data)
        self.fictive = self.fictive or fictive

        def classed(values, title):
            vals = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
            m = normalise_method("breaks" if breaks is not None else method)
            b = classify(vals, m, k, breaks)
            cols = list(palette) if isinstance(palette, (list, tuple)) else palette_colors(palette, len(b) - 1)
            if len(cols) != len(b) - 1:
                raise MapError(f"{len(cols)} colours for {len(b) - 1} classes")
            cls = assign(vals, b)
            dec = legend_decimals if legend_decimals is not None else fmt.auto_decimals(b)
            block = LegendBlock("choro", title if title is not None else str(var), breaks=list(b),
                                colors=cols, decimals=dec,
                                nodata=(nodata, _nodata_entry(nodata_label, cls)) if (cls < 0).any() else None)
            return vals, cls, b, cols, block

        if type == "choro":
            L.values, L.classes, L.breaks, L.colors, block = classed(data[var], legend_title)
            L.legend = [block]
        elif type in ("prop", "prop_choro"):
            vals = pd.to_numeric(data[var], errors="coerce").to_numpy(dtype=float)
            vmax = np.nanmax(np.abs(vals)) if np.isfinite(vals).any() else 1.0
            scale = float(val_max) if val_max else vmax
            rmax_pt = inches * 72
            L.values = vals
            L.sizes = rmax_pt * np.sqrt(np.abs(np.nan_to_num(vals)) / scale)
            L.anchors = geom.anchor_points(g)
            fin = vals[np.isfinite(vals)]
            counts = bool(len(fin)) and bool(np.all(np.abs(fin - np.round(fin)) < 1e-9))
            distinct = np.unique(np.abs(fin[fin != 0]))
            if len(distinct) == 1:      # a single value is stated, not drawn as a three-circle scale
                ref = [float(distinct[0])]
            else:
                ref = nice_values(vmax, scale_max=scale, rmax_mm=rmax_pt * PT_MM)
                if counts:
                    ref = list(dict.fromkeys(float(round(v)) for v in ref if round(v) > 0))
            dec = legend_decimals if legend_decimals is not None else (0 if counts or vmax >= 100 else 1)
            entries = [(fmt.num(v, dec), rmax_pt * math.sqrt(v / scale) * PT_MM) for v in ref]
            sym_fill = fill or ("#fdae6b" if type == "prop" else "#ffffff")
            pblock = LegendBlock("prop", legend_title if legend_title is not None else str(var), entries=entries,
                                 colors={"fill": sym_fill if type == "prop" else "#f0f0f0",
                                         "edgecolor": edgecolor or "#ffffff" if type == "prop" else "#636363"})
            if type == "prop":
                pblock.colors["edgecolor"] = "#636363"
            L.style["fill"] = sym_fill
            L.style["symbol"] = symbol
            pblock.symbol = "square" if symbol == "square" else "circle"
            L.legend = [pblock]
            if type == "prop_choro":
                _, L.classes, L.breaks, L.colors, block = classed(data[var2], legend_title2 or str(var2))
                L.legend.append(block)
        elif type in ("typo", "symbols"):
            vals = data[var].astype(object).where(data[var].notna(), None).to_numpy() if var else np.array(
                [None] * len(g), dtype=object)
            cats = list(order) if order else (list(colors) if colors else sorted({v for v in vals if v is not None}, key=str))
            if colors:
                cmap = dict(colors)
            else:
                pal = palette if isinstance(palette, str) and palette in QUALITATIVE else "Set2"
                base = palette_colors(pal, min(max(len(cats), 1), 8))
                cmap = {c: base[i % len(base)] for i, c in enumerate(cats)}
            present = [c for c in cats if c in set(vals)] if var else []
            lookup = {c: i for i, c in enumerate(present)}
            L.classes = np.array([lookup.get(v, -1) for v in vals], dtype=int)
            L.categories = present
            L.colors = [cmap.get(c, nodata) for c in present]
            # point categories beyond four colours: a marker per category too
            L.markers = [(markers or {}).get(c) or marker or "o" for c in present] if markers else None
            if type == "symbols" or shapely.get_type_id(g[:1]).tolist() in ([0], [4]):
                L.anchors = geom.anchor_points(g)
            kind = "symbols" if L.anchors is not None else "typo"
            sym = None
            if kind == "symbols":     # the legend draws the map's marker at the map's size
                sym = {"marker": marker or "o", "size_mm": (size or 4.0) * PT_MM,
                       "edgecolor": edgecolor or "#ffffff", "linewidth": linewidth if linewidth is not None else 0.3}
            entries = [(str(c), {**(sym or {}), "fill": col,
                                 "edgecolor": edgecolor or ("#ffffff" if kind == "symbols" else "#4d4d4d")})
                       for c, col in zip(present, L.colors)]
            if sym is not None and L.markers:
                for (_, st), mk in zip(entries, L.markers):
                    st["marker"] = mk
            L.cat_legend = bool(var)
            if not var:
                entries = [(legend_label or legend_title or "", {**(sym or {}), "fill": fill or "#000000",
                                                                 "edgecolor": edgecolor or "#ffffff"})]
                L.classes = np.zeros(len(g), dtype=int)
                L.colors = [fill or "#000000"]
            L.legend = [LegendBlock(kind, legend_title if legend_title is not None else (str(var) if var else ""),
                                    entries=entries, sym=sym,
                                    nodata=(nodata, _nodata_entry("Autre ou non renseigné", L.classes))
                                    if (L.classes < 0).any() else None)]
        else:  # base
            if legend_label:
                is_pt = shapely.get_type_id(g[:1]).tolist() in ([0], [4])
                is_line = (fill in (None, "none")) and not is_pt
                st = {"fill": fill or "none", "edgecolor": edgecolor or "#333333", "linewidth": linewidth or 0.6,
                      "linestyle": linestyle, "line": is_line, "hatch": hatch, "marker": marker if is_pt else None}
                if is_pt:       # drawn like _draw_points draws them
                    st.update(fill=fill or "#000000", edgecolor=edgecolor or "#ffffff", size_mm=(size or 4.0) * PT_MM,
                              linewidth=linewidth if linewidth is not None else 0.3)
                L.legend = [LegendBlock("base", "", entries=[(legend_label, st)])]
        if not legend:
            L.legend = []
        self._layers.append(L)
        return self

    def labels(self, data, var: str, size: float = 6.0, halo: bool = True, priority: str | None = None,
               color: str = "#1a1a1a", weight: str = "normal", max_labels: int | None = None,
               where_points: bool | None = None, placement: str | None = None, symbol_mm=None) -> "Map":
        """Labels with halo and collision avoidance (lower-priority labels are dropped).

        ``placement``: ``"around"`` puts each label beside its symbol (right, left, above,
        below, diagonals: the first that fits), ``"center"`` on its anchor; by default
        around for point data, centred for polygons. ``symbol_mm``: radius (mm, one number
        or one per feature) of the symbol the label must clear; by default the symbols of
        the layer added from the same data, else 0.8 mm."""
        if not hasattr(data, "columns") or var not in data.columns:
            raise MapError(f"label field {var!r} not in the layer data")
        if priority is not None and priority not in data.columns:
            raise MapError(f"label priority field {priority!r} not in the layer data")
        g = _geoms(data)
        pts = where_points if where_points is not None else bool(len(g)) and bool(
            np.all(np.isin(shapely.get_type_id(g), (0, 4))))
        if placement is None:
            placement = "around" if pts else "center"
        if placement not in PLACEMENTS:
            raise MapError(f"label placement must be around or center, not {placement!r}")
        if symbol_mm is None:
            src = [L for L in self._layers if L.source is data]
            symbol_mm = self.symbol_radius(src[-1]) if src else 0.8
        self._labels.append(dict(around=placement == "around", offset=symbol_mm,
            anchors=geom.anchor_points(g), texts=[("" if v is None or v != v else str(v)) for v in data[var]],
            priority=pd.to_numeric(data[priority], errors="coerce").to_numpy(float) if priority else None,
            size=size, halo=halo, color=color, weight=weight, points=pts, max_labels=max_labels))
        return self

    @staticmethod
    def symbol_radius(L: "_Layer"):
        """Radius in mm of a layer's point symbols (one per feature for prop layers)."""
        if L.type in ("prop", "prop_choro") and L.sizes is not None:
            return L.sizes * PT_MM
        w, h = layout.marker_extent(L.style.get("marker") or "o", (L.style.get("size") or 4.0) * PT_MM)
        return max(w, h) / 2

    # ---------------------------------------------------------------- layout pieces
    def title(self, text: str) -> "Map":
        self._title = text
        return self

    def subtitle(self, text: str) -> "Map":
        self._subtitle = text
        return self

    def legend(self, show: bool = True) -> "Map":
        self._legend = show
        return self

    def scalebar(self, show: bool = True) -> "Map":
        self._scalebar = show
        return self

    def arrow(self, show: bool = True) -> "Map":
        self._arrow = show
        return self

    def toponyms(self, towns, rule=None, keep=None, color: str = "#1a1a1a") -> "Map":
        """Name the towns (the toponym layer, :func:`mbm_sig.maps.labels.towns`): placed
        before every other label, by population, seats first; the ``rule``
        (:class:`~mbm_sig.maps.labels.TownRule`) says which must be named; ``keep``: only
        these INSEE codes (the feature of a coverage sheet)."""
        from mbm_sig.maps.labels import TownRule
        self._toponyms = dict(table=towns, rule=rule or TownRule(), keep=set(keep) if keep is not None else None,
                              color=color)
        return self

    def focus(self, data, alpha: float = 0.7, color: str = "#ffffff") -> "Map":
        """Atlas focus (QGIS's «hide coverage» / inverted polygon): everything outside the
        features of ``data`` is veiled with ``color`` at ``alpha``."""
        g = _geoms(data)
        self._focus = dict(geoms=g, alpha=float(alpha), color=color,
                           union=shapely.union_all(shapely.make_valid(g)))
        return self

    def inset(self, data, fill: str = "#e5e5e5", edgecolor: str = "#7f7f7f", context=None,
              title: str | None = None) -> "Map":
        """Locator map (e.g. the départements of Nord-Pas-de-Calais) with the sheet's extent."""
        self._inset = dict(geoms=_geoms(data), fill=fill, edgecolor=edgecolor,
                           context=_geoms(context) if context is not None else None, title=title)
        return self

    def credits(self, sources=(), notes=(), producer: str = PRODUCER, date=None) -> "Map":
        """Credits block: «Sources : …», free notes, «Réalisation : producer, date»."""
        if isinstance(date, (_dt.date, _dt.datetime)):
            date = fmt.month_year(date)
        self._credits = dict(sources=list(sources), notes=list(notes), producer=producer,
                             date=date if date is not None else fmt.month_year())
        return self

    def basemap(self, source, alpha: float = 1.0) -> "Map":
        """Tile or raster basemap under the layers (contextily): ``source`` is a local
        raster file (GeoTIFF…) or a provider name such as ``"OpenStreetMap.Mapnik"``.
        Without network or file, one line says so and the sheet renders without it."""
        self._basemap = dict(source=source, alpha=alpha)
        return self

    def logo(self, path: str, width_mm: float = 25.0) -> "Map":
        self._logo = dict(path=str(path), width=width_mm)
        return self

    # ---------------------------------------------------------------- page
    @property
    def orientation(self) -> str:
        """The page orientation; ``auto`` follows the extent's shape (an atlas iterating
        over arrondissements gets landscape pages for wide ones, portrait for tall ones)."""
        if self._orientation != "auto":
            return self._orientation
        x0, y0, x1, y1 = self.extent_bounds
        return "landscape" if (x1 - x0) > AUTO_LANDSCAPE * (y1 - y0) else "portrait"

    @property
    def W(self) -> float:
        w, h = PAGES[self.page]
        return w if self.orientation == "portrait" else h

    @property
    def H(self) -> float:
        w, h = PAGES[self.page]
        return h if self.orientation == "portrait" else w

    # ---------------------------------------------------------------- extent
    @property
    def extent_bounds(self):
        if self._extent is not None:
            return self._extent
        for L in self._layers:
            if len(L.geoms):
                return _bounds(shapely.total_bounds(L.geoms))
        raise MapError("no extent: give Map(extent=...) or add a layer first")

    # ---------------------------------------------------------------- drawing
    def _blocks(self, clip=None):
        """Legend blocks: one per thematic layer, then the untitled single entries of base
        and symbol layers (outlines, terrils, puits…) gathered in one last block. With
        ``clip`` (ground bbox), typo and symbols blocks keep only the categories of the
        features drawn in it (in the layer's order); a block left empty is dropped."""
        if not self._legend:
            return []
        blocks, misc = [], []
        focus = self._focus["union"] if self._focus is not None else None
        for L in self._layers:
            present = self._drawn_classes(L, clip, focus) if (clip is not None and L.cat_legend) else None
            for b in L.legend:
                b = dc_replace(b, entries=list(b.entries))
                if present is not None and b.kind in ("typo", "symbols"):
                    b.entries = [e for i, e in enumerate(b.entries) if i in present]
                    if -1 not in present:
                        b.nodata = None
                    if not b.entries and not b.nodata:
                        continue
                if b.kind in ("base", "symbols") and not b.title and len(b.entries) == 1:
                    st = dict(b.entries[0][1])
                    if b.kind == "symbols":
                        st.setdefault("marker", "o")
                    misc.append((b.entries[0][0], st))
                else:
                    blocks.append(b)
        if misc:
            blocks.append(LegendBlock("base", "", entries=misc))
        return blocks

    @staticmethod
    def _drawn_index(L, clip) -> np.ndarray:
        """Indices of the features of a typo / symbols layer drawn in ``clip``."""
        x0, y0, x1, y1 = clip
        if L.anchors is not None:
            xy = L.anchors
            return np.flatnonzero((xy[:, 0] > x0) & (xy[:, 0] < x1) & (xy[:, 1] > y0) & (xy[:, 1] < y1))
        idx = np.flatnonzero(geom.in_extent(L.geoms, clip))
        if len(idx):
            idx = idx[shapely.intersects(L.geoms[idx], shapely.box(*clip))]
        return idx

    def _drawn_classes(self, L, clip, focus=None) -> set:
        """Classes of the features drawn in ``clip``; with an atlas ``focus`` (a geometry), of
        those in the focus only: a neighbour's categories are not listed as the feature's."""
        idx = self._drawn_index(L, clip)
        if focus is not None and len(idx):
            if L.anchors is not None:
                idx = idx[shapely.contains_xy(focus, L.anchors[idx, 0], L.anchors[idx, 1])]
            else:
                idx = idx[shapely.intersects(L.geoms[idx], focus)]
        return set(np.unique(L.classes[idx]).tolist())

    def _fit_frame(self, avail_w, avail_h):
        """Frame size (w, h) in mm: the available area, shrunk in one direction to the
        extent's aspect ratio (``frame="fit"``), never below ``FRAME_MIN`` of it."""
        if self.frame == "fixed" or avail_w <= 0 or avail_h <= 0:
            return avail_w, avail_h
        x0, y0, x1, y1 = self.extent_bounds
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

    def _layout(self, blocks):
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
        not modified: each layout sizes copies, drawn from ``plan["blocks"]``."""
        W, M = self.W, 10.0
        y = M
        title_lines = layout.wrap(fmt.typo(self._title), W - 2 * M, 15, "bold") if self._title else []
        sub_lines = layout.wrap(fmt.typo(self._subtitle), W - 2 * M, 9.5) if self._subtitle else []
        y_title = y
        y += len(title_lines) * layout.line_height(15, 1.15) + len(sub_lines) * layout.line_height(9.5)
        top = y + (3 if (title_lines or sub_lines) else 0)
        usual = "side" if self.orientation == "landscape" else "bottom"
        kinds = [usual, "bottom" if usual == "side" else "side"] if self.layout == "auto" else [self.layout]
        cands = []
        for kind in kinds:
            bl = [dc_replace(b) for b in blocks]
            p = self._side(bl, top) if kind == "side" else self._bottom(bl, top)
            p["layout"] = kind
            cands.append(p)
        if self.layout == "bottom" and not cands[0]["fits"]:
            p = self._side([dc_replace(b) for b in blocks], top)
            p["layout"] = "side"
            cands.append(p)
        plan = cands[0]
        if len(cands) > 1:
            fitting = [p for p in cands if p["fits"]] or cands[:1]
            plan = fitting[0]
            for p in fitting[1:]:
                if self._drawn_area(p["frame"]) > LAYOUT_BIAS * self._drawn_area(plan["frame"]):
                    plan = p
        plan.update(title=title_lines, subtitle=sub_lines, y_title=y_title)
        return plan

    def _drawn_area(self, frame) -> float:
        """Area in mm² the extent covers in a frame (the frame's area when it fits the extent)."""
        fw, fh = frame[2], frame[3]
        x0, y0, x1, y1 = self.extent_bounds
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
        ``BAND_MIN_FRAME`` of the height; ``plan["fits"]`` says whether it does. When the
        fitted frame is narrower than the page, the band is laid out again under the frame
        (same left and right edges) if that keeps 95 % of the frame's drawn area."""
        W, H, M = self.W, self.H, 10.0
        inset_w = 42.0 if self._inset else 0.0
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
        plan = dict(frame=(fx, top, fw, fh), blocks=[], fits=fits)
        plan["blocks"] = [(b, x0 + dx, top + fh + 5 + dy) for b, dx, dy in rows]
        plan["inset"] = (x0 + bw - inset_w, top + fh + 5, inset_w, inset_h) if inset_w else None
        # credits right under the legend band and the inset
        cred_h = len(cred) * layout.line_height(cred_size)
        yc = top + fh + 5 + (above_cred + 4 if above_cred else 0)
        plan["credits"] = (x0, min(yc, H - M - cred_h), cred)
        plan["credits_w"] = bw
        return plan

    def _side(self, blocks, top, cred_size=6.0):
        """The frame on the left, the legend column on its right (two columns of blocks,
        then no inset, when one column cannot hold the legend); the inset and the credits
        at the column's bottom, aligned on the frame's (the credits under the frame when
        the fitted frame leaves room for them there). ``plan["fits"]``: the legend fits."""
        W, H, M = self.W, self.H, 10.0
        col1, gap = 62.0, 6.0
        tries = [(1, True), (2, True), (2, False)] if self._inset else [(1, False), (2, False)]
        for nb, inset in tries:
            col_w = nb * col1 + (nb - 1) * 4.0
            avail_w, avail_h = W - 2 * M - col_w - gap, H - M - top
            fw, fh = self._fit_frame(avail_w, avail_h)
            fx = M + (avail_w - fw) / 2
            plan = dict(frame=(fx, top, fw, fh), blocks=[])
            xc = fx + fw + gap
            # credits under the frame when the fitted frame leaves room for them there
            under = self._credit_lines(fw, cred_size)
            under_h = len(under) * layout.line_height(cred_size)
            if under and H - M - (top + fh + 4) >= under_h:
                cred, cred_h, in_col = under, under_h, False
                plan["credits"], plan["credits_w"] = (fx, top + fh + 4, cred), fw
            else:
                cred = self._credit_lines(col_w, cred_size)
                cred_h, in_col = len(cred) * layout.line_height(cred_size), True
                plan["credits_w"] = col_w
            ih = col1 * 0.85 if inset else 0.0
            bottom_h = ih + (cred_h if in_col else 0) + (4 if ih and in_col and cred else 0)
            room = H - M - top - (bottom_h + 4 if bottom_h else 0)
            pos, legend_h = self._fit_column(blocks, col1, room, nb) if blocks else ([], 0.0)
            if legend_h <= room + 1e-6:
                break
        plan["fits"] = legend_h <= room + 1e-6
        stack = legend_h + (4 + bottom_h if bottom_h else 0)
        bottom = min(H - M, max(top + fh, top + stack))     # column aligned on the frame's bottom
        plan["blocks"] = [(b, xc + dx, top + dy) for b, dx, dy in pos]
        yi = bottom - (cred_h + 4 if in_col and cred else 0) - ih
        plan["inset"] = (xc + col_w - col1, yi, col1, ih) if inset else None
        if in_col:
            plan["credits"] = (xc, bottom - cred_h, cred)
        return plan

    def _credit_lines(self, width, size):
        c = self._credits
        if not c and not self.fictive:
            return []
        c = c or dict(sources=[], notes=[], producer=None, date=None)
        notes = list(c["notes"])
        if self.fictive:
            notes.append("Données fictives, à des fins de démonstration : ne pas diffuser.")
        return layout.credits_lines(c["sources"], notes, c["producer"], c["date"], width, size)

    def draw(self, fig: Figure | None = None) -> RenderInfo:
        """Draw the sheet on ``fig`` (a new Figure of the exact page size by default)."""
        with matplotlib.rc_context(RC):
            return self._draw(fig)

    def _extent_of(self, frame):
        fw, fh = frame[2], frame[3]
        x0, y0, x1, y1 = ext = fit_extent(self.extent_bounds, fw / fh, self.margin)
        pad = 0.01 * (x1 - x0)
        return ext, (x0 - pad, y0 - pad, x1 + pad, y1 + pad)

    @staticmethod
    def _legend_key(blocks):
        return [(b.kind, b.title, tuple(e[0] for e in b.entries), bool(b.nodata)) for b in blocks]

    def _draw(self, fig):
        W, H = self.W, self.H
        if fig is None:
            fig = Figure(figsize=(W / 25.4, H / 25.4), dpi=72)
        fig.patch.set_facecolor(self.background)
        page = Page(fig, W, H)
        filtering = self._legend and any(L.cat_legend for L in self._layers)
        if filtering:       # first guess of the extent: the data's, with its margin
            x0, y0, x1, y1 = self.extent_bounds
            mx, my = (x1 - x0) * self.margin / 2 * 1.02, (y1 - y0) * self.margin / 2 * 1.02
            blocks = self._blocks((x0 - mx, y0 - my, x1 + mx, y1 + my))
        else:
            blocks = self._blocks()
        plan = self._layout(blocks)
        ext, clip = self._extent_of(plan["frame"])
        for _ in range(2 if filtering else 0):       # legend of what the final extent shows
            again = self._blocks(clip)
            if self._legend_key(again) == self._legend_key(blocks):
                break
            blocks = again
            plan = self._layout(blocks)
            ext, clip = self._extent_of(plan["frame"])
        fx0, fy0, fw, fh = frame = plan["frame"]
        x0, y0, x1, y1 = ext
        m_per_mm = (x1 - x0) / fw
        tol = self.simplify_mm * m_per_mm

        if self._basemap:
            self._draw_basemap(fig, page.frac_rect(fx0, fy0, fw, fh), ext)
        ax = MapFrame(fig, page.frac_rect(fx0, fy0, fw, fh), ext)
        info = RenderInfo(page=self.page, orientation=self.orientation, size_mm=(W, H), frame_mm=frame,
                          extent=ext, scale=m_per_mm * 1000, layout=plan.get("layout", ""), figure=fig)
        for i, L in enumerate(self._layers):
            info.features[i] = self._draw_layer(ax, L, clip, tol, m_per_mm, info, i)

        if self._focus is not None:
            _draw_focus(ax, self._focus, clip)

        def to_mm(xy):
            return np.c_[fx0 + (xy[:, 0] - x0) / m_per_mm, fy0 + (y1 - xy[:, 1]) / m_per_mm]

        obstacles = []
        if self._scalebar:
            obstacles.append(layout.scalebar(page, frame, m_per_mm))
        if self._arrow:
            obstacles.append(layout.north_arrow(page, frame))
        placement, layers_ = self._place_labels(frame, ext, clip, to_mm, obstacles)
        info.labels, info.unplaced_labels = labels_mod.draw(page, placement, layers_)
        if self.fictive:
            layout.stamp(page, frame)
        page.rect(fx0, fy0, fw, fh, facecolor="none", edgecolor=layout.INK, linewidth=0.6, zorder=5)

        # title and subtitle
        yt = plan["y_title"]
        if plan["title"]:
            yt = page.lines(10.0, yt, plan["title"], 15, weight="bold", spacing=1.15)
        if plan["subtitle"]:
            page.lines(10.0, yt + 0.5, plan["subtitle"], 9.5, color=layout.GREY)
        info.texts.update(title=self._title, subtitle=self._subtitle)
        for b, bx, by in plan["blocks"]:
            drawn = b.draw(page, bx, by)
            bw, bh = b.size()
            d = dict(kind=b.kind, title=b.title, bbox=(bx, by, bx + bw, by + bh), scale=b.scale, ncols=b.ncols)
            if b.kind == "choro":
                d.update(breaks=[float(v) for v in b.breaks], colors=b.colors, labels=b.break_labels(),
                         nodata=bool(b.nodata))
            else:
                d.update(entries=[e[0] for e in b.entries], nodata=bool(b.nodata))
            if drawn:
                d["symbols"] = [dict(label=lab, marker=mk, width_mm=w, height_mm=h) for lab, mk, w, h in drawn]
            info.legends.append(d)
        if plan.get("inset"):
            self._draw_inset(fig, page, plan["inset"], ext)
            info.boxes["inset"] = tuple(plan["inset"])
        cx, cy, lines = plan["credits"]
        if lines:
            page.lines(cx, cy, lines, 6.0, color=layout.GREY)
            cw = plan.get("credits_w") or max(layout.measure(s, 6.0)[0] for s in lines)
            info.boxes["credits"] = (cx, cy, cw, len(lines) * layout.line_height(6.0))
        info.texts["credits"] = lines
        if self._logo:
            self._draw_logo(fig, page)
        return info

    def _place_labels(self, frame, ext, clip, to_mm, obstacles):
        """One placement of every label of the sheet (maps/labels.py): the towns first (the
        toponym layer, unless the sheet turns it off), then the label layers of the map layers
        by their priority, clear of each other, of the furniture and of every point symbol;
        on a focus sheet only the feature's content is labelled."""
        layers_ = []
        focus = self._focus["union"] if self._focus is not None else None
        for spec in self._labels:
            texts = list(spec["texts"])
            if focus is not None and len(texts):
                a = np.asarray(spec["anchors"], dtype=float)
                inside = shapely.contains_xy(focus, a[:, 0], a[:, 1])
                texts = [t if ok else "" for t, ok in zip(texts, inside)]
            pr = spec["priority"]
            if spec["max_labels"] and pr is not None:
                order = np.argsort(-np.nan_to_num(np.asarray(pr, float), nan=-np.inf), kind="stable")
                for j in order[spec["max_labels"]:]:
                    texts[j] = ""
            layers_.append(labels_mod.LabelLayer(
                texts, to_mm(spec["anchors"]), size=spec["size"], weight=spec["weight"], priority=pr,
                around=bool(spec.get("around")), offset=spec.get("offset", 0.8), name=spec.get("name", ""),
                style=dict(color=spec["color"], halo=spec["halo"])))
        for L in self._layers:
            if L.anchors is None or L.type not in ("symbols", "prop", "prop_choro"):
                continue
            idx = self._drawn_index(L, clip)
            if not len(idx):
                continue
            r = np.broadcast_to(np.asarray(self.symbol_radius(L), dtype=float), (len(L.anchors),))[idx]
            layers_.append(labels_mod.LabelLayer([""] * len(idx), to_mm(L.anchors[idx]), offset=r, symbols=True,
                                                 name=f"symboles {L.type}"))
        if self._toponyms is not None:
            t = self._toponyms
            layers_.insert(0, labels_mod.town_layer_for(t["table"], ext, frame, rule=t["rule"], keep=t["keep"],
                                                        color=t["color"]))
        return labels_mod.place_all(layers_, frame, obstacles=obstacles), layers_

    # ---------------------------------------------------------------- layer drawers
    def _draw_layer(self, ax, L: _Layer, clip, tol, m_per_mm, info=None, i=None) -> int:
        st = L.style
        tid = shapely.get_type_id(L.geoms[:1]).tolist()[:1] if len(L.geoms) else [-1]
        if L.type in ("prop", "prop_choro"):
            return self._draw_prop(ax, L, clip, m_per_mm, info=info, i=i)
        if L.anchors is not None and L.type in ("typo", "symbols"):
            return self._draw_points(ax, L, clip, m_per_mm, info=info, i=i)
        if tid and tid[0] in (0, 4):   # points in a base layer
            L.anchors = geom.anchor_points(L.geoms) if L.anchors is None else L.anchors
            L.classes = np.zeros(len(L.geoms), dtype=int)
            L.colors = [st.get("fill") or "#000000"]
            return self._draw_points(ax, L, clip, m_per_mm, info=info, i=i)
        mask = geom.in_extent(L.geoms, clip)
        g = geom.prepare(L.geoms[mask], clip, tol)
        if L.type in ("choro", "typo"):
            cls = L.classes[mask]
            n = len(L.colors)
            paths = geom.polygon_paths(g, np.where(cls < 0, n, cls), n + 1)
            cols = list(L.colors) + [L.legend[0].nodata[0] if L.legend and L.legend[0].nodata else NODATA]
            lw = st["linewidth"] if st["linewidth"] is not None else 0.1 / PT_MM
            ec = st["edgecolor"] or "#808080"
            for p, c in zip(paths, cols):
                if p is not None:
                    ax.add_artist(PathPatch(ax.to_points(p), facecolor=c, edgecolor=ec, linewidth=lw,
                                            alpha=st["alpha"], transform=ax.transPt, capstyle="round",
                                            joinstyle="round"))
            return int(mask.sum())
        # base
        is_line = tid and tid[0] in (1, 5)
        fill = st["fill"]
        lw = st["linewidth"] if st["linewidth"] is not None else 0.5
        ec = st["edgecolor"] or "#333333"
        if is_line or fill in (None, "none"):
            p = geom.line_path(g)
            if p is not None:
                ax.add_artist(PathPatch(ax.to_points(p), fill=False, edgecolor=ec, linewidth=lw,
                                        linestyle=st["linestyle"], alpha=st["alpha"], transform=ax.transPt,
                                        capstyle="round",
                                        joinstyle="round"))
        else:
            (p,) = geom.polygon_paths(g)
            if p is not None:
                ax.add_artist(PathPatch(ax.to_points(p), facecolor=fill, edgecolor=ec, linewidth=lw,
                                        linestyle=st["linestyle"], alpha=st["alpha"], hatch=st["hatch"],
                                        transform=ax.transPt,
                                        joinstyle="round"))
        return int(mask.sum())

    def _draw_prop(self, ax, L, clip, m_per_mm, info=None, i=None) -> int:
        xy, r = L.anchors, L.sizes
        rmax_m = (r.max() if len(r) else 0) * PT_MM * m_per_mm
        x0, y0, x1, y1 = clip
        keep = ((xy[:, 0] > x0 - rmax_m) & (xy[:, 0] < x1 + rmax_m) & (xy[:, 1] > y0 - rmax_m)
                & (xy[:, 1] < y1 + rmax_m) & np.isfinite(L.values) & (r > 0))
        idx = np.flatnonzero(keep)
        idx = idx[np.argsort(-r[idx], kind="stable")]          # big first: small ones stay on top
        if L.type == "prop_choro":
            cls = L.classes[idx]
            fc = [L.colors[c] if c >= 0 else NODATA for c in cls]
        else:
            fc = L.style["fill"]
        ec = L.style["edgecolor"] or "#ffffff"
        lw = L.style["linewidth"] if L.style["linewidth"] is not None else 0.4
        if L.style.get("symbol") == "square":
            col = RegularPolyCollection(4, rotation=math.pi / 4, sizes=math.pi * 2 * r[idx] ** 2,
                                        offsets=xy[idx], offset_transform=ax.transData)
        else:
            col = CircleCollection(math.pi * r[idx] ** 2, offsets=xy[idx], offset_transform=ax.transData)
        col.set_facecolor(fc)
        col.set_edgecolor(ec)
        col.set_linewidth(lw)
        ax.add_collection(col, autolim=False)
        if info is not None and len(idx):
            d = 2 * r[idx] * PT_MM
            info.symbols[i] = dict(marker="s" if L.style.get("symbol") == "square" else "o",
                                   max_mm=float(d.max()), min_mm=float(d.min()))
        return int(len(idx))

    def _draw_points(self, ax, L, clip, m_per_mm, info=None, i=None) -> int:
        idx = self._drawn_index(L, clip)
        if L.markers:           # one collection per marker
            default = L.style.get("marker") or "o"
            mk = np.array([L.markers[c] if c >= 0 else default for c in L.classes[idx]], dtype=object)
            return sum(self._draw_point_set(ax, L, idx[mk == m], m, info, i) for m in dict.fromkeys(mk.tolist()))
        return self._draw_point_set(ax, L, idx, L.style.get("marker") or "o", info, i)

    def _draw_point_set(self, ax, L, idx, marker, info=None, i=None) -> int:
        cls = L.classes[idx]
        fc = [L.colors[c] if c >= 0 else NODATA for c in cls]
        size = L.style["size"] or 4.0                 # markersize in points
        ec = L.style["edgecolor"] or "#ffffff"
        lw = L.style["linewidth"] if L.style["linewidth"] is not None else 0.3
        if marker == "o":
            col = CircleCollection(np.full(len(idx), math.pi * (size / 2) ** 2), offsets=L.anchors[idx],
                                   offset_transform=ax.transData)
        else:           # same unit path and scale as the legend's (layout.marker_path)
            col = PathCollection([layout.marker_path(marker)], sizes=np.full(len(idx), size ** 2),
                                 offsets=L.anchors[idx], offset_transform=ax.transData)
            col.set_transform(IdentityTransform())     # sizes in points, like scatter()
        if layout.marker_filled(marker):
            col.set_facecolor(fc)
            col.set_edgecolor(ec)
            col.set_linewidth(lw)
        else:           # line markers (+, x, 1…) are drawn in the category's colour
            col.set_facecolor("none")
            col.set_edgecolor(fc)
            col.set_linewidth(max(lw, 0.8))
        ax.add_collection(col, autolim=False)
        if info is not None:
            # the symbol's size on the page, from the collection itself
            if isinstance(col, CircleCollection):
                d = 2 * math.sqrt(col.get_sizes()[0] / math.pi) * PT_MM if len(idx) else size * PT_MM
                w = h = d
            else:
                s_mm = math.sqrt(col.get_sizes()[0]) * PT_MM if len(idx) else size * PT_MM
                e = col.get_paths()[0].get_extents()
                w, h = e.width * s_mm, e.height * s_mm
            info.symbols[i] = dict(marker=marker, width_mm=w, height_mm=h)
        return int(len(idx))

    def _draw_inset(self, fig, page, box, ext):
        x, y, w, h = box
        ins = self._inset
        g = ins["geoms"]
        b = shapely.total_bounds(g)
        ix0, iy0, ix1, iy1 = fit_extent(b, w / h, 0.08)
        tol = 0.2 * (ix1 - ix0) / w
        ax = MapFrame(fig, page.frac_rect(x, y, w, h), (ix0, iy0, ix1, iy1))
        p = _inset_path(g, tol)
        if p is not None:
            ax.add_artist(PathPatch(p, facecolor=ins["fill"], edgecolor=ins["edgecolor"], linewidth=0.4,
                                    transform=ax.transData))
        if ins["context"] is not None:
            lp = geom.line_path(shapely.simplify(ins["context"], tol))
            if lp is not None:
                ax.add_artist(PathPatch(lp, fill=False, edgecolor="#b2182b", linewidth=0.5, linestyle="--",
                                        transform=ax.transData))
        ex0, ey0, ex1, ey1 = ext
        from matplotlib.patches import Rectangle
        ax.add_artist(Rectangle((ex0, ey0), ex1 - ex0, ey1 - ey0, fill=False, edgecolor="#c0392b",
                                linewidth=1.0, transform=ax.transData))
        page.rect(x, y, w, h, facecolor="none", edgecolor=layout.GREY, linewidth=0.4)
        if ins["title"]:
            page.text(x + 1.5, y + h - 1.5, ins["title"], size=5.5, color=layout.GREY)

    def _draw_basemap(self, fig, rect, ext):
        import sys
        src = self._basemap["source"]
        bax = fig.add_axes(rect, zorder=-1)
        bax.set_xlim(ext[0], ext[2])
        bax.set_ylim(ext[1], ext[3])
        bax.set_axis_off()
        try:
            import contextily as cx
            if isinstance(src, str) and not os.path.exists(src) and "." in src and "/" not in src:
                prov = cx.providers
                for part in src.split("."):
                    prov = prov[part]
                src = prov
            elif isinstance(src, str) and not os.path.exists(src):
                raise FileNotFoundError(f"raster {src} not found")
            cx.add_basemap(bax, source=src, crs="EPSG:2154", attribution=False,
                           alpha=self._basemap["alpha"], reset_extent=True)
        except Exception as exc:     # offline, missing file, unknown provider: never fatal
            print(f"mbm-sig: fond de carte indisponible, carte rendue sans ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0][:120] if str(exc) else ''})", file=sys.stderr)
            fig.delaxes(bax)

    def _draw_logo(self, fig, page):
        import matplotlib.image as mpimg
        img = mpimg.imread(self._logo["path"])
        w = self._logo["width"]
        h = w * img.shape[0] / img.shape[1]
        ax = fig.add_axes(page.frac_rect(self.W - 10 - w, 10, w, h))
        ax.imshow(img, interpolation="none")
        ax.set_axis_off()

    # ---------------------------------------------------------------- output
    def save(self, path, fmt: str | None = None, cmyk: bool = False, metadata: dict | None = None,
             dpi: int = 300) -> RenderInfo:
        from mbm_sig.maps.render import save_figure
        info = self.draw()
        md = dict(self.metadata)
        md.setdefault("Title", self._title or "")
        md.update(metadata or {})
        save_figure(info.figure, path, fmt=fmt, metadata=md, cmyk=cmyk, dpi=dpi)
        info.path = str(path)
        return info


def _draw_focus(ax, focus, clip) -> None:
    """Veil what lies outside the focus features: the frame's rectangle minus their union."""
    x0, y0, x1, y1 = clip
    pad = max(x1 - x0, y1 - y0)
    outside = shapely.difference(shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad), focus["union"])
    paths = geom.polygon_paths(np.array([outside]))
    if paths and paths[0] is not None:
        ax.add_artist(PathPatch(ax.to_points(paths[0]), facecolor=focus["color"], edgecolor="none",
                                alpha=focus["alpha"], transform=ax.transPt, zorder=2.5))

