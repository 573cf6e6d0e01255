"""A QGIS project over the catalogue: ``mbm-sig qgis [-o FILE.qgz]``.

Written as QGIS 3.22 project XML (a ``.qgs`` inside the ``.qgz`` zip), from the layer
definitions (``layers/*.yaml``), the map recipes (``atlases/maps/*.yaml``) and the atlas
definitions (``atlases/*.yaml``):

- every catalogue layer, grouped by theme, in the print maps' drawing order (the order in
  which the recipes stack layers, merged over all recipes), styled as in ``layer_styles``
  (same QML), with aliases, title, abstract and metadata; project CRS EPSG:2154;
- one map theme and one print layout per map recipe (map item on the recipe's extent, legend
  filtered by the map, scale bar, north arrow, title, subtitle, credits with the sources);
- one atlas layout per coverage sheet of the atlases (coverage layer, filter, sort, page
  name) with an atlas-driven map.

GeoPackage sources are written relative to the project file; PostGIS sources carry host,
port, database and user, never a password (QGIS asks, or uses ~/.pgpass / a service).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from mbm_sig.config import ATLASES_DIR
from mbm_sig.qgis import symbols

QGIS_VERSION = "3.22.16-Białowieża"
THEME_ORDER = ("référentiel", "patrimoine", "séquelles minières", "renouvellement urbain", "santé", "trame verte")
WKB = {"Point": "Point", "MultiPoint": "MultiPoint", "LineString": "LineString",
       "MultiLineString": "MultiLineString", "Polygon": "Polygon", "MultiPolygon": "MultiPolygon"}
GEOM_NAME = {"marker": "Point", "line": "Line", "fill": "Polygon"}
CRS = ""      # EPSG:2154 as QGIS writes it (made on first use)


def _crs_xml() -> str:
    from pyproj import CRS
    wkt = CRS.from_epsg(2154).to_wkt("WKT2_2019")
    return ("<spatialrefsys><wkt>" + escape(wkt) + "</wkt>"
            "<proj4>+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 +ellps=GRS80 "
            "+towgs84=0,0,0,0,0,0,0 +units=m +no_defs</proj4><srsid>145</srsid><srid>2154</srid>"
            "<authid>EPSG:2154</authid><description>RGF93 v1 / Lambert-93</description>"
            "<projectionacronym>lcc</projectionacronym><ellipsoidacronym>EPSG:7019</ellipsoidacronym>"
            "<geographicflag>false</geographicflag></spatialrefsys>")
PAGES = {"A5": (148, 210), "A4": (210, 297), "A3": (297, 420), "A2": (420, 594)}
# QgsLayoutItemRegistry item types (QGraphicsItem::UserType + 100 + n)
PAGE, MAP, PICTURE, LABEL, LEGEND, SCALEBAR = 65638, 65639, 65640, 65641, 65642, 65646
NORTH_ARROW_SVG = ":/images/north_arrows/layout_default_north_arrow.svg"


def _uid(*parts) -> str:
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "mbm-sig:" + ":".join(map(str, parts)))) + "}"


def layer_id(name: str) -> str:
    return f"{name}_{uuid.uuid5(uuid.NAMESPACE_URL, 'mbm-sig:layer:' + name).hex[:12]}"


# ---------------------------------------------------------------------------- order

def recipe_paths() -> list[Path]:
    return sorted((ATLASES_DIR / "maps").glob("*.yaml"))


def drawing_order(defs: dict, recipes: list) -> list[str]:
    """Layers bottom to top: a layer drawn under another in some recipe stays under it
    (a topological merge of the recipes' stacks); ties and layers used by no recipe by
    geometry (filled polygons, outlines, lines, points) and definition order."""
    names = list(defs)
    before = {n: set() for n in names}             # n must be drawn after the layers in before[n]
    for doc in recipes:
        stack = [s["layer"] for s in doc.get("layers", []) if s.get("layer") in defs]
        for i, upper in enumerate(stack):
            for lower in stack[:i]:
                if lower != upper and upper not in before[lower]:
                    before[upper].add(lower)
    rank = {"fill": 0, "line": 2, "marker": 3}

    def key(n):            # filled polygons, outlines, lines, points, tables
        kind = symbols.GEOMETRY_KIND.get(defs[n].geometry)
        r = rank.get(kind, 4)
        if kind == "fill" and str((defs[n].style or {}).get("fill", "")).lower() == "none":
            r = 1
        return (r, names.index(n))
    out, placed = [], set()
    while len(out) < len(names):
        ready = [n for n in names if n not in placed and before[n] <= placed]
        if not ready:                                # a cycle between recipes: break it
            ready = [n for n in names if n not in placed]
        n = min(ready, key=key)
        out.append(n)
        placed.add(n)
    return out


# ---------------------------------------------------------------------------- sources

class Source:
    """Data sources of the catalogue's layers in QGIS's URI syntax."""

    def __init__(self, cat, project_path: Path):
        self.cat = cat
        self.kind = cat.backend.kind
        if self.kind == "gpkg":
            import os
            self.path = os.path.relpath(Path(cat.url).resolve(), project_path.resolve().parent)
            if not self.path.startswith("."):
                self.path = "./" + self.path
        else:
            import sqlalchemy as sa
            self.url = sa.engine.make_url(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", cat.url))
            self.schema = cat.backend.schema

    @property
    def provider(self) -> str:
        return "ogr" if self.kind == "gpkg" else "postgres"

    def uri(self, ld, subset: str = "") -> str:
        if self.kind == "gpkg":
            s = f"{self.path}|layername={ld.name}"
            return s + (f"|subset={subset}" if subset else "")
        u = self.url
        parts = [f"dbname='{u.database}'"]
        if u.host:
            parts.append(f"host={u.host}")
        if u.port:
            parts.append(f"port={u.port}")
        if u.username:
            parts.append(f"user='{u.username}'")
        if ld.key:
            parts.append(f"key='{ld.key}'")
        if ld.has_geometry:
            parts += ["srid=2154", f"type={WKB.get(ld.geometry, ld.geometry)}", "checkPrimaryKeyUnicity='0'"]
        table = f'table="{self.schema}"."{ld.name}"' + (" (geom)" if ld.has_geometry else "")
        parts.append(table)
        if subset:
            parts.append(f"sql={subset}")
        return " ".join(parts)


# ---------------------------------------------------------------------------- layers

def _metadata_xml(ld, sources) -> str:
    links = "".join(f'<keyword>{escape(s)}</keyword>' for s in ld.sources)
    return (f"<resourceMetadata><identifier>{escape(ld.name)}</identifier><parentidentifier></parentidentifier>"
            f"<language>fre</language><type>dataset</type><title>{escape(ld.title)}</title>"
            f"<abstract>{escape(ld.description)}</abstract>"
            f'<keywords vocabulary="sources">{links}</keywords>'
            f"<fees></fees><rights>{escape(ld.licence)}</rights><license>{escape(ld.licence)}</license>"
            f"<encoding></encoding><crs>{CRS}</crs><extent/>"
            f'<history>{escape("; ".join(sources))}</history></resourceMetadata>')


def labeling_xml(lab: dict, ld, on_points: bool) -> str:
    """A recipe's ``labels`` as QGIS simple labeling: field (or, with ``where``, an
    expression), size, colour, weight, white halo, placement (around points, centred on
    polygons), label priority from the ``priority`` field, at most ``max_labels``."""
    from mbm_sig.qgis.symbols import rgba
    var = lab["var"]
    cond = " AND ".join(c for c in (where_expression(lab.get("where"), ld), lab.get("condition", "")) if c)
    if cond:
        field, is_expr = f'CASE WHEN {cond} THEN "{var}" END', 1
    else:
        field, is_expr = var, 0
    halo = lab.get("halo", True)
    dd = ""
    if lab.get("priority"):
        pr = f'"{lab["priority"]}"'
        expr = f"scale_linear({pr}, minimum({pr}), maximum({pr}), 0, 10)"
        dd = ('<dd_properties><Option type="Map"><Option type="QString" name="name" value=""/>'
              '<Option type="Map" name="properties"><Option type="Map" name="Priority">'
              '<Option type="bool" name="active" value="true"/>'
              f'<Option type="QString" name="expression" value={quoteattr(expr)}/>'
              '<Option type="int" name="type" value="3"/></Option></Option>'
              '<Option type="QString" name="type" value="collection"/></Option></dd_properties>')
    placement = lab.get("placement") or ("around" if on_points else "center")
    n = lab.get("max_labels")
    return ('<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName={quoteattr(field)} isExpression="{is_expr}" fontFamily="DejaVu Sans" '
            f'fontSize="{float(lab.get("size", 6)):g}" fontSizeUnit="Point" '
            f'fontWeight="{75 if lab.get("weight") == "bold" else 50}" fontItalic="0" '
            f'textColor="{rgba(lab.get("color", "#1a1a1a"))}" textOpacity="1" namedStyle="" multilineHeight="1" '
            'blendMode="0" capitalization="0" allowHtml="0" fontLetterSpacing="0" fontWordSpacing="0" '
            'fontStrikeout="0" fontUnderline="0" fontKerning="1" textOrientation="horizontal">'
            f'<text-buffer bufferDraw="{1 if halo else 0}" bufferSize="0.5" bufferSizeUnits="MM" '
            'bufferColor="255,255,255,255" bufferOpacity="0.85" bufferJoinStyle="128" bufferNoFill="1" '
            'bufferBlendMode="0"/><text-mask maskEnabled="0"/><background shapeDraw="0"/><shadow shadowDraw="0"/>'
            '</text-style><text-format wrapChar="" multilineAlign="3" placeDirectionSymbol="0" formatNumbers="0"/>'
            f'<placement placement="{6 if placement == "around" else 1}" dist="{0.8 if placement == "around" else 0}" '
            'distUnits="MM" offsetType="0" quadOffset="4" priority="5" centroidInside="1" centroidWhole="0" '
            'fitInPolygonOnly="0" overrunDistance="0" placementFlags="10" '
            'predefinedPositionOrder="TR,TL,BR,BL,R,L,TSR,BSR"/>'
            f'<rendering obstacle="1" obstacleType="1" obstacleFactor="1" displayAll="0" '
            f'limitNumLabels="{1 if n else 0}" maxNumLabels="{int(n or 2000)}" minFeatureSize="0" '
            'scaleVisibility="0" upsidedownLabels="0" mergeLines="0" labelPerPart="0" drawLabels="1" '
            f'zIndex="0" fontLimitPixelSize="0"/>{dd}</settings></labeling>')


def maplayer_xml(lid, ld, src: Source, style, name: str | None = None, subset: str = "",
                 sources=(), joins: str = "", labeling: str = "") -> str:
    geom = ""
    if ld.has_geometry and style is not None:
        geom = (f' geometry="{GEOM_NAME[style.layer_geometry or style.geometry]}"'
                f' wkbType="{WKB.get(ld.geometry, ld.geometry)}"')
    return (f'<maplayer type="vector"{geom} hasScaleBasedVisibilityFlag="0" minScale="100000000" maxScale="0" '
            f'labelsEnabled="{1 if labeling else 0}" '
            f'readOnly="0" refreshOnNotifyEnabled="0" autoRefreshEnabled="0" styleCategories="AllStyleCategories">'
            f"<id>{lid}</id><datasource>{escape(src.uri(ld, subset))}</datasource>"
            f"<keywordList><value>{escape(ld.theme)}</value></keywordList>"
            f"<layername>{escape(name or ld.title)}</layername><title>{escape(ld.title)}</title>"
            f"<abstract>{escape(ld.description)}</abstract>"
            f"<srs>{CRS}</srs>{_metadata_xml(ld, sources)}"
            f'<provider encoding="UTF-8">{src.provider}</provider>'
            f'<vectorjoins>{joins}</vectorjoins>'
            f"{symbols.qml_body(ld, style)}{labeling}</maplayer>")


# ---------------------------------------------------------------------------- recipes

def _qgis_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def where_expression(where: dict | None, ld=None) -> str:
    """A QGIS/SQL filter from a recipe or atlas ``where`` mapping."""
    parts = []
    for f, v in (where or {}).items():
        ftype = ld.field(f).type if ld is not None else None
        if ftype == "bool" and not isinstance(v, list):
            v = v if isinstance(v, bool) else str(v).lower() in ("true", "1", "oui")
        if isinstance(v, list):
            parts.append(f'"{f}" IN ({", ".join(_qgis_value(x) for x in v)})')
        elif v is None:
            parts.append(f'"{f}" IS NULL')
        else:
            parts.append(f'"{f}" = {_qgis_value(v)}')
    return " AND ".join(parts)


def qgis_expression(text: str) -> str:
    """A recipe's computed field (``mbm_sig.maps.expr``) as a QGIS expression."""
    import ast

    from mbm_sig.maps import expr
    tree = expr.parse(text)
    ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
           ast.Pow: "^"}

    def walk(n):
        if isinstance(n, ast.Expression):
            return walk(n.body)
        if isinstance(n, ast.Name):
            return f'"{n.id}"'
        if isinstance(n, ast.Constant):
            return repr(n.value)
        if isinstance(n, ast.UnaryOp):
            return ("-" if isinstance(n.op, ast.USub) else "+") + walk(n.operand)
        return f"({walk(n.left)} {ops[type(n.op)]} {walk(n.right)})"
    return walk(tree)


