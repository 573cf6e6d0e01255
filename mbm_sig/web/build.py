"""Build the offline interactive heritage map: a static folder (HTML, JS, CSS, data) that opens
from ``file://`` (a USB stick) with no network at all.

Layout of the output folder::

    index.html            the page (French UI)
    app.js, style.css     the application (copied from ``static/``)
    lib/leaflet/          Leaflet 1.9.4 (BSD-2), vendored from the npm registry package
    data/layers.js        layer metadata: titles, styles, legends, field titles, sources, search index
    data/<id>.js          each layer's GeoJSON as ``window.MBM_DATA[id] = {...}`` (loaded by <script>:
                          browsers block fetch()/XHR of local files)
    data/<id>.geojson     the same GeoJSON, for GIS users

Data come only from the catalogue. Geometries are simplified to about 1 m in Lambert-93,
reprojected to EPSG:4326 and rounded to 1e-6 degree; attributes are those of the layer
definition that hold at least one value. The output is deterministic (stable feature order,
sorted keys, no timestamps).
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from mbm_sig.errors import Failure

STATIC_DIR = Path(__file__).resolve().parent / "static"
LEAFLET_DIR = STATIC_DIR / "leaflet"
SIMPLIFY_M = 1.0            # simplification tolerance in EPSG:2154 metres
DECIMALS = 6                # 1e-6 degree is about 0.1 m

PAGE_TITLE = "Carte interactive du patrimoine minier"
PAGE_SUBTITLE = "Bassin minier du Nord-Pas de Calais — patrimoine mondial de l'UNESCO"

GROUP_UNESCO = "Patrimoine mondial de l'UNESCO"
GROUP_MINIER = "Patrimoine minier"
GROUP_REPERES = "Repères"


@dataclass(frozen=True)
class WebLayer:
    """One layer of the web map: which catalogue layer, how it is shown and searched."""

    id: str                                  # short id: data/<id>.js, window.MBM_DATA[id]
    layer: str                               # catalogue layer name
    group: str
    visible: bool = True
    label: tuple[str, ...] = ()              # popup heading: first template whose fields all have values
    exclude: frozenset[str] = frozenset()    # fields never shown
    search: tuple[str, ...] = ()             # fields whose values are search keys
    search_kind: str = ""                    # shown in the suggestion («Cité minière»…)
    interactive: bool = True
    max_zoom: int = 17                       # zoom limit when a search result is shown
    style: tuple[tuple[str, object], ...] = ()   # screen-only additions to the print style


# Bottom to top: drawing order of the map, and order of the layer panel (reversed per group).
WEB_LAYERS: tuple[WebLayer, ...] = (
    WebLayer("communes", "communes", GROUP_REPERES, label=("{nom}",),
             exclude=frozenset({"departement", "arrondissement", "epci_siren"}),
             search=("nom",), search_kind="Commune", max_zoom=13,
             # communes outside the basin a shade darker, so that the basin reads at once
             style=(("opacity", 0.6), ("outsideField", "bassin_minier"), ("outsideFill", "#e4e2dc"))),
    WebLayer("epci", "epci", GROUP_REPERES, label=("{nom}",), interactive=False),
    WebLayer("bassin", "bassin_minier", GROUP_REPERES, label=("{nom}",), exclude=frozenset({"id"}),
             interactive=False),
    WebLayer("zone_tampon", "unesco_zone_tampon", GROUP_UNESCO, label=("Zone tampon du bien UNESCO",),
             exclude=frozenset({"id"})),
    WebLayer("bien_inscrit", "unesco_bien_inscrit", GROUP_UNESCO, label=("{nom}",),
             exclude=frozenset({"id", "no_section", "no_element"})),
    WebLayer("cavaliers", "cavaliers", GROUP_MINIER, label=("{nom}", "Cavalier"), exclude=frozenset({"id"})),
    WebLayer("cites", "cites_minieres", GROUP_MINIER, label=("{nom}",), exclude=frozenset({"id"}),
             search=("nom", "nom_2"), search_kind="Cité minière"),
    WebLayer("terrils", "terrils", GROUP_MINIER, label=("{nom_usuel} ({no_terril})", "{nom} ({no_terril})"),
             search=("nom", "nom_usuel", "no_terril"), search_kind="Terril"),
    WebLayer("bati", "patrimoine_bati", GROUP_MINIER, label=("{nom}", "{denomination}"),
             exclude=frozenset({"id"})),
    WebLayer("puits", "puits", GROUP_MINIER,
             label=("Fosse {fosse}, puits {puits}", "Fosse {fosse}", "Puits {puits}", "Puits de mine"),
             exclude=frozenset({"id"})),
)

# Order of the layer panel (the most looked-for first); the drawing order is WEB_LAYERS'.
PANEL_ORDER = ("cites", "terrils", "bati", "puits", "cavaliers", "bien_inscrit", "zone_tampon", "bassin", "epci",
               "communes")

# Titles for the few fields whose layer definition has none and no other layer titles either.
FALLBACK_TITLES = {
    "nom": "Nom", "denomination": "Dénomination", "commune": "Commune", "commune_2": "Commune 2",
    "commune_3": "Commune 3", "surface_ha": "Surface", "surface_km2": "Surface", "population": "Population",
    "longueur_m": "Longueur", "perimetre": "Périmètre UNESCO", "id_unesco": "Élément UNESCO",
    "compagnie": "Compagnie minière", "proprietaire": "Propriétaire",
}

DASHES = {"--": "6 4", "dashed": "6 4", ":": "1 4", "dotted": "1 4", "-.": "6 3 1 3", "dashdot": "6 3 1 3"}


class WebBuildError(Failure):
    """The web map cannot be built (missing layer, missing vendored library...)."""


@dataclass
class BuildResult:
    out_dir: Path
    layers: dict[str, int] = field(default_factory=dict)     # id -> feature count
    files: list[Path] = field(default_factory=list)
    bytes: int = 0


# ---------------------------------------------------------------------------------------------
# helpers

def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _fold(text: str) -> str:
    """Search key: lower case, no accents, ligatures spelt out, punctuation as spaces."""
    t = text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    t = unicodedata.normalize("NFD", t)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = "".join(c if c.isalnum() else " " for c in t)
    return " ".join(t.split())


def _linewidth_px(lw) -> float:
    """Print line width (points) to screen pixels, never thinner than a visible hairline."""
    if lw is None:
        return 1.0
    return round(max(0.6, float(lw) * 2.0), 2)


def _colour(value, default=None):
    if value in (None, "none", "None", ""):
        return default
    return str(value)


def web_style(ld) -> dict:
    """Leaflet path options from a layer definition's print style (same colours as the atlas)."""
    st = dict(ld.style or {})
    geom = ld.geometry
    out: dict = {}
    if geom in ("Point", "MultiPoint"):
        size = float(st.get("size", 6))
        out.update(kind="point", radius=round(max(2.5, size / 2.0), 2),
                   fillColor=_colour(st.get("color") or st.get("fill"), "#333333"),
                   color=_colour(st.get("edgecolor"), "#ffffff"), weight=0.8, fillOpacity=1.0, opacity=1.0)
    else:
        fill = _colour(st.get("fill"))
        edge = _colour(st.get("edgecolor")) or _colour(st.get("color")) or fill or "#333333"
        kind = {"LineString": "line", "MultiLineString": "line"}.get(geom, "polygon" if geom != "Geometry" else "mixed")
        out.update(kind=kind, color=edge, weight=_linewidth_px(st.get("linewidth")), opacity=1.0)
        if kind == "line" or (kind == "mixed" and st.get("color")):
            out["lineColor"] = _colour(st.get("color"), edge)
        if fill and kind != "line":
            out.update(fill=True, fillColor=fill, fillOpacity=round(float(st.get("alpha", 0.85)), 2))
        else:
            out.update(fill=False)
        dash = DASHES.get(str(st.get("linestyle", "")))
        if dash:
            out["dashArray"] = dash
            out["lineCap"] = "round"
    cats = st.get("categories")
    if cats:
        out["categories"] = {"field": cats["field"], "colors": dict(cats["colors"])}
    return out


