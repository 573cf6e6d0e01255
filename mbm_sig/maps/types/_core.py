"""What every map type shares: the option schema (:class:`Option`), the type protocol
(:class:`MapType`), the prepared layer (:class:`Layer`), the drawing context and the
drawing/legend helpers several types use (classed colours, categories, point symbols)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
import shapely
from matplotlib.collections import CircleCollection, Collection, PathCollection
from matplotlib.transforms import IdentityTransform

from mbm_sig.maps import fmt, geom, layout
from mbm_sig.maps.errors import MapError, check_number, map_fail
from mbm_sig.maps.layout import PT_MM, LegendBlock

NODATA = "#d9d9d9"
NODATA_LABEL = "Pas de données"
STYLE_KEYS = ("fill", "edgecolor", "linewidth", "linestyle", "alpha", "marker", "size", "hatch")
STYLE_DEFAULTS = {"fill": None, "edgecolor": None, "linewidth": None, "linestyle": "-", "alpha": 1.0,
                  "marker": "o", "size": None, "hatch": None}

_TYPE_NAMES = {str: "text", bool: "boolean", int: "integer", float: "number", list: "list", dict: "mapping",
               type(None): "null"}


def _accepted(types: tuple) -> tuple:
    """The Python types a value of ``types`` may have: an int where a float is asked, numpy
    numbers, tuples and arrays where a list is, any mapping where a dict is (notebooks)."""
    from collections.abc import Mapping
    out = list(types)
    if float in types:
        out += [int, np.floating, np.integer]
    if int in types:
        out += [np.integer]
    if bool in types:
        out += [np.bool_]
    if list in types:
        out += [tuple, np.ndarray, pd.Index, pd.Series]
    if dict in types:
        out += [Mapping]
    return tuple(out)


@dataclass(frozen=True)
class Option:
    """One option of a map type: a key of a recipe layer and a keyword of :meth:`Map.layer`.

    ``types``: the Python types accepted (an ``int`` is accepted where a float is);
    ``minimum``/``maximum``: bounds of a number (``exclusive_min``: strictly above);
    ``choices``: the accepted values; ``check``: a function returning an error message or
    None; ``style``: the layer definition's ``style:`` gives the default in recipes;
    ``field``: the value names a field of the layer (recipes check it exists)."""

    name: str
    types: tuple = (str,)
    default: Any = None
    doc: str = ""
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_min: bool = False
    choices: tuple | None = None
    check: Callable[[Any], str | None] | None = None
    style: bool = False
    field: bool = False
    recipe: bool = True
    keys: tuple = ()                 # a mapping value: the Options of its keys (unknown keys refused)

    def type_names(self) -> str:
        return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in self.types)

    def validate(self, value, key: str, fail=map_fail):
        """``value``, or the error ``fail(key, message)`` when it is not acceptable."""
        if value is None and not self.required:
            return value
        types = _accepted(self.types)
        if isinstance(value, (bool, np.bool_)) and bool not in self.types:
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            raise fail(key, f"expected {self.type_names()}, not {value!r}")
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) and (
                self.minimum is not None or self.maximum is not None):
            check_number(value, key, minimum=self.minimum, maximum=self.maximum,
                         exclusive_min=self.exclusive_min, fail=fail)
        if self.choices is not None and value not in self.choices:
            raise fail(key, f"must be one of {', '.join(str(c) for c in self.choices if c is not None)}, "
                             f"not {value!r}")
        if self.check is not None:
            msg = self.check(value)
            if msg:
                raise fail(key, msg)
        if self.keys and isinstance(value, dict):
            check_keys(value, self.keys, key, fail)
        return value


def check_keys(doc: dict, options, prefix: str, fail=map_fail) -> None:
    """Check a mapping against its ``options``: an unknown key is refused with its path
    (``prefix.key``), each value is validated, a required key must be there."""
    known = {o.name: o for o in options}
    for k in doc:
        if k not in known:
            raise fail(f"{prefix}.{k}" if prefix else str(k),
                       f"unknown key (known keys: {', '.join(sorted(known))})")
    for name, o in known.items():
        path = f"{prefix}.{name}" if prefix else name
        if name in doc:
            o.validate(doc[name], path, fail)
        elif o.required:
            raise fail(path, "missing key")


def opt(name, types=(str,), default=None, doc="", **kw) -> Option:
    return Option(name, types if isinstance(types, tuple) else (types,), default, doc, **kw)


# options every type has
COMMON = (
    opt("legend", bool, True, "draw the layer's legend block"),
    opt("legend_title", (str, type(None)), None, "title of the legend block (default: the field's title and unit)"),
    opt("fictive", bool, False, "the values are fictive: the sheet is stamped «Données fictives»"),
    opt("name", str, "", "name of the layer (render info)", recipe=False),
)
# style options, shared by several types
FILL = opt("fill", (str, type(None)), None, "fill colour («none»: outline only)", style=True)
EDGECOLOR = opt("edgecolor", (str, type(None)), None, "outline colour", style=True)
LINEWIDTH = opt("linewidth", (float, type(None)), None, "outline width (pt)", minimum=0, style=True)
LINESTYLE = opt("linestyle", str, "-", "outline dash style (- -- : -.)", style=True)
ALPHA = opt("alpha", float, 1.0, "opacity, 0 to 1", minimum=0, maximum=1, style=True)
MARKER = opt("marker", str, "o", "point symbol: a matplotlib marker (o s D ^ v P X * p h…)", style=True)
SIZE = opt("size", (float, type(None)), None, "point symbol size (pt, default 4)", minimum=0,
           exclusive_min=True, style=True)
HATCH = opt("hatch", (str, type(None)), None, "hatch pattern (/, \\\\, x, .…)", style=True)
NODATA_OPT = opt("nodata", str, NODATA, "colour of features without a value")
NODATA_LABEL_OPT = opt("nodata_label", str, NODATA_LABEL, "legend label of features without a value")
LEGEND_DECIMALS = opt("legend_decimals", (int, type(None)), None, "decimals of the legend's numbers",
                      minimum=0)
LEGEND_LABEL = opt("legend_label", (str, type(None)), None, "label of the layer's single legend entry")


def _method_check(value) -> str | None:
    from mbm_sig.maps.classify import ALIASES, METHODS
    if str(value).lower() in METHODS or str(value).lower() in ALIASES:
        return None
    return f"unknown classification method {value!r}; known methods: {', '.join(METHODS)}"


def _palette_check(value) -> str | None:
    from mbm_sig.maps.palettes import PALETTES, is_palette
    if isinstance(value, (list, tuple, np.ndarray)) or is_palette(value):
        return None
    return f"unknown palette {value!r}; known palettes: {', '.join(PALETTES)}"


def _breaks_check(value) -> str | None:
    if len(value) < 2 or not all(isinstance(b, (int, float, np.integer, np.floating))
                                 and not isinstance(b, (bool, np.bool_)) for b in value):
        return "expected a list of at least two numbers"
    return None


OUTLIERS = (
    opt("above", float, None, "values above this are outliers", required=True),
    opt("label", (str, type(None)), None, "field naming each outlier in the legend (e.g. nom)"),
    opt("color", (str, type(None)), None, "colour of the outliers (default: the top class's, darkened)"),
)
LEGEND_COUNTS = opt("legend_counts", bool, False, "print the number of features of each class or category "
                    "in the legend")

CLASSED = (
    opt("method", str, "quantile", "classification method (see mbm_sig.maps.classify)", check=_method_check),
    opt("k", int, 5, "number of classes", minimum=2),
    opt("breaks", (list, type(None)), None, "class breaks (replace the method); a last break above the data's "
        "maximum is clipped to it", check=_breaks_check),
    opt("palette", (str, list), "YlOrRd", "ColorBrewer palette name, or a list of colours", check=_palette_check),
    opt("outliers", (dict, type(None)), None, "values above a threshold kept out of the classes: their own "
        "colour and legend entry naming them {above, label, color} (one outlier never owns the top class)",
        keys=OUTLIERS),
    opt("clip_breaks", bool, True, "a last given break above the data's maximum is clipped to it (false: the "
        "breaks kept as given, as a series shares them)"),
    LEGEND_COUNTS,
    NODATA_OPT, NODATA_LABEL_OPT,
)


@dataclass
class Layer:
    """A layer prepared for drawing: its geometry, per-feature classes and sizes, colours,
    legend blocks."""

    type: str
    geoms: np.ndarray
    style: dict
    values: np.ndarray | None = None
    classes: np.ndarray | None = None          # class index per feature (-1 = no data)
    colors: list | None = None                 # colour per class / category
    breaks: np.ndarray | None = None
    categories: list | None = None
    sizes: np.ndarray | None = None            # symbol radius in points
    anchors: np.ndarray | None = None
    legend: list = field(default_factory=list)  # LegendBlock(s)
    fictive: bool = False
    name: str = ""
    cat_legend: bool = False                   # legend entries are the categories (filterable)
    source: object = field(default=None, compare=False, repr=False)   # its data (labels find their symbols)
    vmax: float | None = None                  # proportional symbols: the largest absolute value
    scale_max: float | None = None             # proportional symbols: the value drawn at the full radius
    markers: list | None = None                # symbols: marker per category (None: the layer's one marker)
    hatched: np.ndarray | None = None          # typo: features drawn hatched (an approximation)
    displace: tuple | None = None              # symbols: (ring mm, drawn places) of the point displacement
    point_markers: np.ndarray | None = None    # symbols with a shape variable: marker per feature
    shape_classes: np.ndarray | None = None    # … and its category per feature (-1: none)
    shape_entries: list | None = None          # … and the (value, marker) of its legend
    groups: dict | None = None                 # typo/symbols: the field's values grouped {category: [values]}


@dataclass
class DrawContext:
    """Where a layer is drawn: the map frame, the ground clip box, the simplification
    tolerance (m), the scale (m per mm on paper), and the render info to fill."""

    ax: Any
    clip: tuple
    tol: float
    m_per_mm: float
    info: Any = None
    index: int | None = None


class MapType:
    """A map type: its option schema, data preparation, drawing and legend.

    A new type is one module of :mod:`mbm_sig.maps.types` defining ``TYPE = MyType()``;
    the registry finds it, :meth:`Map.layer` and recipes accept its name and options, and
    ``docs/recipes.md`` lists them (``python -m mbm_sig.maps.recipe.docs``)."""

    name: str = ""
    doc: str = ""
    options: tuple[Option, ...] = ()            # besides COMMON
    numeric_vars: tuple[str, ...] = ()          # options naming numeric fields (recipes check they hold values)

    # ---------------------------------------------------------------- schema
    def schema(self) -> dict[str, Option]:
        out = {o.name: o for o in COMMON}
        out.update({o.name: o for o in self.options})
        return out

    def resolve(self, given: dict, fail=map_fail, prefix: str = "") -> dict:
        """The options with their defaults, each checked (errors name ``prefix`` + the
        option); an unknown option is refused."""
        sch = self.schema()
        for k in given:
            if k not in sch:
                raise fail(prefix + k, f"unknown option of layer type {self.name!r} "
                           f"(known: {', '.join(sorted(sch))})")
        out = {k: o.default for k, o in sch.items()}
        for k, v in given.items():
            out[k] = sch[k].validate(v, prefix + k, fail)
        for k, o in sch.items():
            if o.required and out.get(k) is None:
                raise fail(prefix + k, f"layer type {self.name!r} needs {k}")
        return out

    # ---------------------------------------------------------------- recipes
    def recipe_defaults(self, spec: dict, ld, kw: dict, title_of: Callable[[str], str]) -> None:
        """Fill ``kw`` (the options a recipe layer gives) with defaults taken from the layer
        definition ``ld`` (field titles, category colours…). Types override it."""

    def check_recipe(self, spec: dict, fail, key: str) -> None:
        """Checks of a recipe layer across its options (``fail(key_path, message)``)."""

    def labels_on_points(self, layer: Layer) -> bool | None:
        """Whether labels of this layer sit beside point symbols (None: from the geometry)."""
        return None

    # ---------------------------------------------------------------- drawing
    def prepare(self, L: Layer, data, o: dict) -> None:
        """Per-feature values, classes, colours, sizes of the layer (no legend)."""

    def legend(self, L: Layer, o: dict) -> list:
        """The layer's legend blocks."""
        return []

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        """Draw the layer in ``ctx``; returns the number of features drawn."""
        raise NotImplementedError

    def symbol_radius(self, L: Layer):
        """Radius in mm of the layer's point symbols (one number, or one per feature)."""
        w, h = layout.marker_extent(L.style.get("marker") or "o", (L.style.get("size") or 4.0) * PT_MM)
        return max(w, h) / 2