def template_text(text: str, exprs: dict | None = None) -> str:
    """A recipe/atlas pattern ``"Arrondissement de {nom}"`` as QGIS label text with atlas
    field expressions (``[% "nom" %]``); ``exprs``: QGIS expressions of other parameters."""
    exprs = exprs or {}
    return re.sub(r"\{([A-Za-z_]\w*)\}",
                  lambda m: f"[% {exprs[m.group(1)]} %]" if m.group(1) in exprs else f'[% "{m.group(1)}" %]',
                  str(text))


def _count_expression(spec: dict, defs) -> str:
    """A chart count (``{layer, where}`` with atlas fields) as a QGIS aggregate over the
    atlas feature: aggregate('layer id', 'count', 1, "epci_siren" = attribute(@atlas_feature, 'siren'))."""
    parts = []
    for f, v in (spec.get("where") or {}).items():
        m = re.fullmatch(r"\{([A-Za-z_]\w*)\}", str(v))
        rhs = f"attribute(@atlas_feature, '{m.group(1)}')" if m else _qgis_value(v)
        parts.append(f'"{f}" = {rhs}')
    filt = " AND ".join(parts) or "true"
    return (f"aggregate(layer:='{layer_id(spec['layer'])}', aggregate:='count', expression:=1, "
            f"filter:={filt})")