def _field_titles(all_defs) -> dict[str, str]:
    """Field name -> the first title any layer definition gives it (for untitled fields)."""
    titles: dict[str, str] = {}
    for ld in all_defs:
        for f in ld.fields:
            if f.title and f.name not in titles and len(f.title) <= 40:
                titles[f.name] = f.title
    return titles


def _py(value, ftype: str):
    """A JSON-safe Python value, or None for missing."""
    if value is None or pd.isna(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if ftype == "int":
        return int(value)
    if ftype == "float":
        v = float(value)
        return round(v, 2) if not math.isnan(v) else None
    if ftype == "bool":
        return bool(value)
    s = str(value).strip()
    return s or None


def _round_geoms(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.round(c, DECIMALS))


def _label(templates, props: dict) -> str:
    for t in templates:
        try:
            s = t.format_map(_Strict(props))
        except KeyError:
            continue
        return s
    return ""


class _Strict(dict):
    def __missing__(self, key):
        raise KeyError(key)

    def __getitem__(self, key):
        v = dict.get(self, key)
        if v is None:
            raise KeyError(key)
        return v


# ---------------------------------------------------------------------------------------------
# layers

def layer_geojson(cat, wl: WebLayer) -> tuple[dict, list[dict]]:
    """(FeatureCollection in EPSG:4326, field descriptors) of one web layer."""
    ld = cat.layer_def(wl.layer)
    gdf = cat.read(wl.layer)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    fields = [f for f in ld.fields if f.name not in wl.exclude and f.name in gdf.columns
              and gdf[f.name].notna().any()]
    # stable order: by key (or by all attributes), never by insertion order of the database
    sort_cols = [ld.key] if ld.key and ld.key in gdf.columns else [f.name for f in fields]
    if sort_cols:
        gdf = gdf.sort_values(sort_cols, kind="mergesort", na_position="last")
    geoms = shapely.simplify(np.asarray(gdf.geometry.values), SIMPLIFY_M, preserve_topology=True)
    gs = gdf.geometry.__class__(geoms, crs=gdf.crs).to_crs("EPSG:4326")
    geoms = _round_geoms(np.asarray(gs.values))
    features = []
    cols = {f.name: gdf[f.name].tolist() for f in fields}
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        props = {}
        for f in fields:
            v = _py(cols[f.name][i], f.type)
            if v is not None:
                props[f.name] = v
        features.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(g)})
    return {"type": "FeatureCollection", "features": features}, fields


