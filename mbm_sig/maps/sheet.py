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
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch

from mbm_sig.maps import fmt, geom, layout, output
from mbm_sig.maps import types as map_types
from mbm_sig.maps.errors import MapError, check_number
from mbm_sig.maps.labels import place as place_labels
from mbm_sig.maps.layout import LegendBlock, Page
from mbm_sig.maps.solver import AutoLayout, Plan
from mbm_sig.maps.types import NODATA, NODATA_LABEL, STYLE_DEFAULTS, STYLE_KEYS, DrawContext, Layer
from mbm_sig.maps.types._core import drawn_index
from mbm_sig.maps.types.prop import nice_values

PAGES = {"A5": (148.0, 210.0), "A4": (210.0, 297.0), "A3": (297.0, 420.0), "A2": (420.0, 594.0)}
ORIENTATIONS = ("portrait", "landscape", "auto")
AUTO_LANDSCAPE = 1.15     # orientation auto: landscape when the extent is this much wider than tall
PRODUCER = "Mission Bassin Minier"
FRAMES = ("fit", "fixed")
PLACEMENTS = ("around", "center")
LAYOUTS = ("auto", "side", "bottom")



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
        if isinstance(layout, str) and layout not in LAYOUTS:
            raise MapError(f"layout must be auto, side or bottom, not {layout!r}")
        if not isinstance(layout, str) and not hasattr(layout, "plan"):
            raise MapError(f"layout must be auto, side, bottom or a layout object (solver.RowLayout…), not {layout!r}")
        self.frame = frame
        self.layout = layout
        self.page, self._orientation = page, orientation
        self._extent = _bounds(extent) if extent is not None else None
        check_number(margin, "margin", minimum=0, maximum=0.99)
        check_number(simplify_mm, "simplify_mm", minimum=0)
        self.margin = float(margin)
        self.fictive = bool(fictive)
        self.simplify_mm = float(simplify_mm)
        self.background = background
        self._layers: list[Layer] = []
        self._labels: list[dict] = []
        self._title = self._subtitle = None
        self._scalebar = self._arrow = False
        self._inset = None
        self._credits = None
        self._logo = None
        self._basemap = None
        self._legend = True
        self.metadata: dict = {}

    # ---------------------------------------------------------------- layers
    def layer(self, data, type: str = "base", var: str | None = None, **options) -> "Map":
        """Add a layer of map type ``type`` (:mod:`mbm_sig.maps.types`: choro, prop,
        prop_choro, typo, symbols, base…) with that type's ``options`` (``var`` first):
        an option the type does not know, or a value out of range, is a :class:`MapError`."""
        mt = map_types.get(type)
        if var is not None:
            options["var"] = var
        o = mt.resolve(options)
        for name, opt in mt.schema().items():
            v = o.get(name)
            if opt.field and v is not None and (not hasattr(data, "columns") or v not in data.columns):
                raise MapError(f"field {v!r} not in the layer data")
        st = {k: o.get(k, STYLE_DEFAULTS[k]) for k in STYLE_KEYS}
        L = Layer(type=type, geoms=_geoms(data), style=st, fictive=o["fictive"], name=o["name"], source=data)
        self.fictive = self.fictive or o["fictive"]
        mt.prepare(L, data, o)
        L.legend = mt.legend(L, o) if o["legend"] else []
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
        check_number(size, "labels.size", minimum=0, exclusive_min=True)
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
    def symbol_radius(L: Layer):
        """Radius in mm of a layer's point symbols (one per feature for prop layers)."""
        return map_types.get(L.type).symbol_radius(L)

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
        check_number(width_mm, "logo width_mm", minimum=0, exclusive_min=True)
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
        for L in self._layers:
            present = self._drawn_classes(L, clip) if (clip is not None and L.cat_legend) else None
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

    def _drawn_classes(self, L, clip) -> set:
        return set(np.unique(L.classes[drawn_index(L, clip)]).tolist())

    def _plan(self, blocks) -> Plan:
        """Where the frame, legend blocks, inset, credits and title go (:mod:`mbm_sig.maps.solver`)."""
        solver = AutoLayout(self.layout) if isinstance(self.layout, str) else self.layout
        return solver.plan(self, blocks)

    def draw(self, fig: Figure | None = None) -> RenderInfo:
        """Draw the sheet on ``fig`` (a new Figure of the exact page size by default)."""
        with matplotlib.rc_context(output.rc()):
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
        plan = self._plan(blocks)
        ext, clip = self._extent_of(plan.frame)
        for _ in range(2 if filtering else 0):       # legend of what the final extent shows
            again = self._blocks(clip)
            if self._legend_key(again) == self._legend_key(blocks):
                break
            blocks = again
            plan = self._plan(blocks)
            ext, clip = self._extent_of(plan.frame)
        fx0, fy0, fw, fh = frame = plan.frame
        x0, y0, x1, y1 = ext
        m_per_mm = (x1 - x0) / fw
        tol = self.simplify_mm * m_per_mm

        if self._basemap:
            self._draw_basemap(fig, page.frac_rect(fx0, fy0, fw, fh), ext)
        ax = MapFrame(fig, page.frac_rect(fx0, fy0, fw, fh), ext)
        info = RenderInfo(page=self.page, orientation=self.orientation, size_mm=(W, H), frame_mm=frame,
                          extent=ext, scale=m_per_mm * 1000, layout=plan.layout, figure=fig)
        for i, L in enumerate(self._layers):
            info.features[i] = self._draw_layer(ax, L, clip, tol, m_per_mm, info, i)

        def to_mm(xy):
            return np.c_[fx0 + (xy[:, 0] - x0) / m_per_mm, fy0 + (y1 - xy[:, 1]) / m_per_mm]

        obstacles = []
        if self._scalebar:
            obstacles.append(layout.scalebar(page, frame, m_per_mm))
        if self._arrow:
            obstacles.append(layout.north_arrow(page, frame))
        kept_boxes: list = []
        for spec in self._labels:
            kept = place_labels(
                spec["texts"], to_mm(spec["anchors"]), spec["size"], frame, spec["priority"],
                points=spec["points"], obstacles=obstacles, kept_boxes=kept_boxes, weight=spec["weight"],
                around=spec.get("around"), offset=spec.get("offset", 0.8))
            if spec["max_labels"]:
                kept = kept[: spec["max_labels"]]
            # the halo is a stroke-only path under a real text artist: labels stay
            # searchable, selectable text in the PDF (a path effect on the text itself
            # would turn it into outlines)
            halo = [patheffects.Stroke(linewidth=1.6, foreground="white")] if spec["halo"] else None
            for lab in kept:
                if halo:
                    page.text(lab.x, lab.y, lab.text, size=spec["size"], ha="center", va="center_baseline",
                              color="white", weight=spec["weight"], path_effects=halo)
                page.text(lab.x, lab.y, lab.text, size=spec["size"], ha="center", va="center_baseline",
                          color=spec["color"], weight=spec["weight"])
                info.labels.append(dict(text=lab.text, bbox=lab.bbox, priority=lab.priority,
                                        anchor=lab.anchor, around=bool(spec.get("around"))))
        if self.fictive:
            layout.stamp(page, frame)
        page.rect(fx0, fy0, fw, fh, facecolor="none", edgecolor=layout.INK, linewidth=0.6, zorder=5)

        # title and subtitle
        yt = plan.y_title
        if plan.title:
            yt = page.lines(10.0, yt, plan.title, 15, weight="bold", spacing=1.15)
        if plan.subtitle:
            page.lines(10.0, yt + 0.5, plan.subtitle, 9.5, color=layout.GREY)
        info.texts.update(title=self._title, subtitle=self._subtitle)
        for b, bx, by in plan.blocks:
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
        if plan.inset:
            self._draw_inset(fig, page, plan.inset, ext)
            info.boxes["inset"] = tuple(plan.inset)
        cx, cy, lines = plan.credits
        if lines:
            page.lines(cx, cy, lines, 6.0, color=layout.GREY)
            cw = plan.credits_w or max(layout.measure(s, 6.0)[0] for s in lines)
            info.boxes["credits"] = (cx, cy, cw, len(lines) * layout.line_height(6.0))
        info.texts["credits"] = lines
        if self._logo:
            self._draw_logo(fig, page)
        return info

    # ---------------------------------------------------------------- layer drawers
    def _draw_layer(self, ax, L: Layer, clip, tol, m_per_mm, info=None, i=None) -> int:
        return map_types.get(L.type).draw(DrawContext(ax, clip, tol, m_per_mm, info, i), L)

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
        from mbm_sig.maps.output import save_figure
        info = self.draw()
        md = dict(self.metadata)
        md.setdefault("Title", self._title or "")
        md.update(metadata or {})
        save_figure(info.figure, path, fmt=fmt, metadata=md, cmyk=cmyk, dpi=dpi)
        info.path = str(path)
        return info