# ---------------------------------------------------------------------------- layout XML

def _item(kind: int, uid: str, ident: str, x, y, w, h, extra_attrs: str = "", inner: str = "", z: int = 1,
          frame: bool = False, background: bool = False) -> str:
    return (f'<LayoutItem type="{kind}" uuid="{uid}" templateUuid="{uid}" id={quoteattr(ident)} '
            f'position="{x:g},{y:g},mm" positionOnPage="{x:g},{y:g},mm" size="{w:g},{h:g},mm" '
            f'referencePoint="0" itemRotation="0" positionLock="false" zValue="{z}" visibility="1" '
            f'frame="{"true" if frame else "false"}" background="{"true" if background else "false"}" '
            f'opacity="1" blendMode="0" outlineWidthM="0.3,mm" frameJoinStyle="miter" excludeFromExports="0" '
            f'groupUuid="" {extra_attrs}>'
            '<FrameColor red="0" green="0" blue="0" alpha="255"/>'
            '<BGColor red="255" green="255" blue="255" alpha="255"/>'
            f'<LayoutObject><dataDefinedProperties><Option type="Map"><Option type="QString" name="name" value=""/>'
            '<Option name="properties"/><Option type="QString" name="type" value="collection"/></Option>'
            f'</dataDefinedProperties><customproperties><Option/></customproperties></LayoutObject>{inner}</LayoutItem>')


def _font(size: float, bold: bool = False) -> str:
    return f'<LabelFont description="DejaVu Sans,{size:g},-1,5,{75 if bold else 50},0,0,0,0,0" style=""/>'


def _label(uid, ident, text, x, y, w, h, size, bold=False, halign=1, z=5) -> str:
    return _item(LABEL, uid, ident, x, y, w, h,
                 f'labelText={quoteattr(text)} htmlState="0" marginX="0" marginY="0" halign="{halign}" valign="32"',
                 _font(size, bold) + '<FontColor red="26" green="26" blue="26" alpha="255"/>', z=z)


