"""QGIS symbology (QML renderers and SLD rules) from the print styles.

One small intermediate form serves both outputs: a :class:`Style` is a renderer kind
(``single``, ``categorized``, ``graduated``, ``proportional``) over a list of
:class:`Symbol` with their value, range or label. It is made from a layer's YAML style
(:func:`layer_style`, the layer's default look, interpreted as the map sheets interpret it:
``mbm_sig.maps.sheet``) or from a prepared map layer of a recipe (:func:`map_layer_style`,
which carries the classes, breaks and ColorBrewer colours the sheet computed).

Units: the YAML and the sheets give line widths and marker sizes in typographic points
(matplotlib's units); QGIS gets millimetres (1 pt = 25.4/72 mm).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from xml.sax.saxutils import escape, quoteattr

PT_MM = 25.4 / 72
NODATA = "#d9d9d9"           # mbm_sig.maps.sheet.NODATA: no data / other value
OTHER_LABEL = "Autre ou non renseigné"
DASHES = {"-": "solid", "solid": "solid", "--": "dash", "dashed": "dash", ":": "dot", "dotted": "dot",
          "-.": "dash dot", "dashdot": "dash dot"}
SLD_DASHES = {"dash": "4 2", "dot": "1 2", "dash dot": "4 2 1 2"}
MARKERS = {"o": "circle", "s": "square", "D": "diamond", "d": "diamond", "^": "triangle",
           "v": "triangle", "*": "star", "p": "pentagon", "h": "hexagon", "+": "cross", "x": "cross2"}
SLD_MARKERS = {"circle": "circle", "square": "square", "diamond": "square", "triangle": "triangle",
               "star": "star", "pentagon": "circle", "hexagon": "circle", "cross": "cross", "cross2": "x"}
GEOMETRY_KIND = {"Point": "marker", "MultiPoint": "marker", "LineString": "line",
                 "MultiLineString": "line", "Polygon": "fill", "MultiPolygon": "fill"}
#: QgsWkbTypes::GeometryType as written in QML, and its display name (layer_styles.type)
GEOMETRY_TYPE_ID = {"marker": 0, "line": 1, "fill": 2}
GEOMETRY_TYPE_NAME = {"marker": "Point", "line": "Line", "fill": "Polygon"}


@dataclass(frozen=True)
class Symbol:
    kind: str                       # marker, line, fill
    fill: str | None = None         # None or "none": no fill
    edge: str | None = "#333333"    # None: no outline
    width_mm: float = 0.26          # line width / outline width
    dash: str = "solid"
    alpha: float = 1.0
    marker: str = "circle"
    size_mm: float = 2.0            # marker diameter


@dataclass
class Item:
    symbol: Symbol
    label: str = ""
    value: object = None            # categorized: the value ("" = every other value)
    lower: float | None = None      # graduated: the class bounds
    upper: float | None = None


@dataclass
class Style:
    kind: str                       # single, categorized, graduated, proportional
    geometry: str                   # marker, line, fill
    items: list[Item] = field(default_factory=list)
    attr: str | None = None         # field name or QGIS expression
    # proportional symbols: marker size = max_size_mm * sqrt(|attr| / max_value)
    max_value: float | None = None
    max_size_mm: float | None = None
    size_attr: str | None = None
    size_legend: list = field(default_factory=list)   # proportional: [(value, label)] of the size legend
    size_legend_title: str = ""
    layer_geometry: str | None = None   # the layer's geometry kind when symbols differ (markers on polygons)


# -------------------------------------------------------------------------- colours

def to_rgba(color) -> tuple[float, float, float, float]:
    """(r, g, b, a) in 0..1 of "#rgb", "#rrggbb", "#rrggbbaa" (the YAML's colours), else of
    a matplotlib colour name (matplotlib imported only then: writes stay light)."""
    c = str(color).strip()
    if c.startswith("#") and len(c) in (4, 7, 9):
        h = c[1:] if len(c) != 4 else "".join(ch * 2 for ch in c[1:])
        try:
            vals = [int(h[i:i + 2], 16) / 255 for i in range(0, len(h), 2)]
        except ValueError:
            vals = None
        if vals is not None:
            return tuple(vals + [1.0] * (4 - len(vals)))
    from matplotlib.colors import to_rgba as mpl_rgba
    return mpl_rgba(color)


def rgba(color, alpha: float = 1.0) -> str:
    """QGIS colour string "r,g,b,a" (0-255)."""
    r, g, b, a = to_rgba(color)
    return ",".join(str(int(round(v * 255))) for v in (r, g, b, a * alpha))


def hexcolor(color) -> str:
    r, g, b, _ = to_rgba(color)
    return "#%02x%02x%02x" % tuple(int(round(v * 255)) for v in (r, g, b))


def _no(color) -> bool:
    return color is None or str(color).lower() == "none"


def _mm(points) -> float:
    return round(float(points) * PT_MM, 4)


# -------------------------------------------------------------------------- from YAML / maps

def geometry_kind(geometry: str) -> str:
    try:
        return GEOMETRY_KIND[geometry]
    except KeyError:
        raise ValueError(f"geometry {geometry!r} has no single QGIS symbol type "
                         "(one geometry type per layer)") from None


def base_symbol(kind: str, st: dict) -> Symbol:
    """The symbol the sheets draw for a base layer with style ``st`` (``sheet._draw_layer``
    and ``_draw_points``, defaults included)."""
    alpha = float(st.get("alpha", 1.0) if st.get("alpha") is not None else 1.0)
    dash = DASHES.get(str(st.get("linestyle") or "-"), "solid")
    if kind == "marker":
        fill = st.get("fill") if not _no(st.get("fill")) else None
        fill = st.get("color") or fill or "#000000"
        lw = st.get("linewidth")
        return Symbol("marker", fill=fill, edge=st.get("edgecolor") or "#ffffff",
                      width_mm=_mm(0.3 if lw is None else lw), alpha=alpha,
                      marker=MARKERS.get(str(st.get("marker") or "o"), "circle"),
                      size_mm=_mm(st.get("size") or 4.0))
    lw = st.get("linewidth")
    if kind == "line":
        return Symbol("line", fill=None, edge=st.get("color") or st.get("edgecolor") or "#333333",
                      width_mm=_mm(0.5 if lw is None else lw), dash=dash, alpha=alpha)
    fill = None if _no(st.get("fill")) else st.get("fill")
    return Symbol("fill", fill=fill, edge=st.get("edgecolor") or "#333333",
                  width_mm=_mm(0.5 if lw is None else lw), dash=dash, alpha=alpha)


def category_order(values, domain) -> list:
    """Categories in the order the recipes use: the field's domain first, then the rest."""
    values = list(values)
    if not domain:
        return values
    return [v for v in domain if v in values] + [v for v in values if v not in domain]


def layer_style(ld) -> Style:
    """A layer's default QGIS style from its YAML ``style`` (categories included)."""
    kind = geometry_kind(ld.geometry)
    st = dict(ld.style or {})
    base = base_symbol(kind, st)
    cats = st.get("categories") or {}
    if not cats or not cats.get("colors"):
        return Style("single", kind, [Item(base, label=ld.title)])
    fieldname = cats["field"]
    try:
        domain = ld.field(fieldname).domain
    except KeyError:
        domain = None
    colors = dict(cats["colors"])
    items = []
    for v in category_order(colors, domain):
        sym = replace(base, edge=colors[v], fill=None) if kind == "line" else replace(base, fill=colors[v])
        items.append(Item(sym, label=str(v), value=v))
    other = replace(base, edge=NODATA, fill=None) if kind == "line" else replace(base, fill=NODATA)
    items.append(Item(other, label=OTHER_LABEL, value=""))
    return Style("categorized", kind, items, attr=fieldname)


def map_layer_style(L, kind: str, attr: str | None = None, attr2: str | None = None) -> Style:
    """The QGIS style of one prepared layer of a map sheet (``mbm_sig.maps.sheet._Layer``):
    the sheet's own classes, breaks and colours. ``attr``/``attr2``: the field names or QGIS
    expressions of the recipe's ``var``/``var2``."""
    s = _map_layer_style(L, kind, attr, attr2)
    if s.geometry != kind:
        s.layer_geometry = kind
    if kind == "fill" and s.geometry == "marker":
        s.layer_geometry = "fill"
    return s


def _map_layer_style(L, kind, attr, attr2) -> Style:
    st = dict(L.style)
    t = L.type
    if t == "base":
        return Style("single", kind, [Item(base_symbol(kind, st))])
    if t == "choro":
        lw = st.get("linewidth")
        sym = Symbol("fill", fill=NODATA, edge=st.get("edgecolor") or "#808080",
                     width_mm=0.1 if lw is None else _mm(lw), alpha=float(st.get("alpha") or 1.0))
        return _graduated(kind, sym, attr, L)
    if t in ("typo", "symbols"):
        if L.anchors is not None and kind != "marker":
            kind = "marker"          # the sheet draws points on polygons: QGIS does the same
        base = base_symbol(kind, st)
        if not L.categories:
            return Style("single", kind, [Item(replace(base, fill=L.colors[0] if L.colors else base.fill),
                                               label=(L.legend[0].entries[0][0] if L.legend and L.legend[0].entries
                                                      else ""))])
        if getattr(L, "groups", None) and attr:      # grouped values: categories of an expression
            f = attr if attr.startswith('"') else '"' + attr.replace('"', '""') + '"'

            def q(v):
                return "'" + str(v).replace("'", "''") + "'"
            attr = ("CASE " + " ".join(f"WHEN {f} IN ({', '.join(q(v) for v in vs)}) THEN {q(g)}"
                                       for g, vs in L.groups.items()) + " END")
        items = [Item(replace(base, edge=c, fill=None) if kind == "line" else replace(base, fill=c),
                      label=str(v), value=v) for v, c in zip(L.categories, L.colors, strict=True)]
        other = replace(base, edge=NODATA, fill=None) if kind == "line" else replace(base, fill=NODATA)
        items.append(Item(other, label=OTHER_LABEL, value=""))
        return Style("categorized", kind, items, attr=attr)
    if t in ("prop", "prop_choro"):
        vals = [abs(v) for v in L.values if v == v] if L.values is not None else []
        vmax = float(max(vals)) if vals else 1.0
        rmax_pt = float(max(L.sizes)) if L.sizes is not None and len(L.sizes) and vmax else 18.0
        # sizes: radius in points for the maximum value -> diameter in mm
        rmax_pt = rmax_pt if rmax_pt > 0 else 18.0
        lw = st.get("linewidth")
        sym = Symbol("marker", fill=st.get("fill") or "#fdae6b", edge=st.get("edgecolor") or "#ffffff",
                     width_mm=_mm(0.4 if lw is None else lw),
                     marker="square" if st.get("symbol") == "square" else "circle",
                     size_mm=round(2 * rmax_pt * PT_MM, 3))
        if t == "prop_choro":
            s = _graduated("marker", sym, attr2, L)
        else:
            s = Style("single", "marker", [Item(sym)])
        s.kind = "proportional"
        s.max_value, s.max_size_mm, s.size_attr = vmax, sym.size_mm, attr
        # the sheet's size legend: the maximum, then round values (nested circles)
        prop = next((b for b in L.legend if b.kind == "prop"), None)
        if prop is not None:
            from mbm_sig.maps.sheet import nice_values
            s.size_legend = [(float(v), lab) for v, (lab, _) in zip(nice_values(vmax), prop.entries, strict=False)]
            s.size_legend_title = prop.title
        # class and legend symbols at a readable size; the map's size comes from the data
        for it in s.items:
            it.symbol = replace(it.symbol, size_mm=3.5)
        if t == "prop":
            s.attr = attr
        return s
    raise ValueError(f"unknown map layer type {t!r}")


def _graduated(kind: str, sym: Symbol, attr, L) -> Style:
    b = [float(x) for x in L.breaks]
    dec = L.legend[-1].decimals if L.legend and getattr(L.legend[-1], "decimals", None) is not None else 1
    from mbm_sig.maps import fmt
    items = []
    for i, c in enumerate(L.colors[:len(b) - 1]):
        lo, hi = b[i], b[i + 1]
        items.append(Item(replace(sym, fill=c) if kind != "line" else replace(sym, edge=c),
                          label=f"{fmt.num(lo, dec)} – {fmt.num(hi, dec)}", lower=lo, upper=hi))
    extra = getattr(L.legend[-1], "extra", None) if L.legend else None
    for c in L.colors[len(b) - 1:]:         # outliers kept out of the classes: one range above them
        items.append(Item(replace(sym, fill=c) if kind != "line" else replace(sym, edge=c),
                          label=extra[0][0] if extra else f"> {fmt.num(b[-1], dec)}", lower=b[-1], upper=1e12))
    return Style("graduated", kind, items, attr=attr)


# -------------------------------------------------------------------------- QML

def _props(d: dict) -> str:
    opts = "".join(f'<Option type="QString" name={quoteattr(k)} value={quoteattr(str(v))}/>' for k, v in d.items())
    props = "".join(f'<prop k={quoteattr(k)} v={quoteattr(str(v))}/>' for k, v in d.items())
    return f'<Option type="Map">{opts}</Option>{props}'


def symbol_layer_props(s: Symbol) -> tuple[str, dict]:
    if s.kind == "marker":
        return "SimpleMarker", {
            "name": s.marker, "color": rgba(s.fill or "#000000"),
            "outline_color": rgba(s.edge or "#000000", 0 if s.edge is None else 1),
            "outline_style": "no" if s.edge is None else "solid", "outline_width": s.width_mm,
            "outline_width_unit": "MM", "size": s.size_mm, "size_unit": "MM", "scale_method": "diameter",
            "joinstyle": "round", "angle": 0, "offset": "0,0", "offset_unit": "MM",
            "horizontal_anchor_point": 1, "vertical_anchor_point": 1}
    if s.kind == "line":
        return "SimpleLine", {
            "line_color": rgba(s.edge or "#000000"), "line_width": s.width_mm, "line_width_unit": "MM",
            "line_style": s.dash, "capstyle": "round", "joinstyle": "round", "offset": 0, "offset_unit": "MM"}
    return "SimpleFill", {
        "color": rgba(s.fill or "#ffffff", 0 if s.fill is None else 1),
        "style": "no" if s.fill is None else "solid",
        "outline_color": rgba(s.edge or "#000000", 0 if s.edge is None else 1),
        "outline_style": "no" if s.edge is None else s.dash, "outline_width": s.width_mm,
        "outline_width_unit": "MM", "joinstyle": "round", "offset": "0,0", "offset_unit": "MM"}


def _size_property(expression: str, max_value: float, max_size: float) -> str:
    """A data-defined marker size: area-proportional (size = max_size * sqrt(v / max_value)),
    as QGIS' size assistant writes it, so that its size legend can draw the circles."""
    return ('<Option type="Map" name="size"><Option type="bool" name="active" value="true"/>'
            f'<Option type="QString" name="expression" value={quoteattr(expression)}/>'
            '<Option type="Map" name="transformer"><Option type="Map" name="d">'
            '<Option type="double" name="exponent" value="0.5"/>'
            f'<Option type="double" name="maxSize" value="{max_size:g}"/>'
            f'<Option type="double" name="maxValue" value="{float(max_value)!r}"/>'
            '<Option type="double" name="minSize" value="0"/><Option type="double" name="minValue" value="0"/>'
            '<Option type="double" name="nullSize" value="0"/><Option type="int" name="scaleType" value="1"/>'
            '</Option><Option type="int" name="t" value="1"/></Option>'
            '<Option type="int" name="type" value="3"/></Option>')


def symbol_qml(s: Symbol, name: str, size_expression=None, on: str | None = None) -> str:
    """A ``<symbol>``; ``on="fill"`` puts a marker on each polygon's point on surface
    (QGIS centroid fill), as the sheets draw symbols and circles on polygons."""
    if on == "fill" and s.kind == "marker":
        inner = symbol_qml(s, f"@{name}@0", size_expression)
        centroid = _props({"point_on_surface": 1, "point_on_all_parts": 0, "clip_points": 0,
                           "clip_on_current_part_only": 0})
        return (f'<symbol type="fill" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
                '<layer class="CentroidFill" enabled="1" locked="0" pass="0">'
                f'{centroid}'
                f'{inner}</layer></symbol>')
    cls, props = symbol_layer_props(s)
    ddp = ""
    if size_expression:       # (expression, max value, max size)
        ddp = ('<data_defined_properties><Option type="Map"><Option type="QString" name="name" value=""/>'
               f'<Option type="Map" name="properties">{_size_property(*size_expression)}</Option>'
               '<Option type="QString" name="type" value="collection"/></Option></data_defined_properties>')
    return (f'<symbol type="{s.kind}" name={quoteattr(name)} alpha="{s.alpha:g}" clip_to_extent="1" force_rhr="0">'
            f'<layer class="{cls}" enabled="1" locked="0" pass="0">{_props(props)}{ddp}</layer></symbol>')


def renderer_qml(style: Style) -> str:
    """The ``<renderer-v2>`` element of a style."""
    size_expr = None
    if style.kind == "proportional":
        a = style.size_attr or style.attr
        expr = a if not a.isidentifier() else f'"{a}"'
        # without a feature (legend swatches) a 3.5 mm symbol, else the area-proportional size
        legend_value = style.max_value * (3.5 / style.max_size_mm) ** 2 if style.max_size_mm else 0
        size_expr = (f"if($id IS NULL, {legend_value:.6g}, abs(coalesce({expr}, 0)))", style.max_value,
                     style.max_size_mm)
    on = style.layer_geometry
    syms = "".join(symbol_qml(it.symbol, str(i), size_expr, on) for i, it in enumerate(style.items))
    head = 'symbollevels="0" forceraster="0" enableorderby="{}" referencescale="-1"'
    order_by = ""
    if style.kind == "proportional":
        a = style.size_attr or style.attr
        expr = a if not a.isidentifier() else f'"{a}"'
        # big symbols first, small ones on top (as the sheets draw them)
        order_by = (f'<orderby><orderByClause asc="0" nullsFirst="0">abs(coalesce({escape(expr)}, 0))'
                    '</orderByClause></orderby>')
    size_legend = ""
    if style.kind == "proportional" and style.size_legend and style.layer_geometry in (None, "marker"):
        # QGIS draws a size legend for marker symbols only (not for markers on polygons)
        classes = "".join(f'<class size="{v!r}" label={quoteattr(lab)}/>' for v, lab in style.size_legend)
        size_legend = (f'<data-defined-size-legend type="collapsed" valign="bottom" '
                       f'title={quoteattr(style.size_legend_title)}>'
                       '<text-style color="26,26,26,255" align="1"><font family="DejaVu Sans" weight="50" italic="0" '
                       f'size="7"/></text-style><classes>{classes}</classes></data-defined-size-legend>')
    if style.kind == "single" or (style.kind == "proportional" and len(style.items) == 1):
        return (f'<renderer-v2 type="singleSymbol" {head.format(1 if order_by else 0)}>'
                f'<symbols>{syms}</symbols>{order_by}{size_legend}</renderer-v2>')
    if style.kind == "categorized":
        cats = "".join(f'<category render="true" symbol="{i}" value={quoteattr(str(it.value))} '
                       f'label={quoteattr(it.label)} type="string"/>' for i, it in enumerate(style.items))
        return (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(style.attr)} {head.format(0)}>'
                f'<categories>{cats}</categories><symbols>{syms}</symbols>'
                f'<source-symbol>{symbol_qml(style.items[0].symbol, "0", None, on)}</source-symbol></renderer-v2>')
    # graduated (proportional and coloured: graduated colours, data-defined size)
    ranges = "".join(f'<range render="true" symbol="{i}" lower="{it.lower!r}" upper="{it.upper!r}" '
                     f'label={quoteattr(it.label)}/>' for i, it in enumerate(style.items))
    attr = style.attr
    return (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attr)} graduatedMethod="GraduatedColor" '
            f'{head.format(1 if order_by else 0)}><ranges>{ranges}</ranges><symbols>{syms}</symbols>'
            f'<source-symbol>{symbol_qml(style.items[0].symbol, "0", size_expr, on)}</source-symbol>'
            '<mode name="custom"/><classificationMethod id="Custom"><symmetricMode enabled="0" symmetrypoint="0" '
            'astride="0"/><labelFormat format="%1 – %2" labelprecision="4" trimtrailingzeroes="1"/>'
            f'<parameters><Option/></parameters><extraInformation><Option/></extraInformation></classificationMethod>'
            f'{order_by}{size_legend}</renderer-v2>')