# ------------------------------------------------------------------------------ helpers

def nodata_entry(label: str, classes) -> str:
    """The missing-values legend entry with its count: «Pas de données (12)»."""
    from mbm_sig.maps import fmt
    n = int((np.asarray(classes) < 0).sum())
    return f"{label} ({fmt.num(n)})"


def is_points(g) -> bool:
    """The first geometry is a point or multipoint (how a layer's kind is told)."""
    return shapely.get_type_id(g[:1]).tolist() in ([0], [4])


def classed(values, o: dict, title, names=None):
    """Classes of numeric ``values`` by the options (method, k, breaks, palette, outliers):
    values, class per value, breaks, colours, and the legend block titled ``title``.

    Given breaks whose last one lies above the data's maximum end at the maximum (the top
    class says what the map holds; the number of classes and the colours stay those given,
    as a series wants). Whole-number values (counts) get whole-number bounds. Outliers
    (``outliers.above``) are classed apart: the last class index, their own colour and a
    legend entry naming them (``names``: a label per value)."""
    from mbm_sig.maps.classify import assign, classify, normalise_method
    from mbm_sig.maps.palettes import colors as palette_colors
    breaks, palette = o["breaks"], o["palette"]
    vals = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    ov = o.get("outliers")
    out = np.isfinite(vals) & (vals > float(ov["above"])) if ov else np.zeros(len(vals), dtype=bool)
    inner = np.where(out, np.nan, vals)
    m = normalise_method("breaks" if breaks is not None else o["method"])
    b = classify(inner, m, o["k"], breaks)
    finite = inner[np.isfinite(inner)]
    if (breaks is not None and o.get("clip_breaks", True) and len(finite) and len(b) > 2
            and b[-2] < finite.max() < b[-1]):
        b[-1] = float(finite.max())              # the top class ends at the data's maximum
    counts = whole(finite)
    if counts and m != "breaks":
        r = np.unique(np.round(b))
        if len(r) == len(b):
            b = r
    cols = list(palette) if isinstance(palette, (list, tuple)) else palette_colors(palette, len(b) - 1)
    if len(cols) != len(b) - 1:
        raise MapError(f"{len(cols)} colours for {len(b) - 1} classes")
    cls = assign(inner, b)
    dec = o["legend_decimals"] if o["legend_decimals"] is not None else (0 if counts and whole(b)
                                                                         else fmt.auto_decimals(b))
    block = LegendBlock("choro", title, breaks=list(b), colors=cols, decimals=dec,
                        nodata=(o["nodata"], nodata_entry(o["nodata_label"], np.where(out, 0, cls)))
                        if ((cls < 0) & ~out).any() else None)
    if o.get("legend_counts"):
        block.counts = [int((cls == i).sum()) for i in range(len(cols))]
    if out.any():
        oc = (ov.get("color") if ov else None) or _darker(cols[-1])
        idx = np.flatnonzero(out)
        idx = idx[np.argsort(-vals[idx], kind="stable")]
        named = ", ".join(f"{names[i]} ({fmt.num(vals[i], 0 if counts else dec)})" if names is not None
                          else fmt.num(vals[i], 0 if counts else dec) for i in idx)
        block.extra = [(f"Valeur{'s' if len(idx) > 1 else ''} atypique{'s' if len(idx) > 1 else ''} : {named}",
                        oc)]
        cls = np.where(out, len(cols), cls)
        cols = cols + [oc]
    return vals, cls, b, cols, block


