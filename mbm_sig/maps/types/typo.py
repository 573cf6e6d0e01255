"""``typo``: typology, areas (or points) coloured by the category of a field."""

from __future__ import annotations

import numpy as np

from mbm_sig.maps import fmt, geom
from mbm_sig.maps.layout import PT_MM, LegendBlock
from mbm_sig.maps.types._core import (
    ALPHA,
    EDGECOLOR,
    HATCH,
    LEGEND_COUNTS,
    LINEWIDTH,
    MARKER,
    NODATA_OPT,
    SIZE,
    DrawContext,
    Layer,
    MapType,
    draw_classed_areas,
    draw_points,
    is_points,
    nodata_entry,
    opt,
)

CATEGORY_OPTIONS = (
    opt("colors", (dict, type(None)), None, "colour of each category {value: colour} (default: the layer "
        "definition's categories, else the palette)"),
    opt("order", (list, type(None)), None, "order of the categories in the legend (default: the field's domain)"),
    opt("palette", (str, list, type(None)), None, "qualitative palette when no colours are given (default Set2)"),
    opt("markers", (dict, type(None)), None, "point symbols: marker of each category {value: marker} — beyond "
        "four colours, categories also differ by shape (default: the layer definition's)"),
    opt("groups", (dict, type(None)), None, "categories drawn, each grouping values of the field {category: "
        "[values]} (in legend order; a value in no group is «Autre ou non renseigné»)"),
    LEGEND_COUNTS,
    NODATA_OPT,
)
HATCH_WHERE = opt("hatch_where", (dict, type(None)), None, "hatch only the features matching {field: value or "
                  "[values]} (an approximation; default: every feature when hatch is set); a legend swatch is "
                  "hatched when all the features of its category are")


class Typo(MapType):
    name = "typo"
    doc = "Typology: each feature coloured by the category of a field; the legend lists the categories drawn."
    options = (opt("var", str, None, "field holding the categories", required=True, field=True),
               *CATEGORY_OPTIONS, EDGECOLOR, LINEWIDTH, ALPHA, HATCH, HATCH_WHERE, MARKER, SIZE)

    def recipe_defaults(self, spec, ld, kw, title_of):
        category_defaults(spec, ld, kw, title_of)

    def prepare(self, L: Layer, data, o: dict) -> None:
        categorise(L, data, o, symbols=False)

    def legend(self, L: Layer, o: dict) -> list:
        return category_legend(L, o)

    def draw(self, ctx: DrawContext, L: Layer) -> int:
        if L.anchors is not None:
            return draw_points(ctx, L)
        return draw_classed_areas(ctx, L)


def category_defaults(spec, ld, kw, title_of) -> None:
    """Recipes: the layer definition's category colours and the field's domain as order."""
    if not spec.get("var"):
        return
    cats = (ld.style or {}).get("categories") or {}
    if kw.get("groups"):            # grouped values: the groups are the categories
        kw.setdefault("order", list(kw["groups"]))
        kw.setdefault("legend_title", title_of(spec["var"]))
        return
    if "colors" not in kw and cats.get("field") == spec["var"]:
        kw["colors"] = cats.get("colors")
        if "markers" not in kw and cats.get("markers"):
            kw["markers"] = cats.get("markers")
    if "order" not in kw:
        try:
            dom = ld.field(spec["var"]).domain
        except KeyError:
            dom = None
        if dom and kw.get("colors"):
            kw["order"] = [v for v in dom if v in kw["colors"]] + [v for v in kw["colors"] if v not in dom]
        elif dom:
            kw["order"] = list(dom)
    kw.setdefault("legend_title", title_of(spec["var"]))


def categorise(L: Layer, data, o: dict, symbols: bool) -> None:
    """Category per feature (-1: not listed) and the colours of the categories present."""
    from mbm_sig.maps.palettes import QUALITATIVE
    from mbm_sig.maps.palettes import colors as palette_colors
    var, order, colors, palette = o["var"], o["order"], o["colors"], o["palette"]
    g = L.geoms
    vals = data[var].astype(object).where(data[var].notna(), None).to_numpy() if var else np.array(
        [None] * len(g), dtype=object)
    if o.get("groups"):
        group_of = {v: k for k, vs in o["groups"].items() for v in (vs if isinstance(vs, (list, tuple)) else [vs])}
        vals = np.array([group_of.get(v) for v in vals], dtype=object)
        order = order or list(o["groups"])
        L.groups = {k: list(vs) if isinstance(vs, (list, tuple)) else [vs] for k, vs in o["groups"].items()}
    values = {v for v in vals if v is not None}
    cats = list(order) if order else (list(colors) if colors else sorted(values, key=fmt.collation_key))
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
    L.colors = [cmap.get(c, o["nodata"]) for c in present]
    markers = o.get("markers") or {}
    L.markers = [markers.get(c) or o.get("marker") or "o" for c in present] if markers else None
    if symbols or is_points(g):
        L.anchors = geom.anchor_points(g)
    if o.get("hatch"):
        L.hatched = np.ones(len(g), dtype=bool)
        for f, v in (o.get("hatch_where") or {}).items():
            L.hatched &= data[f].isin(v if isinstance(v, (list, tuple)) else [v]).to_numpy()
    if o.get("shape_var"):
        shape_categories(L, data, o)
    L.cat_legend = bool(var)
    if not var:
        L.classes = np.zeros(len(g), dtype=int)
        L.colors = [o.get("fill") or "#000000"]