def field_config_qml(ld) -> str:
    """Aliases from the YAML titles, value maps for fields with a domain."""
    fields, aliases = [], []
    for f in ld.fields:
        title = f.title + (f" ({f.unit})" if f.unit and f.title else "")
        aliases.append(f'<alias field={quoteattr(f.name)} name={quoteattr(title)}/>')
        if f.domain:
            entries = "".join(f'<Option type="Map"><Option type="QString" name={quoteattr(str(v))} '
                              f'value={quoteattr(str(v))}/></Option>' for v in f.domain)
            widget = (f'<editWidget type="ValueMap"><config><Option type="Map"><Option type="List" name="map">'
                      f'{entries}</Option></Option></config></editWidget>')
        else:
            widget = '<editWidget type=""><config><Option/></config></editWidget>'
        fields.append(f'<field name={quoteattr(f.name)} configurationFlags="None">{widget}</field>')
    return (f'<fieldConfiguration>{"".join(fields)}</fieldConfiguration>'
            f'<aliases>{"".join(aliases)}</aliases>')


def qml_body(ld, style: Style | None, opacity: float = 1.0) -> str:
    """The inner elements shared by a QML document and a project's ``<maplayer>``."""
    parts = []
    if style is not None:
        parts.append(renderer_qml(style))
        parts.append(f"<blendMode>0</blendMode><featureBlendMode>0</featureBlendMode>"
                     f"<layerOpacity>{opacity:g}</layerOpacity>")
    parts.append(field_config_qml(ld))
    if ld.key:
        parts.append(f'<previewExpression>{escape(chr(34) + ld.key + chr(34))}</previewExpression>')
    if style is not None:
        gtype = GEOMETRY_TYPE_ID[style.layer_geometry or style.geometry]
        parts.append(f"<layerGeometryType>{gtype}</layerGeometryType>")
    return "".join(parts)