def whole(values) -> bool:
    """True when every finite value is a whole number (a count)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(len(v)) and bool(np.all(np.abs(v - np.round(v)) < 1e-9))


def _darker(colour: str, k: float = 0.4) -> str:
    from matplotlib.colors import to_hex, to_rgb
    r, g, b = to_rgb(colour)
    return to_hex((r * k, g * k, b * k))


def classed_defaults(spec: dict, kw: dict) -> None:
    """Recipes: ``method: q6`` means six classes."""
    if str(spec.get("method", "")).lower() == "q6":
        kw["k"] = 6


def check_palette_classes(spec: dict, fail, key: str) -> None:
    """A palette has a number of classes: ``k`` above it is refused with its key path."""
    from mbm_sig.maps.palettes import class_range, is_palette
    if "k" not in spec:
        return
    pal = spec.get("palette", "YlOrRd")
    if isinstance(pal, str) and is_palette(pal):
        lo, hi = class_range(pal)
        if spec["k"] > hi:
            raise fail(f"{key}.k", f"palette {pal!r} has at most {hi} classes, not {spec['k']}")


def drawn_index(L: Layer, clip) -> np.ndarray:
    """Indices of the features of a layer drawn in ``clip`` (ground bbox)."""
    x0, y0, x1, y1 = clip
    if L.anchors is not None:
        xy = L.anchors
        return np.flatnonzero((xy[:, 0] > x0) & (xy[:, 0] < x1) & (xy[:, 1] > y0) & (xy[:, 1] < y1))
    idx = np.flatnonzero(geom.in_extent(L.geoms, clip))
    if len(idx):
        idx = idx[shapely.intersects(L.geoms[idx], shapely.box(*clip))]
    return idx


def draw_points(ctx: DrawContext, L: Layer) -> int:
    """Point symbols of a layer, coloured by class, the same marker and size as its legend;
    with a marker per category, one collection per marker."""
    idx = drawn_index(L, ctx.clip)
    if L.point_markers is not None or getattr(L, "markers", None):
        default = L.style.get("marker") or "o"
        mk = (np.asarray(L.point_markers, dtype=object)[idx] if L.point_markers is not None else
              np.array([L.markers[c] if c >= 0 else default for c in L.classes[idx]], dtype=object))
        n = 0
        for m in dict.fromkeys(mk.tolist()):
            n += _draw_point_set(ctx, L, idx[mk == m], m)
        return n
    return _draw_point_set(ctx, L, idx, L.style.get("marker") or "o")


def _draw_point_set(ctx: DrawContext, L: Layer, idx, marker) -> int:
    ax = ctx.ax
    cls = L.classes[idx]
    fc = [L.colors[c] if c >= 0 else NODATA for c in cls]
    size = L.style["size"] or 4.0                 # markersize in points
    ec = L.style["edgecolor"] or "#ffffff"
    lw = L.style["linewidth"] if L.style["linewidth"] is not None else 0.3
    col: Collection
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
    if ctx.info is not None:
        # the symbol's size on the page, from the collection itself
        if isinstance(col, CircleCollection):
            d = 2 * math.sqrt(col.get_sizes()[0] / math.pi) * PT_MM if len(idx) else size * PT_MM
            w = h = d
        else:
            s_mm = math.sqrt(col.get_sizes()[0]) * PT_MM if len(idx) else size * PT_MM
            e = col.get_paths()[0].get_extents()
            w, h = e.width * s_mm, e.height * s_mm
        ctx.info.symbols[ctx.index] = dict(marker=marker, width_mm=w, height_mm=h)
    return int(len(idx))


def draw_base_points(ctx: DrawContext, L: Layer) -> int:
    """Points of a layer without classes: one symbol in the fill colour."""
    L.anchors = geom.anchor_points(L.geoms) if L.anchors is None else L.anchors
    L.classes = np.zeros(len(L.geoms), dtype=int)
    L.colors = [L.style.get("fill") or "#000000"]
    return draw_points(ctx, L)


def draw_classed_areas(ctx: DrawContext, L: Layer) -> int:
    """Polygons filled by class: one compound path per class (and one for no data)."""
    ax, st = ctx.ax, L.style
    mask = geom.in_extent(L.geoms, ctx.clip)
    rings = geom.area_rings(L.geoms, mask, ctx.clip, ctx.tol, ctx.m_per_mm)
    n = len(L.colors)
    group = np.where(L.classes < 0, n, L.classes)
    paths = geom.group_paths(rings, group, n + 1)
    cols = list(L.colors) + [L.legend[0].nodata[0] if L.legend and L.legend[0].nodata else NODATA]
    lw = st["linewidth"] if st["linewidth"] is not None else 0.1 / PT_MM
    ec = st["edgecolor"] or "#808080"
    hatch = st.get("hatch")
    if hatch and L.hatched is not None and L.hatched[mask].any():
        # the hatched features (an approximation) in a second set of paths, per class
        paths = geom.group_paths(rings, group + np.where(L.hatched, n + 1, 0), 2 * (n + 1))
        cols = cols + cols
    for i, (p, c) in enumerate(zip(paths, cols, strict=False)):
        if p is not None:
            ax.draw_path(p, facecolor=c, edgecolor=ec, linewidth=lw, alpha=st["alpha"], capstyle="round",
                         joinstyle="round", hatch=hatch if i > n else None)
    return int(mask.sum())


def type_id(L: Layer) -> list:
    return shapely.get_type_id(L.geoms[:1]).tolist()[:1] if len(L.geoms) else [-1]