def layout_xml(name: str, page: str, landscape: bool, title: str, subtitle: str, credits: str,
               theme: str | None, extent, atlas: dict | None = None, legend_layers=(), clip_layers=(),
               inset: tuple | None = None, stamp: str | None = None) -> str:
    w, h = PAGES.get(page, PAGES["A4"])
    if landscape:
        w, h = h, w
    margin = 10
    legend_w = 60
    mx, my = margin, margin + 26
    mw, mh = w - 2 * margin - legend_w - 5, h - my - margin
    credits_h = 62 if h < w else 80
    map_uid = _uid(name, "map")
    x0, y0, x1, y1 = extent
    # the map item's extent: the recipe extent with the frame's aspect
    cx, cy, ew, eh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0), (y1 - y0)
    aspect = mw / mh
    if ew / eh > aspect:
        eh = ew / aspect
    else:
        ew = eh * aspect
    ext = (f'<Extent xmin="{cx - ew / 2:.2f}" ymin="{cy - eh / 2:.2f}" '
           f'xmax="{cx + ew / 2:.2f}" ymax="{cy + eh / 2:.2f}"/>')
    theme_attrs = (f'followPreset="true" followPresetName={quoteattr(theme)}' if theme else
                   'followPreset="false" followPresetName=""')
    atlas_map = ('<AtlasMap atlasDriven="1" scalingMode="2" margin="0.08"/>' if atlas else
                 '<AtlasMap atlasDriven="0" scalingMode="2" margin="0.1"/>')
    if atlas and clip_layers:      # the sheet's filtered layers: only inside the page's feature
        atlas_map += ('<atlasClippingSettings enabled="1" forceLabelsInside="0" clippingType="1" restrictLayers="1">'
                      '<layersToClip>' + "".join(f'<Layer name={quoteattr(n)} source="" provider="">{i}</Layer>'
                                                 for i, n in clip_layers) + '</layersToClip></atlasClippingSettings>')
    items = [
        '<PageCollection><symbol type="fill" name="" alpha="1" clip_to_extent="1" force_rhr="0">'
        '<layer class="SimpleFill" enabled="1" locked="0" pass="0"><prop k="color" v="255,255,255,255"/>'
        '<prop k="style" v="solid"/><prop k="outline_style" v="no"/></layer></symbol>'
        + _item(PAGE, _uid(name, "page"), "", 0, 0, w, h, "", "", z=0)
        + '<GuideCollection visible="1"/></PageCollection>',
        _item(MAP, map_uid, "Carte", mx, my, mw, mh,
              f'keepLayerSet="false" drawCanvasItems="true" mapRotation="0" labelMargin="0,mm" '
              f'isTemporal="0" mapFlags="0" {theme_attrs}',
              f"{ext}<LayerSet/>{'<crs>' + CRS + '</crs>'}{atlas_map}<labelBlockingItems/>", z=1, frame=True),
        _label(_uid(name, "title"), "Titre", title, margin, margin, w - 2 * margin, 13, 14, bold=True),
        _label(_uid(name, "subtitle"), "Sous-titre", subtitle, margin, margin + 14, w - 2 * margin, 10, 9),
        _item(LEGEND, _uid(name, "legend"), "Légende", w - margin - legend_w, my, legend_w, mh - credits_h - 2,
              f'map_uuid="{map_uid}" title="Légende" legendFilterByMap="0" legendFilterByAtlas="0" '
              'resizeToContents="1" columnCount="1" splitLayer="0" equalColWidth="0" symbolWidth="7" '
              'symbolHeight="4" wmsLegendWidth="50" wmsLegendHeight="25" wrapChar="|" fontColor="#000000" '
              'rasterBorder="1" rasterBorderColor="0,0,0,255" rasterBorderWidth="0"',
              '<styles>' + "".join(
                  f'<style name="{k}" marginTop="{mt}" marginBottom="{mb}" '
                  f'marginLeft="{2 if k == "symbolLabel" else 0}" '
                  'alignment="1">'
                  f'<styleFont description="DejaVu Sans,{sz},-1,5,{wt},0,0,0,0,0" style=""/></style>'
                  for k, sz, wt, mt, mb in (("title", 10, 75, 0, 3), ("group", 8, 75, 2.5, 0),
                                            ("subgroup", 7.5, 75, 2.5, 0), ("symbol", 7, 50, 1.5, 0),
                                            ("symbolLabel", 7, 50, 1.5, 0))) + '</styles>'
              # the legend lists the sheet's layers, top first, without the project's groups
              '<layer-tree-group><customproperties><Option/></customproperties>'
              + "".join(f'<layer-tree-layer id="{i}" name={quoteattr(n)} source="" providerKey="" '
                        'checked="Qt::Checked" '
                        'expanded="1" legend_exp=""><customproperties><Option type="Map">'
                        f'<Option type="QString" name="legend/title-label" value={quoteattr(_wrap(n))}/></Option>'
                        '</customproperties></layer-tree-layer>'
                        for i, n in legend_layers) + '</layer-tree-group>', z=3),
        _item(SCALEBAR, _uid(name, "scalebar"), "Échelle", mx + 4, my + mh - 14, 60, 10,
              f'mapUuid="{map_uid}" style="Single Box" units="km" unitType="km" unitLabel="km" '
              'mapUnitsPerScaleBarUnit="1000" '
              'numSegments="2" numSegmentsLeft="0" numSubdivisions="1" subdivisionsHeight="1.5" '
              'numUnitsPerSegment="5" segmentSizeMode="1" minBarWidth="15" maxBarWidth="30" segmentMillimeters="15" '
              'height="1.5" lineWidth="0.3" labelBarSpace="1.5" boxContentSpace="0.8" alignment="0" '
              'labelVerticalPlacement="0" labelHorizontalPlacement="0"',
              '<text-style fontFamily="DejaVu Sans" fontSize="7" fontSizeUnit="Point" fontWeight="50" fontItalic="0" '
              'textColor="26,26,26,255" textOpacity="1" namedStyle="" multilineHeight="1" blendMode="0" '
              'capitalization="0" allowHtml="0" fontLetterSpacing="0" fontWordSpacing="0" fontStrikeout="0" '
              'fontUnderline="0" fontKerning="1" textOrientation="horizontal"><text-buffer bufferDraw="0"/>'
              '<text-mask maskEnabled="0"/><background shapeDraw="0"/><shadow shadowDraw="0"/></text-style>', z=4),
        _item(PICTURE, _uid(name, "north"), "Nord", w - margin - legend_w - 5 - 14, my + 4, 10, 12,
              f'file="{NORTH_ARROW_SVG}" pictureRotation="0" mapUuid="{map_uid}" northMode="0" northOffset="0" '
              'resizeMode="0" anchorPoint="0" svgFillColor="0,0,0,255" svgBorderColor="255,255,255,255" '
              'svgBorderWidth="0.2" mode="1"', "", z=4),
        _label(_uid(name, "credits"), "Crédits", credits, w - margin - legend_w, my + mh - credits_h, legend_w,
               credits_h, 5.5),
    ]
    if stamp:         # «Données fictives», as the sheets stamp demonstration data
        items.append(_item(LABEL, _uid(name, "stamp"), "Tampon", mx + 4, my + 4, 60, 9,
                           f'labelText={quoteattr(stamp)} htmlState="0" marginX="1" marginY="1" halign="4" valign="32"',
                           _font(11, bold=True) + '<FontColor red="192" green="57" blue="43" alpha="255"/>', z=7,
                           frame=True, background=True))
    if inset:         # locator map: the départements, the context and the sheet's frame
        inset_theme, inset_extent = inset
        iw = ih = 38 if w < 300 else 50
        ix, iy = mx + mw - iw - 2, my + mh - ih - 2
        ie = _fit(inset_extent, iw / ih, 0.08)
        frame = symbols.symbol_qml(symbols.Symbol("fill", fill=None, edge="#c0392b", width_mm=0.35), "")
        items.append(_item(MAP, _uid(name, "inset"), "Encart", ix, iy, iw, ih,
                           f'keepLayerSet="false" drawCanvasItems="false" mapRotation="0" labelMargin="0,mm" '
                           f'isTemporal="0" mapFlags="0" followPreset="true" followPresetName={quoteattr(inset_theme)}',
                           f'<Extent xmin="{ie[0]:.2f}" ymin="{ie[1]:.2f}" xmax="{ie[2]:.2f}" ymax="{ie[3]:.2f}"/>'
                           f'<LayerSet/><crs>{CRS}</crs><AtlasMap atlasDriven="0" scalingMode="2" margin="0.1"/>'
                           f'<ComposerMapOverview frameMap="{map_uid}" inverted="0" centered="0" blendMode="0" '
                           f'uuid="{_uid(name, "overview")}" show="1" position="3" name="Emprise de la carte">'
                           f'{frame}</ComposerMapOverview><labelBlockingItems/>', z=6, frame=True, background=True))
    atlas_xml = '<Atlas enabled="0" hideCoverage="0" filenamePattern="\'output_\'||@atlas_featurenumber" ' \
                'coverageLayer="" sortFeatures="0" filterFeatures="0"/>'
    if atlas:
        atlas_xml = (f'<Atlas enabled="1" hideCoverage="0" coverageLayer="{atlas["layer_id"]}" '
                     f'coverageLayerName={quoteattr(atlas["layer_name"])} '
                     f'coverageLayerSource={quoteattr(atlas["source"])} '
                     f'coverageLayerProvider="{atlas["provider"]}" pageNameExpression={quoteattr(atlas["page_name"])} '
                     f'filenamePattern={quoteattr(atlas["file_name"])} '
                     f'sortFeatures="{1 if atlas.get("sort") else 0}" sortKey={quoteattr(atlas.get("sort") or "")} '
                     'sortAscending="1" '
                     f'filterFeatures="{1 if atlas.get("filter") else 0}" '
                     f'featureFilter={quoteattr(atlas.get("filter") or "")}/>')
    return (f'<Layout name={quoteattr(name)} units="mm" printResolution="300" worldFileMap="">'
            '<Snapper tolerance="5" snapToItems="1" snapToGrid="0" snapToGuides="1"/>'
            '<Grid resUnits="mm" offsetX="0" offsetY="0" offsetUnits="mm" resolution="10"/>'
            + "".join(items) + '<customproperties><Option/></customproperties>' + atlas_xml + "</Layout>")