def qml(ld, style: Style | None = None, version: str = "3.22.0") -> str:
    """A complete QML style document of a layer (default: its YAML style)."""
    if style is None and ld.geometry in GEOMETRY_KIND:
        style = layer_style(ld)
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="{version}" styleCategories="AllStyleCategories" hasScaleBasedVisibilityFlag="0" '
            f'minScale="100000000" maxScale="0" readOnly="0">{qml_body(ld, style)}</qgis>\n')


# -------------------------------------------------------------------------- SLD

def _sld_symbolizer(s: Symbol) -> str:
    def stroke(color, width, dash="solid", opacity=1.0):
        if color is None:
            return ""
        d = (f'<se:SvgParameter name="stroke-dasharray">{SLD_DASHES[dash]}</se:SvgParameter>'
             if dash in SLD_DASHES else "")
        return (f'<se:Stroke><se:SvgParameter name="stroke">{hexcolor(color)}</se:SvgParameter>'
                f'<se:SvgParameter name="stroke-opacity">{opacity:g}</se:SvgParameter>'
                f'<se:SvgParameter name="stroke-width">{width:g}</se:SvgParameter>'
                f'<se:SvgParameter name="stroke-linejoin">round</se:SvgParameter>{d}</se:Stroke>')

    def fill(color, opacity):
        if color is None:
            return ""
        return (f'<se:Fill><se:SvgParameter name="fill">{hexcolor(color)}</se:SvgParameter>'
                f'<se:SvgParameter name="fill-opacity">{opacity:g}</se:SvgParameter></se:Fill>')

    px = 96 / 25.4          # SLD sizes are pixels; QGIS converts its millimetres at 96 dpi
    if s.kind == "marker":
        mark = SLD_MARKERS.get(s.marker, "circle")
        return (f'<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>{mark}</se:WellKnownName>'
                f'{fill(s.fill or "#000000", s.alpha)}{stroke(s.edge, round(s.width_mm * px, 2), "solid", s.alpha)}'
                f'</se:Mark><se:Size>{round(s.size_mm * px, 2):g}</se:Size></se:Graphic></se:PointSymbolizer>')
    if s.kind == "line":
        return f'<se:LineSymbolizer>{stroke(s.edge, round(s.width_mm * px, 2), s.dash, s.alpha)}</se:LineSymbolizer>'
    return (f'<se:PolygonSymbolizer>{fill(s.fill, s.alpha)}'
            f'{stroke(s.edge, round(s.width_mm * px, 2), s.dash, s.alpha)}</se:PolygonSymbolizer>')


