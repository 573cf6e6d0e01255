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
portrait sheet (:class:`mbm_sig.maps.solver.AutoLayout`; ``RenderInfo.layout`` says which). In the side column,
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

import numpy as np
import pandas as pd
import shapely
from matplotlib.figure import Figure

from mbm_sig.maps import fmt, geom, output
from mbm_sig.maps import types as map_types
from mbm_sig.maps.draw import RenderInfo, legend_blocks, render
from mbm_sig.maps.errors import MapError, check_number
from mbm_sig.maps.furniture import fit_extent
from mbm_sig.maps.layout import LegendBlock
from mbm_sig.maps.solver import AutoLayout, Plan
from mbm_sig.maps.types import NODATA, NODATA_LABEL, STYLE_DEFAULTS, STYLE_KEYS, Layer
from mbm_sig.maps.types.prop import nice_values

__all__ = ["AUTO_LANDSCAPE", "FRAMES", "LAYOUTS", "NODATA", "NODATA_LABEL", "ORIENTATIONS", "PAGES", "PLACEMENTS",
           "PRODUCER", "Map", "MapError", "RenderInfo", "fit_extent", "nice_values"]

PAGES = {"A5": (148.0, 210.0), "A4": (210.0, 297.0), "A3": (297.0, 420.0), "A2": (420.0, 594.0)}
ORIENTATIONS = ("portrait", "landscape", "auto")
AUTO_LANDSCAPE = 1.15     # orientation auto: landscape when the extent is this much wider than tall
PRODUCER = "Mission Bassin Minier"
FRAMES = ("fit", "fixed")
PLACEMENTS = ("around", "center")
LAYOUTS = ("auto", "side", "bottom")


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
        self._title: str | None = None
        self._subtitle: str | None = None
        self._scalebar = self._arrow = False
        self._inset: dict | None = None
        self._credits: dict | None = None
        self._logo: dict | None = None
        self._basemap: dict | None = None
        self._legend = True
        self._toponyms: dict | None = None
        self._focus: dict | None = None
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
        src = [L for L in self._layers if L.source is data]
        if symbol_mm is None:
            symbol_mm = self.symbol_radius(src[-1]) if src else 0.8
        self._labels.append(dict(around=placement == "around", offset=symbol_mm,
            layer=src[-1] if src else None,     # displaced symbols (symbols.displace_mm): labels follow them
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

    def toponyms(self, towns, rule=None, keep=None, color: str = "#1a1a1a", subject=None) -> "Map":
        """Name the towns (the toponym layer, :func:`mbm_sig.maps.labels.towns`): placed
        before every other label, by population, seats first; the ``rule``
        (:class:`~mbm_sig.maps.labels.TownRule`) says which must be named; ``keep``: only
        these INSEE codes (the feature of a coverage sheet); ``subject`` (a shapely
        geometry): the map's subject, outside which towns are context (grey, regular,
        smaller, not required)."""
        from mbm_sig.maps.labels import TownRule
        self._toponyms = dict(table=towns, rule=rule or TownRule(), keep=set(keep) if keep is not None else None,
                              color=color, subject=subject)
        return self

    def focus(self, data, alpha: float = 0.85, color: str = "#f2f2f2") -> "Map":
        """Atlas focus (QGIS's «hide coverage» / inverted polygon): everything outside the
        features of ``data`` is veiled with ``color`` at ``alpha`` (by default a light grey
        that leaves the neighbours' outlines and content faintly grey)."""
        check_number(alpha, "focus alpha", minimum=0, maximum=1)
        g = _geoms(data)
        self._focus = dict(geoms=g, alpha=float(alpha), color=color,
                           union=geom.union_of(g, valid=True))
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

    def _blocks(self, clip=None) -> list[LegendBlock]:
        """The legend blocks (of what ``clip`` shows): :func:`mbm_sig.maps.draw.legend_blocks`."""
        return legend_blocks(self, clip)

    def _plan(self, blocks) -> Plan:
        """Where the frame, legend blocks, inset, credits and title go (:mod:`mbm_sig.maps.solver`)."""
        solver = AutoLayout(self.layout) if isinstance(self.layout, str) else self.layout
        return solver.plan(self, blocks)

    def draw(self, fig: Figure | None = None) -> RenderInfo:
        """Draw the sheet on ``fig`` (a new Figure of the exact page size by default)."""
        with output.print_settings():
            return render(self, fig)

    # ---------------------------------------------------------------- output
    def save(self, path, fmt: str | None = None, cmyk: bool = False, metadata: dict | None = None,
             dpi: int = 300) -> RenderInfo:
        from mbm_sig.maps.output import save_figure
        from mbm_sig.maps.output.save import gc_paused
        md = dict(self.metadata)
        md.setdefault("Title", self._title or "")
        md.update(metadata or {})
        with gc_paused():               # the sheet's short-lived objects: see gc_paused
            info = self.draw()
            save_figure(info.figure, path, fmt=fmt, metadata=md, cmyk=cmyk, dpi=dpi)
        info.path = str(path)
        return info