# ---------------------------------------------------------------------------- project

def build_project(cat, out: Path) -> dict:  # noqa: C901 - sequential assembly of the .qgs document; split left for later
    """Write the QGIS project ``out`` (.qgz or .qgs) over catalogue ``cat``; returns a
    summary (layers, layouts, atlases)."""
    from mbm_sig.atlas.engine import load_atlas
    from mbm_sig.atomic import atomic_path
    from mbm_sig.config import load_yaml
    from mbm_sig.maps.recipe import RecipeError

    global CRS
    CRS = CRS or _crs_xml()
    out = Path(out)
    defs = {n: ld for n, ld in cat.definitions().items()}
    present = set(cat.backend.layer_names())
    src = Source(cat, out)
    recipes = {}
    for p in recipe_paths():
        with open(p, encoding="utf-8") as fh:
            recipes[p] = load_yaml(fh) or {}
    order = [n for n in drawing_order(defs, list(recipes.values())) if n in present]
    layers_xml, tree_groups = [], {}
    for n in order:
        ld = defs[n]
        style = symbols.layer_style(ld) if ld.has_geometry else None
        credits = [s.credit() for s in cat.sources_for(n)]
        layers_xml.append(maplayer_xml(layer_id(n), ld, src, style, sources=credits))
        tree_groups.setdefault(ld.theme, []).append(n)

    # map themes and layouts, one per recipe that renders with the catalogue's data
    themes, layouts, skipped, atlases, recipe_groups, inset_groups = [], [], [], [], [], {}
    coverage = {}
    for atlas_path in sorted(ATLASES_DIR.glob("*.yaml")):
        a = load_atlas(atlas_path)
        for sec in a.sections:
            for sh in sec.sheets:
                cov = sec.coverage or sh.coverage
                recipe = sh.recipe
                if recipe is None and sh.kind == "chart" and (sh.table or {}).get("recipe"):
                    recipe = Path(a.path).parent / sh.table["recipe"]     # a chart drawn from a recipe
                if cov and recipe is not None:
                    title = cov.get("page_name") or cov.get("section_title") or sh.title
                    counts = (sh.table or {}).get("counts") if sh.kind == "chart" else None
                    coverage.setdefault(Path(recipe).resolve(), (a.name, cov, title, sh.file_name, counts or {}))
    for p, doc in recipes.items():
        used = [s["layer"] for s in doc.get("layers", []) if s.get("layer") in present]
        cov = coverage.get(p.resolve())
        if not used:
            skipped.append((p.stem, "no layer of the recipe is in the catalogue"))
            continue
        params = None
        if cov:
            feats = cat.read(cov[1]["layer"], where=cov[1].get("where"))
            if not len(feats):
                skipped.append((p.stem, "the coverage layer has no feature"))
                continue
            row = feats.iloc[0]
            params = {k: str(v) for k, v in row.items() if k != feats.geometry.name}
            for cname, cspec in cov[4].items():     # a chart's counts (e.g. cités of the EPCI)
                w = {k: (v.format(**params) if isinstance(v, str) else v)
                     for k, v in (cspec.get("where") or {}).items()}
                params[cname] = str(len(cat.read(cspec["layer"], where=w)))
        try:
            from mbm_sig.maps.recipe import build_map, load_recipe
            r = load_recipe(p, params)
            atlas_where = {}
            if cov:     # an atlas map: its classes span the whole coverage, each page is clipped
                for i, (spec, raw) in enumerate(zip(r.doc.get("layers", []), doc.get("layers", []), strict=True)):
                    tw = {k: v for k, v in (raw.get("where") or {}).items() if "{" in str(v)}
                    if tw:
                        atlas_where[i] = tw
                    w = {k: v for k, v in (spec.get("where") or {}).items()
                         if "{" not in str((raw.get("where") or {}).get(k, ""))}
                    if w:
                        spec["where"] = w
                    else:
                        spec.pop("where", None)
            m, used_layers = build_map(r, cat)
        except (RecipeError, KeyError, ValueError) as exc:
            skipped.append((p.stem, str(exc).splitlines()[0]))
            continue
        d = r.doc
        theme = f"carte : {p.stem}"
        visible = [s["layer"] for s in d.get("layers", []) if s["layer"] in present]
        ids = _recipe_layers(p.stem, d, m, defs, present, src, cat, layers_xml, atlas_where)
        recipe_groups.append((p.stem, str(doc.get("title", p.stem)).replace("{", "").replace("}", ""), ids))
        themes.append((theme, [i for i, *_ in ids]))
        extent = m._extent or _bounds(cat, visible)
        cred = ["Sources : " + " ; ".join(dict.fromkeys(s.credit() for n in dict.fromkeys(used_layers)
                                                         if n in defs for s in cat.sources_for(n)))]
        cred += list((d.get("credits") or {}).get("notes") or [])
        cred.append(f"Réalisation : {(d.get('credits') or {}).get('producer', 'Mission Bassin Minier')}, "
                    "carte éditée dans QGIS depuis mbm-sig")
        landscape = d.get("orientation") == "landscape" or (
            d.get("orientation") == "auto" and (extent[2] - extent[0]) > (extent[3] - extent[1]))
        if cov and d.get("orientation") == "auto":
            # one orientation for every page of a QGIS atlas: that of most coverage features
            import numpy as np
            b = shapely_bounds(feats)
            landscape = bool(np.median((b[:, 2] - b[:, 0]) / np.maximum(b[:, 3] - b[:, 1], 1e-9)) > 1)
        atlas = None
        title, subtitle = str(d.get("title", p.stem)), str(d.get("subtitle", ""))
        if cov:
            aname, spec, page_title, fname, counts = cov
            cld = defs[spec["layer"]]
            exprs = {c: _count_expression(cs, defs) for c, cs in counts.items()}
            title = template_text(doc.get("title", title), exprs)          # the recipe's own patterns
            subtitle = template_text(doc.get("subtitle", subtitle), exprs)
            sort = spec.get("sort")
            sort = {"@x": "x(point_on_surface($geometry))", "@y": "y(point_on_surface($geometry))"}.get(sort, sort)
            if sort and not sort.startswith(("x(", "y(")):
                sort = f'"{sort}"'
            filt = where_expression(spec.get("where"), cld)
            if spec.get("skip_empty"):       # the features the atlas engine keeps (e.g. EPCI with a cité)
                key = spec.get("key") or cld.key
                from mbm_sig.atlas.engine import skip_empty_keys
                keep = skip_empty_keys(cat, spec)
                listed = ", ".join(_qgis_value(str(v)) for v in sorted(keep))
                filt = " AND ".join(x for x in (filt, f'"{key}" IN ({listed})') if x)
            atlas = {"layer_id": layer_id(spec["layer"]), "layer_name": cld.title, "source": src.uri(cld),
                     "provider": src.provider, "filter": filt,
                     "sort": sort, "page_name": _pattern_expression(page_title),
                     "file_name": _pattern_expression(fname or f"{p.stem}-{{{cld.key}}}")}
            atlases.append(f"atlas : {aname} : {p.stem}")
        name = f"atlas : {cov[0]} : {p.stem}" if cov else p.stem
        ins = d.get("inset", True)
        inset = None
        if ins:
            ins = {"layer": "departements", "context": "bassin_minier"} if ins is True else dict(ins)
            if ins.get("layer") in present:
                inset = _inset_layers(ins["layer"], ins.get("context"), defs, present, src, cat, layers_xml,
                                      themes, inset_groups)
        layouts.append(layout_xml(name, d.get("page", "A4"), landscape, title, subtitle, "\n".join(cred),
                                  theme, extent, atlas,
                                  legend_layers=[(i, n) for i, n, shown, _ in reversed(ids) if shown],
                                  clip_layers=[(i, n) for i, n, _, clip in ids if clip], inset=inset,
                                  stamp="Données fictives" if m.fictive else None))

    tree = []
    for th in sorted(tree_groups, key=lambda t: (THEME_ORDER.index(t) if t in THEME_ORDER else 99, t)):
        names = list(reversed(tree_groups[th]))             # top of the group drawn on top
        def checked(n, th=th):
            return "Qt::Checked" if th == "référentiel" and n in ("communes", "departements") else "Qt::Unchecked"
        kids = "".join(f'<layer-tree-layer id="{layer_id(n)}" name={quoteattr(defs[n].title)} '
                       f'source={quoteattr(src.uri(defs[n]))} providerKey="{src.provider}" '
                       f'checked="{checked(n)}" '
                       'expanded="0" legend_exp=""><customproperties><Option/></customproperties></layer-tree-layer>'
                       for n in names)
        tree.append(f'<layer-tree-group name={quoteattr(th)} checked="Qt::Checked" expanded="1">'
                    f'<customproperties><Option/></customproperties>{kids}</layer-tree-group>')
    sub = []
    for stem, rtitle, ids in recipe_groups:
        kids = "".join(f'<layer-tree-layer id="{i}" name={quoteattr(nm)} source="" providerKey="{src.provider}" '
                       'checked="Qt::Unchecked" expanded="0" legend_exp=""><customproperties><Option/>'
                       '</customproperties></layer-tree-layer>' for i, nm, *_ in reversed(ids))
        sub.append(f'<layer-tree-group name={quoteattr(stem + " — " + rtitle)} checked="Qt::Checked" expanded="0">'
                   f'<customproperties><Option/></customproperties>{kids}</layer-tree-group>')
    for theme, ids, _ in inset_groups.values():
        sub.append(f'<layer-tree-group name={quoteattr(theme)} checked="Qt::Checked" expanded="0">'
                   '<customproperties><Option/></customproperties>'
                   + "".join(f'<layer-tree-layer id="{i}" name={quoteattr(nm)} source="" providerKey="{src.provider}" '
                             'checked="Qt::Unchecked" expanded="0" legend_exp=""><customproperties><Option/>'
                             '</customproperties></layer-tree-layer>' for i, nm in reversed(ids))
                   + '</layer-tree-group>')
    tree.append('<layer-tree-group name="cartes des recettes (styles des planches)" checked="Qt::Checked" '
                f'expanded="0"><customproperties><Option/></customproperties>{"".join(sub)}</layer-tree-group>')
    recipe_ids = [i for _, _, ids in recipe_groups for i, *_ in reversed(ids)]
    recipe_ids += [i for _, ids, _ in inset_groups.values() for i, _ in reversed(ids)]
    custom = "".join(f'<item>{i}</item>' for i in recipe_ids + [layer_id(n) for n in reversed(order)])
    presets = "".join(
        f'<visibility-preset name={quoteattr(t)} has-expanded-info="1" has-checked-group-info="0">'
        + "".join(f'<layer id="{i}" visible="1" style="default" expanded="1"/>' for i in vis)
        + '<expanded-legend-nodes/></visibility-preset>' for t, vis in themes)
    title = "Catalogue mbm-sig — Mission Bassin Minier Nord-Pas de Calais"
    meta = (f"<projectMetadata><identifier>mbm-sig</identifier><parentidentifier></parentidentifier>"
            f"<language>fre</language><type>project</type><title>{escape(title)}</title>"
            "<abstract>Couches du catalogue mbm-sig par thème, styles des planches imprimées, mises en page "
            "des recettes de cartes et atlas des fiches par territoire (généré par mbm-sig qgis).</abstract>"
            "<author>Mission Bassin Minier Nord-Pas de Calais</author>"
            f"<creation>{_now()}</creation><contact><name>Mission Bassin Minier</name></contact>"
            "<links/><history>mbm-sig qgis</history></projectMetadata>")
    xml = ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
           f'<qgis projectname={quoteattr(title)} version="{QGIS_VERSION}">'
           f'<homePath path=""/><title>{escape(title)}</title>'
           '<autotransaction active="0"/><evaluateDefaultValues active="0"/><trust active="0"/>'
           f'<projectCrs>{CRS}</projectCrs>'
           f'<layer-tree-group><customproperties><Option/></customproperties>{"".join(tree)}'
           f'<custom-order enabled="1">{custom}</custom-order></layer-tree-group>'
           f'<projectlayers>{"".join(layers_xml)}</projectlayers>'
           f'<layerorder>{"".join(f"<layer id={chr(34)}{layer_id(n)}{chr(34)}/>" for n in reversed(order))}'
           '</layerorder>'
           '<properties><Paths><Absolute type="bool">false</Absolute></Paths>'
           '<SpatialRefSys><ProjectionsEnabled type="int">1</ProjectionsEnabled></SpatialRefSys>'
           '<Measurement><DistanceUnits type="QString">meters</DistanceUnits><AreaUnits type="QString">m2</AreaUnits>'
           '</Measurement><Gui><SelectionColorRedPart type="int">255</SelectionColorRedPart></Gui></properties>'
           f'<visibility-presets>{presets}</visibility-presets>{meta}'
           f'<Layouts>{"".join(layouts)}</Layouts></qgis>\n')
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".qgs":
            Path(tmp).write_text(xml, encoding="utf-8")
        else:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(out.stem + ".qgs", xml.encode("utf-8"))
    return {"path": out, "layers": order, "layouts": len(layouts), "atlases": atlases, "skipped": skipped}