def _legend(style: dict, fc: dict) -> list[dict]:
    """Legend rows: the categories present in the data (in the definition's order), with counts."""
    cats = style.get("categories")
    if not cats:
        return []
    counts: dict = {}
    for feat in fc["features"]:
        v = feat["properties"].get(cats["field"])
        counts[v] = counts.get(v, 0) + 1
    rows = [{"value": v, "label": v, "color": c, "count": counts[v]}
            for v, c in cats["colors"].items() if v in counts]
    other = sum(n for v, n in counts.items() if v not in cats["colors"])
    if other:
        rows.append({"value": None, "label": "Autre ou non renseigné",
                     "color": style.get("fillColor") or style.get("color"), "count": other})
    return rows


def _bounds(fc: dict) -> list[list[float]] | None:
    geoms = [shapely.geometry.shape(f["geometry"]) for f in fc["features"]]
    if not geoms:
        return None
    x0, y0, x1, y1 = shapely.total_bounds(np.asarray(geoms))
    return [[round(float(y0), DECIMALS), round(float(x0), DECIMALS)],
            [round(float(y1), DECIMALS), round(float(x1), DECIMALS)]]


def _search_entries(wl: WebLayer, fc: dict) -> list[list]:
    """[label, detail, layer id, feature index, folded key] for each searchable name."""
    out = []
    for i, feat in enumerate(fc["features"]):
        p = feat["properties"]
        label = _label(wl.label, p) or p.get("nom") or ""
        detail_bits = [wl.search_kind]
        commune = p.get("commune")
        if wl.id == "communes":
            commune = p.get("epci_nom")
        if commune:
            detail_bits.append(str(commune).title() if str(commune).isupper() else str(commune))
        detail = " · ".join(b for b in detail_bits if b)
        seen = set()
        for f in wl.search:
            v = p.get(f)
            if v is None:
                continue
            key = _fold(str(v))
            if not key or key in seen:
                continue
            seen.add(key)
            shown = label if f != "nom_2" else f"{v} ({label})"
            out.append([shown, detail, wl.id, i, key])
    return out


# ---------------------------------------------------------------------------------------------
# credits

def sources_by_importance(sources, layers, cat) -> list:
    """Sources of the heritage layers first (top of the map), then those of the context."""
    order = []
    for wl in reversed(layers):
        for s in cat.sources_for(wl.layer):
            if s in sources and s not in order:
                order.append(s)
    return order


def credits_line(sources) -> str:
    """«Sources : producer (vintages) ; ...»: one entry per producer, vintages merged in order."""
    by_producer: dict[str, list[str]] = {}
    for s in sources:
        vintages = by_producer.setdefault(s.producer, [])
        for v in str(s.vintage).split(","):
            v = v.strip()
            if v and v not in vintages:
                vintages.append(v)
    def year_first(v: str):
        years = re.findall(r"\d{4}", v)
        return (years[0] if years else "9999", v)

    parts = [f"{p} ({', '.join(sorted(v, key=year_first))})" if v else p for p, v in by_producer.items()]
    return "Sources : " + " ; ".join(parts) + "."