def _sld_filter(style: Style, it: Item) -> str:
    attr = style.attr
    if style.kind == "categorized":
        if it.value == "":
            others = "".join(f'<ogc:PropertyIsNotEqualTo><ogc:PropertyName>{escape(attr)}</ogc:PropertyName>'
                             f'<ogc:Literal>{escape(str(o.value))}</ogc:Literal></ogc:PropertyIsNotEqualTo>'
                             for o in style.items if o.value != "")
            return f'<ogc:Filter><ogc:Or><ogc:PropertyIsNull><ogc:PropertyName>{escape(attr)}</ogc:PropertyName>' \
                   f'</ogc:PropertyIsNull>{"<ogc:And>" + others + "</ogc:And>" if len(style.items) > 2 else others}' \
                   '</ogc:Or></ogc:Filter>'
        return (f'<ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>{escape(attr)}</ogc:PropertyName>'
                f'<ogc:Literal>{escape(str(it.value))}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>')
    if style.kind in ("graduated",) or (style.kind == "proportional" and it.lower is not None):
        if not attr.isidentifier():
            return ""          # an expression: SLD 1.1 filters take property names only
        return (f'<ogc:Filter><ogc:And><ogc:PropertyIsGreaterThanOrEqualTo><ogc:PropertyName>{escape(attr)}'
                f'</ogc:PropertyName><ogc:Literal>{it.lower!r}</ogc:Literal></ogc:PropertyIsGreaterThanOrEqualTo>'
                f'<ogc:PropertyIsLessThanOrEqualTo><ogc:PropertyName>{escape(attr)}</ogc:PropertyName>'
                f'<ogc:Literal>{it.upper!r}</ogc:Literal></ogc:PropertyIsLessThanOrEqualTo></ogc:And></ogc:Filter>')
    return ""


def sld(ld, style: Style | None = None) -> str:
    """An SLD 1.1 document of a layer's style (rules with filters for categories and classes)."""
    if style is None:
        style = layer_style(ld)
    rules = []
    for it in style.items:
        name = it.label or ld.title
        rules.append(f'<se:Rule><se:Name>{escape(name)}</se:Name><se:Description><se:Title>{escape(name)}'
                     f'</se:Title></se:Description>{_sld_filter(style, it)}{_sld_symbolizer(it.symbol)}</se:Rule>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:se="http://www.opengis.net/se" version="1.1.0" xsi:schemaLocation="http://www.opengis.net/sld '
            'http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd">'
            f'<NamedLayer><se:Name>{escape(ld.name)}</se:Name><UserStyle><se:Name>{escape(ld.name)}</se:Name>'
            f'<se:Description><se:Title>{escape(ld.title)}</se:Title><se:Abstract>{escape(ld.description)}'
            f'</se:Abstract></se:Description><se:FeatureTypeStyle>{"".join(rules)}</se:FeatureTypeStyle>'
            '</UserStyle></NamedLayer></StyledLayerDescriptor>\n')