def _inset_layers(layer, context, defs, present, src, cat, layers_xml, themes, groups):
    """The locator map's layers (drawn like the sheets' inset: grey départements, the
    context as a red dashed outline) and their map theme, made once per (layer, context);
    returns (theme, extent)."""
    key = (layer, context if context in present else None)
    if key not in groups:
        ld = defs[layer]
        lid = f"encart__{layer}"
        st = symbols.Style("single", "fill", [symbols.Item(symbols.Symbol(
            "fill", fill="#e5e5e5", edge="#7f7f7f", width_mm=round(0.4 * symbols.PT_MM, 4)))])
        layers_xml.append(maplayer_xml(lid, ld, src, st, name=f"Encart : {ld.title}"))
        ids = [(lid, f"Encart : {ld.title}")]
        if key[1]:
            cd = defs[key[1]]
            kind = symbols.geometry_kind(cd.geometry)
            cid = f"encart__{layer}__{key[1]}"
            cst = symbols.Style("single", kind, [symbols.Item(symbols.Symbol(
                kind, fill=None, edge="#b2182b", width_mm=round(0.5 * symbols.PT_MM, 4), dash="dash"))])
            layers_xml.append(maplayer_xml(cid, cd, src, cst, name=f"Encart : {cd.title}"))
            ids.append((cid, f"Encart : {cd.title}"))
        theme = f"encart : {layer}" + (f" / {key[1]}" if key[1] else "")
        themes.append((theme, [i for i, _ in ids]))
        groups[key] = (theme, ids, tuple(float(v) for v in cat.read(layer).total_bounds))
    theme, _, extent = groups[key]
    return theme, extent