def _on_paper(colour, alpha: float):
    """A colour drawn at ``alpha`` over white paper, as an opaque colour."""
    from matplotlib.colors import to_hex, to_rgb
    try:
        r, g, b = to_rgb(colour)
    except ValueError:
        return colour
    return to_hex((alpha * r + 1 - alpha, alpha * g + 1 - alpha, alpha * b + 1 - alpha))


def shape_categories(L: Layer, data, o: dict) -> None:
    """A second variable on point symbols, their shape (Bertin: colour for one variable, shape
    for another): a marker per feature from ``shapes`` {value: marker} (legend order)."""
    shapes = dict(o.get("shapes") or {})
    col = o["shape_var"]
    vals = data[col].astype(object).where(data[col].notna(), None).to_numpy()
    if not shapes:
        cycle = ("o", "s", "D", "^", "v", "P", "X", "h")
        shapes = {v: cycle[i % len(cycle)] for i, v in enumerate(sorted({v for v in vals if v is not None}, key=str))}
    present = [v for v in shapes if v in set(vals)]
    lookup = {v: i for i, v in enumerate(present)}
    L.shape_classes = np.array([lookup.get(v, -1) for v in vals], dtype=int)
    L.point_markers = np.array([shapes.get(v) or o.get("marker") or "o" for v in vals], dtype=object)
    L.shape_entries = [(str(v), shapes[v]) for v in present]


def shape_legend(L: Layer, o: dict):
    """The legend block of the shapes: hollow symbols in ink, one variable, its own title."""
    from mbm_sig.maps.layout import LegendBlock as LB
    size_mm = (o["size"] or 4.0) * PT_MM
    labels = o.get("shape_labels") or {}
    entries = [(labels.get(v, v), {"marker": mk, "size_mm": size_mm, "fill": "none", "edgecolor": "#333333",
                                   "linewidth": 0.8}) for v, mk in L.shape_entries]
    return LB("symbols", o.get("shape_title") or str(o["shape_var"]), entries=entries, shapes=True)


def category_legend(L: Layer, o: dict) -> list:
    """One block listing the categories (symbols: the map's marker at the map's size)."""
    var, edgecolor, linewidth = o["var"], o["edgecolor"], o["linewidth"]
    kind = "symbols" if L.anchors is not None else "typo"
    sym = None
    if kind == "symbols":     # the legend draws the map's marker at the map's size
        sym = {"marker": o["marker"] or "o", "size_mm": (o["size"] or 4.0) * PT_MM,
               "edgecolor": edgecolor or "#ffffff", "linewidth": linewidth if linewidth is not None else 0.3}
    entries = [(str(c), {**(sym or {}), "fill": col,
                         "edgecolor": edgecolor or ("#ffffff" if kind == "symbols" else "#4d4d4d")})
               for c, col in zip(L.categories, L.colors, strict=False)]
    if o.get("legend_counts"):
        entries = [(f"{c} ({fmt.num(int((L.classes == i).sum()))})", st) for i, (c, st) in enumerate(entries)]
    alpha = o.get("alpha")
    if kind == "typo" and alpha is not None and alpha < 1:
        for _, st in entries:           # the swatch has the colour the map shows on the paper
            st["fill"] = _on_paper(st["fill"], alpha)
    if L.hatched is not None and kind == "typo":      # the swatch shows the map's hatching
        for i, (_, st) in enumerate(entries):
            mine = L.classes == i
            if mine.any() and L.hatched[mine].all():
                st["hatch"] = o["hatch"]
    if getattr(L, "point_markers", None) is not None and sym is not None:
        for _, st in entries:           # colour entries: the colour only (shapes have their own block)
            st.pop("marker", None)
    if sym is not None and getattr(L, "markers", None):
        for (_, st), mk in zip(entries, L.markers, strict=False):
            st["marker"] = mk
    if not var:
        entries = [(o.get("legend_label") or o["legend_title"] or "",
                    {**(sym or {}), "fill": o.get("fill") or "#000000", "edgecolor": edgecolor or "#ffffff"})]
    title = o["legend_title"] if o["legend_title"] is not None else (str(var) if var else "")
    blocks = [LegendBlock(kind, title, entries=entries, sym=sym,
                          nodata=(o["nodata"], nodata_entry("Autre ou non renseigné", L.classes))
                          if (L.classes < 0).any() else None)]
    if getattr(L, "shape_classes", None) is not None and L.shape_entries:
        blocks.append(shape_legend(L, o))
    return blocks


TYPE = Typo()