# ---------------------------------------------------------------------------------------------
# the site

def _write(path: Path, text: str, result: BuildResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(data)
    result.files.append(path)
    result.bytes += len(data)


def _copy_tree(src: Path, dst: Path, result: BuildResult) -> None:
    for p in sorted(src.rglob("*")):
        if p.is_file():
            q = dst / p.relative_to(src)
            q.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, q)
            result.files.append(q)
            result.bytes += q.stat().st_size


def build_site(cat, out_dir, layers: tuple[WebLayer, ...] = WEB_LAYERS, geojson: bool = True) -> BuildResult:
    """Write the web map of the catalogue ``cat`` into ``out_dir`` (replacing a previous build)."""
    from mbm_sig.catalogue.layerdef import load_layers

    out = Path(out_dir)
    if not (LEAFLET_DIR / "leaflet.js").is_file():
        raise WebBuildError(f"vendored Leaflet not found in {LEAFLET_DIR}")
    for sub in ("data", "lib"):
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    result = BuildResult(out_dir=out)

    titles = _field_titles(load_layers().values())
    metas, sources, search, scripts = [], [], [], []
    for wl in layers:
        ld = cat.layer_def(wl.layer)
        fc, fields = layer_geojson(cat, wl)
        style = {**web_style(ld), **dict(wl.style)}
        result.layers[wl.id] = len(fc["features"])
        metas.append({
            "id": wl.id, "layer": wl.layer, "title": ld.title, "group": wl.group, "visible": wl.visible,
            "interactive": wl.interactive, "label": list(wl.label), "maxZoom": wl.max_zoom,
            "count": len(fc["features"]), "style": style, "legend": _legend(style, fc), "bounds": _bounds(fc),
            "fields": [{"name": f.name, "type": f.type, "unit": f.unit,
                        "title": f.title or titles.get(f.name) or FALLBACK_TITLES.get(f.name)
                        or f.name.replace("_", " ").capitalize()} for f in fields],
        })
        sources.extend(s for s in cat.sources_for(wl.layer) if s not in sources)
        if wl.search:
            search.extend(_search_entries(wl, fc))
        body = _dumps(fc)
        _write(out / "data" / f"{wl.id}.js",
               f"window.MBM_DATA=window.MBM_DATA||{{}};window.MBM_DATA[{_dumps(wl.id)}]={body};\n", result)
        if geojson:
            _write(out / "data" / f"{wl.id}.geojson", body + "\n", result)
        scripts.append(f"data/{wl.id}.js")

    search.sort(key=lambda e: (e[4], e[0], e[2], e[3]))
    sources = sources_by_importance(sources, layers, cat)
    credit_line = credits_line(sources)
    details = [s.credit() for s in sources]
    meta = {"title": PAGE_TITLE, "subtitle": PAGE_SUBTITLE, "layers": metas, "sources": details,
            "credits": credit_line,
            "search": search, "groups": [GROUP_MINIER, GROUP_UNESCO, GROUP_REPERES],
            "panel": [i for i in PANEL_ORDER if i in result.layers]
            + [wl.id for wl in reversed(layers) if wl.id not in PANEL_ORDER]}
    _write(out / "data" / "layers.js", f"window.MBM_META={_dumps(meta)};\n", result)

    _copy_tree(LEAFLET_DIR, out / "lib" / "leaflet", result)
    for name in ("app.js", "style.css"):
        _write(out / name, (STATIC_DIR / name).read_text(encoding="utf-8"), result)
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    tags = "\n".join(f'<script src="{html.escape(s)}"></script>' for s in ["data/layers.js", *scripts])
    sources_html = ("<p>" + html.escape(credit_line) + "</p>"
                    + '<details><summary>Détail des sources</summary><ul>'
                    + "".join(f"<li>{html.escape(d)}</li>" for d in details) + "</ul></details>")
    page = (page.replace("{{TITLE}}", html.escape(PAGE_TITLE))
                .replace("{{SUBTITLE}}", html.escape(PAGE_SUBTITLE))
                .replace("{{DATA_SCRIPTS}}", tags)
                .replace("{{SOURCES}}", sources_html))
    _write(out / "index.html", page, result)
    return result