def atlas_condition(where: dict) -> str:
    """A templated ``where`` ({"arrondissement": "{code}"}) as a condition on the atlas
    feature: "arrondissement" = attribute(@atlas_feature, 'code')."""
    parts = []
    for f, v in where.items():
        rhs = re.sub(r"\{([A-Za-z_]\w*)\}", lambda m: f"' || attribute(@atlas_feature, '{m.group(1)}') || '", str(v))
        rhs = f"'{rhs}'".replace("'' || ", "").replace(" || ''", "")
        parts.append(f'"{f}" = {rhs}')
    return " AND ".join(parts)


def _recipe_layers(stem, d, m, defs, present, src, cat, layers_xml, atlas_where=None) -> list[tuple]:
    """Project layers of one recipe, styled as its sheet (the sheet's own classes, breaks,
    categories and colours: ``m`` is the recipe's :class:`~mbm_sig.maps.sheet.Map`);
    returns (layer id, name, in the legend, clipped to the atlas feature) bottom to top.
    ``atlas_where``: per layer index, the templated filter of an atlas sheet (the layer is
    clipped to the atlas feature, its labels restricted to the matching features)."""
    atlas_where = atlas_where or {}
    out = []
    pending = list(m._layers)
    for i, spec in enumerate(d.get("layers", [])):
        n = spec["layer"]
        L = next((x for x in pending if x.name == n), None)
        if n not in present or L is None:
            continue
        pending.remove(L)
        ld = defs[n]
        comp = spec.get("computed") or {}

        def attr(v, comp=comp):
            return None if not v else (qgis_expression(comp[v]) if v in comp else v)
        style = symbols.map_layer_style(L, symbols.geometry_kind(ld.geometry), attr(spec.get("var")),
                                        attr(spec.get("var2")))
        joins = ""
        j = spec.get("join")
        if j:
            jname = j["layer"] if isinstance(j, dict) else j
            on = (j.get("on") if isinstance(j, dict) else None) or defs[jname].key
            if jname in present:
                joins = (f'<join targetFieldName="{on}" joinLayerId="{layer_id(jname)}" joinFieldName="{on}" '
                         'memoryCache="1" cascadedDelete="0" editable="0" upsertOnEdit="0" dynamicForm="0" '
                         'hasCustomPrefix="1" customPrefix=""/>')
        lid = f"{stem}__{i}__{n}"
        name = spec.get("legend_title") or spec.get("legend_label") or ld.title
        blocks = [b.title for b in L.legend if b.title]
        if L.type == "prop_choro" and len(blocks) == 2:      # the colours' title, then the circles'
            name = f"{blocks[1]} (cercles : {blocks[0]})"
        elif L.type == "prop" and blocks:
            name = f"{blocks[0]} (cercles proportionnels)"
        elif L.type in ("choro", "typo", "symbols") and blocks:
            name = blocks[0]
        lab = spec.get("labels")
        if lab and i in atlas_where:
            lab = {**lab, "condition": atlas_condition(atlas_where[i])}
        on_points = spec.get("type") == "symbols" or ld.geometry.endswith("Point")
        layers_xml.append(maplayer_xml(lid, ld, src, style, name=name,
                                       subset=where_expression(spec.get("where"), ld),
                                       sources=[s.credit() for s in cat.sources_for(n)], joins=joins,
                                       labeling=labeling_xml(lab, ld, on_points) if lab else ""))
        out.append((lid, name, bool(L.legend), i in atlas_where))
    return out


def _pattern_expression(text: str) -> str:
    """``"Arrondissement de {nom}"`` as a QGIS expression: 'Arrondissement de ' || "nom"."""
    parts = re.split(r"(\{[A-Za-z_]\w*\})", str(text))
    out = []
    for p in parts:
        if not p:
            continue
        m = re.fullmatch(r"\{([A-Za-z_]\w*)\}", p)
        out.append(f'coalesce(to_string("{m.group(1)}"), \'\')' if m else "'" + p.replace("'", "''") + "'")
    return " || ".join(out) or "''"


def _wrap(text: str, width: int = 40) -> str:
    """Legend text broken into lines of about ``width`` characters ("|" is the legend's
    line break)."""
    lines, cur = [], ""
    for word in str(text).split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    return "|".join(lines + [cur])


def _fit(b, aspect: float, margin: float):
    """Extent ``b`` grown by ``margin`` and to the frame's aspect (width / height)."""
    x0, y0, x1, y1 = b
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = (x1 - x0) * (1 + 2 * margin), (y1 - y0) * (1 + 2 * margin)
    if w / h > aspect:
        h = w / aspect
    else:
        w = h * aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def shapely_bounds(frame):
    import shapely
    return shapely.bounds(frame.geometry.values)


def _bounds(cat, names):
    import numpy as np
    b = np.array([cat.read(n).total_bounds for n in names if cat.layer_def(n).has_geometry])
    return (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())


def _now() -> str:
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


PROBE = Path(__file__).resolve().parent / "probe.py"


def check_project(path: Path) -> dict:
    """Open the project with PyQGIS (``MBM_SIG_QGIS_PYTHON``, default the system
    ``/usr/bin/python3`` of Debian's python3-qgis) and return what QGIS makes of it."""
    import json
    import os
    import subprocess

    from mbm_sig.errors import Failure
    py = os.environ.get("MBM_SIG_QGIS_PYTHON") or "/usr/bin/python3"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONPATH", None)
    try:
        r = subprocess.run([py, str(PROBE), "project", str(path)], capture_output=True, text=True, env=env,
                           timeout=600)
    except FileNotFoundError:
        raise Failure(f"{py} not found: --check needs PyQGIS (Debian: apt-get install python3-qgis "
                      "qgis-providers; MBM_SIG_QGIS_PYTHON names another Python)") from None
    if r.returncode != 0 or not r.stdout.strip():
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise Failure(f"PyQGIS could not open {path} with {py}: {last}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def cli_qgis(argv) -> int:
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.config import settings
    p = argparse.ArgumentParser(prog="mbm-sig qgis", description="write a QGIS project over the catalogue")
    p.add_argument("-o", "--out", default=None,
                   help="project file (.qgz or .qgs), or a folder for DIR/mbm-sig.qgz (default OUT/mbm-sig.qgz)")
    p.add_argument("--check", action="store_true",
                   help="then open it with PyQGIS (python3-qgis) and report layers, layouts and atlases")
    args = p.parse_args(argv)
    cat = Catalogue.open()
    if cat.backend.kind == "gpkg" and not cat.backend.exists():
        print(f"error: catalogue {cat.url} does not exist (run mbm-sig build first)", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else settings().out_dir / "mbm-sig.qgz"
    if out.is_dir() or (args.out or "").endswith(("/", os.sep)):
        out = out / "mbm-sig.qgz"                # a folder: the project inside it
    if out.suffix.lower() not in (".qgz", ".qgs"):
        print(f"error: {out}: a QGIS project is a .qgz or .qgs file", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    res = build_project(cat, out)
    print(f"{res['path']}: {len(res['layers'])} layers, {res['layouts']} print layouts "
          f"({len(res['atlases'])} atlases)")
    for name, why in res["skipped"]:
        print(f"  no layout for {name}: {why}", file=sys.stderr)
    if args.check:
        from mbm_sig.errors import MbmSigError
        try:
            info = check_project(out)
        except MbmSigError as exc:
            print(f"error: {exc.message()}", file=sys.stderr)
            return exc.exit_code
        layers = info["layers"]
        bad = sorted(k for k, v in layers.items() if not v["valid"])
        atl = [f"{k} ({v['atlas']['count']} pages)" for k, v in info["layouts"].items() if v["atlas"]]
        print(f"QGIS: project read {'ok' if info['read'] else 'FAILED'}, CRS {info['crs']}, "
              f"{len(layers) - len(bad)}/{len(layers)} layers valid, {len(info['layouts'])} layouts; "
              f"atlases: {', '.join(atl) or 'none'}")
        if bad or not info["read"]:
            print(f"error: layers QGIS cannot open: {', '.join(bad)}", file=sys.stderr)
            return 1
    return 0
