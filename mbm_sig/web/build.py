"""Build the offline interactive heritage map: a static folder (HTML, JS, CSS, data) that opens
from ``file://`` (a USB stick) with no network at all.

Layout of the output folder::

    index.html            the page (French UI)
    app.js, style.css     the application (copied from ``static/``)
    lib/leaflet/          Leaflet 1.9.4 (BSD-2), vendored from the npm registry package
    lib/markercluster/    Leaflet.markercluster 1.5.3 (MIT), vendored from the npm registry package
    data/layers.js        layer metadata: titles, styles, legends, field titles, sources, search index
    data/<id>.js          each layer's GeoJSON as ``window.MBM_DATA[id] = {...}`` (loaded by <script>:
                          browsers block fetch()/XHR of local files)
    data/<id>.geojson     the same GeoJSON, for GIS users

Data come only from the catalogue. Geometries are simplified to about 1 m in Lambert-93,
reprojected to EPSG:4326 and rounded to 1e-6 degree; attributes are those of the layer
definition that hold at least one value, less codes and internal ids (INSEE, SIREN,
identifiers: :func:`reader_fields`). Features carry their layer key as GeoJSON ``id`` (the
permalink names the selected feature by it). Polygons are written largest first, so that a
small feature is drawn above (and clickable over) a large one. Every file is written
atomically. The output is deterministic (stable feature order, sorted keys, no timestamps).

``build_site(..., territory=Territory(...))`` writes the map of one territory (a partner
pack): only the features that intersect it, the view framed on it, its name in the title.
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

from mbm_sig.errors import Failure, InvalidInput

STATIC_DIR = Path(__file__).resolve().parent / "static"
LEAFLET_DIR = STATIC_DIR / "leaflet"
CLUSTER_DIR = STATIC_DIR / "markercluster"
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
    search: tuple[str, ...] = ()             # search keys: field names or «{field}» templates
    search_kind: str = ""                    # shown in the suggestion («Cité minière»…)
    alias: tuple[str, str] = ("", "")        # (field, prefix): another name, shown in the suggestion
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
             search=("nom", "nom_2"), search_kind="Cité minière", alias=("nom_2", "dite ")),
    WebLayer("terrils", "terrils", GROUP_MINIER, label=("{nom_usuel} ({no_terril})", "{nom} ({no_terril})"),
             search=("nom", "nom_usuel", "no_terril"), search_kind="Terril"),
    WebLayer("bati", "patrimoine_bati", GROUP_MINIER, label=("{nom}", "{denomination}"),
             exclude=frozenset({"id"}), search=("nom", "denomination"), search_kind="Patrimoine bâti"),
    WebLayer("puits", "puits", GROUP_MINIER,
             label=("Fosse {fosse}, puits {puits}", "Fosse {fosse}", "Puits {puits}", "Puits de mine"),
             exclude=frozenset({"id"}), search=("Fosse {fosse_alias}", "Puits {puits}"), search_kind="Puits de mine",
             alias=("fosse_alias", "fosse "),
             style=(("cluster", True),)),
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

@dataclass(frozen=True)
class Territory:
    """A territory the web map is limited to (a partner pack): its name and its outline in EPSG:2154."""

    name: str
    geometry: object          # shapely geometry, EPSG:2154
    communes: frozenset = frozenset()   # INSEE codes of its communes: features located in one of them


# codes and internal identifiers: never shown to readers (the permalink uses the key, not shown)
_CODE_NAMES = {"id", "insee", "siren", "epci_siren", "code", "finess"}
_CODE_TITLE = re.compile(r"\b(code|siren|insee|identifiant|finess)\b", re.IGNORECASE)


def reader_fields(ld, wl: WebLayer, columns) -> list:
    """The fields of a layer definition shown in popups: not excluded by the web layer, present,
    and not a code or an internal id (``id``, ``id_*``, INSEE, SIREN, «Code …», «Identifiant …»)."""
    out = []
    for f in ld.fields:
        if f.name in wl.exclude or f.name not in columns:
            continue
        if f.name in _CODE_NAMES or f.name.startswith("id_") or f.name.endswith(("_siren", "_insee", "_code")):
            continue
        if f.title and _CODE_TITLE.search(f.title):
            continue
        out.append(f)
    return out


def layer_geojson(cat, wl: WebLayer, territory: Territory | None = None) -> tuple[dict, list[dict]]:
    """(FeatureCollection in EPSG:4326, field descriptors) of one web layer (only the features that
    intersect ``territory`` when given). Each feature's ``id`` is its layer key; polygons come
    largest first (the small ones are drawn above them)."""
    ld = cat.layer_def(wl.layer)
    gdf = cat.read(wl.layer)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if territory is not None:
        if territory.communes and "insee" in gdf.columns and wl.id != "communes":
            # features located in a commune (as the atlases and the pack's data count them)
            gdf = gdf[gdf["insee"].astype(str).map(
                lambda v: any(c.strip() in territory.communes for c in v.split(",")))]
        else:    # the communes around stay as context
            gdf = gdf[gdf.geometry.intersects(territory.geometry)]
    fields = [f for f in reader_fields(ld, wl, gdf.columns) if gdf[f.name].notna().any()]
    # stable order: by key (or by all attributes), never by insertion order of the database
    key = ld.key if ld.key and ld.key in gdf.columns else None
    sort_cols = [key] if key else [f.name for f in fields]
    if sort_cols:
        gdf = gdf.sort_values(sort_cols, kind="mergesort", na_position="last")
    if ld.geometry not in ("Point", "MultiPoint", "LineString", "MultiLineString"):
        area = gdf.geometry.area.round(1)
        gdf = gdf.iloc[np.argsort(-area.to_numpy(), kind="stable")]
    geoms = shapely.simplify(np.asarray(gdf.geometry.values), SIMPLIFY_M, preserve_topology=True)
    gs = gdf.geometry.__class__(geoms, crs=gdf.crs).to_crs("EPSG:4326")
    geoms = _round_geoms(np.asarray(gs.values))
    features = []
    cols = {f.name: gdf[f.name].tolist() for f in fields}
    keys = gdf[key].tolist() if key else [None] * len(gdf)
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        props = {}
        for f in fields:
            v = _py(cols[f.name][i], f.type)
            if v is not None:
                props[f.name] = v
        feat = {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(g)}
        if keys[i] is not None and not (isinstance(keys[i], float) and math.isnan(keys[i])):
            feat["id"] = str(keys[i])
        features.append(feat)
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


_SPLIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")


def search_key(text: str) -> str:
    """Search tokens of a text, space-separated: folded (case, accents, ligatures), punctuation and
    hyphens as separators, letters and digits split apart («9bis» → «9 bis», «T094» → «t 94»),
    leading zeros dropped. ``app.js`` folds the query the same way (``searchKey``), so «9-9bis»,
    «fosse 9», «T 94», «t94» and «Oignies» all find what they name."""
    words = []
    for w in _SPLIT.sub(" ", _fold(text)).split():
        if w.isdigit():
            w = w.lstrip("0") or "0"
        words.append(w)
    return " ".join(words)


def _template(t: str, props: dict) -> str | None:
    if "{" not in t:
        v = props.get(t)
        return None if v is None else str(v)
    try:
        return t.format_map(_Strict(props))
    except KeyError:
        return None


def _search_entries(wl: WebLayer, fc: dict) -> list[list]:
    """[label, detail, layer id, feature index, [search keys]]: one entry per feature, its keys made
    from its label, the layer's search fields or templates, and its label with its commune."""
    out = []
    for i, feat in enumerate(fc["features"]):
        p = feat["properties"]
        label = _label(wl.label, p) or p.get("nom") or ""
        commune = p.get("epci_nom") if wl.id == "communes" else p.get("commune")
        if commune and str(commune).isupper():
            commune = str(commune).title()
        alias = p.get(wl.alias[0]) if wl.alias[0] else None
        detail = " · ".join(b for b in (wl.search_kind, commune, f"{wl.alias[1]}{alias}" if alias else None) if b)
        keys = []
        for text in (label, *(_template(t, p) for t in wl.search),
                     f"{label} {commune}" if commune and wl.id != "communes" else None):
            k = search_key(text) if text else ""
            if k and k not in keys:
                keys.append(k)
        if keys:
            out.append([label, detail, wl.id, i, keys])
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

def _write(path: Path, text: str | bytes, result: BuildResult) -> None:
    from mbm_sig.atomic import atomic_write_bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    atomic_write_bytes(path, data)
    result.files.append(path)
    result.bytes += len(data)


def _copy_tree(src: Path, dst: Path, result: BuildResult) -> None:
    for p in sorted(src.rglob("*")):
        if p.is_file() and p.name != "VENDORED.md":
            _write(dst / p.relative_to(src), p.read_bytes(), result)


MANIFEST = ".mbm-sig-web.json"       # the files a build wrote: the next build removes only those


def _remove_stale(out: Path, result: BuildResult) -> None:
    """Files the previous build wrote (its manifest) that this build did not write again;
    a file the user put in the folder is never touched. Then this build's manifest."""
    from mbm_sig.atomic import atomic_write_text, remove_stale_parts
    base = out.resolve()
    kept = {p.resolve() for p in result.files}
    try:
        previous = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        previous = []
    for rel in previous:
        p = (base / str(rel)).resolve()
        if base not in p.parents or p in kept or not p.is_file():
            continue
        p.unlink()
        d = p.parent
        while d != base and d.is_dir() and not any(d.iterdir()):
            d.rmdir()
            d = d.parent
    names = sorted(p.resolve().relative_to(base).as_posix() for p in result.files)
    atomic_write_text(out / MANIFEST, json.dumps({"files": names}, indent=0) + "\n")
    for folder in {p.parent for p in result.files}:
        remove_stale_parts(folder)


def _start_bounds(territory: Territory | None, metas: list[dict]):
    if territory is not None:
        g = shapely.geometry.shape(shapely.geometry.mapping(territory.geometry))
        import geopandas as gpd
        x0, y0, x1, y1 = gpd.GeoSeries([g], crs="EPSG:2154").to_crs("EPSG:4326").total_bounds
        return [[round(float(y0), DECIMALS), round(float(x0), DECIMALS)],
                [round(float(y1), DECIMALS), round(float(x1), DECIMALS)]]
    by_id = {m["id"]: m for m in metas}
    return (by_id.get("bassin") or {}).get("bounds") or next(m["bounds"] for m in metas if m["bounds"])


def build_site(cat, out_dir, layers: tuple[WebLayer, ...] = WEB_LAYERS, geojson: bool = True,
               territory: Territory | None = None) -> BuildResult:
    """Write the web map of the catalogue ``cat`` into ``out_dir`` (replacing a previous build file by
    file, each file atomically); with ``territory``, the map of that territory only."""
    from mbm_sig.catalogue.layerdef import load_layers

    out = Path(out_dir)
    for lib, probe in ((LEAFLET_DIR, "leaflet.js"), (CLUSTER_DIR, "leaflet.markercluster.js")):
        if not (lib / probe).is_file():
            raise WebBuildError(f"vendored library not found: {lib / probe}")
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"web map folder {out} is an existing file: give a folder (-o DIR)")
    out.mkdir(parents=True, exist_ok=True)
    result = BuildResult(out_dir=out)
    title = PAGE_TITLE if territory is None else f"{PAGE_TITLE} — {territory.name}"

    titles = _field_titles(load_layers().values())
    metas, sources, search, scripts = [], [], [], []
    for wl in layers:
        ld = cat.layer_def(wl.layer)
        fc, fields = layer_geojson(cat, wl, territory)
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

    search.sort(key=lambda e: (e[4][0], e[0], e[2], e[3]))
    sources = sources_by_importance(sources, layers, cat)
    credit_line = credits_line(sources)
    details = [s.credit() for s in sources]
    meta = {"title": title, "subtitle": PAGE_SUBTITLE, "layers": metas, "sources": details,
            "credits": credit_line, "start": _start_bounds(territory, metas),
            "territory": territory.name if territory is not None else None,
            "search": search, "groups": [GROUP_MINIER, GROUP_UNESCO, GROUP_REPERES],
            "panel": [i for i in PANEL_ORDER if i in result.layers]
            + [wl.id for wl in reversed(layers) if wl.id not in PANEL_ORDER]}
    _write(out / "data" / "layers.js", f"window.MBM_META={_dumps(meta)};\n", result)

    _copy_tree(LEAFLET_DIR, out / "lib" / "leaflet", result)
    _copy_tree(CLUSTER_DIR, out / "lib" / "markercluster", result)
    for name in ("app.js", "style.css"):
        _write(out / name, (STATIC_DIR / name).read_text(encoding="utf-8"), result)
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    tags = "\n".join(f'<script src="{html.escape(s)}"></script>' for s in ["data/layers.js", *scripts])
    sources_html = ("<p>" + html.escape(credit_line) + "</p>"
                    + '<details><summary>Détail des sources</summary><ul>'
                    + "".join(f"<li>{html.escape(d)}</li>" for d in details) + "</ul></details>")
    page = (page.replace("{{TITLE}}", html.escape(title))
                .replace("{{SUBTITLE}}", html.escape(PAGE_SUBTITLE))
                .replace("{{DATA_SCRIPTS}}", tags)
                .replace("{{SOURCES}}", sources_html))
    _write(out / "index.html", page, result)
    _remove_stale(out, result)
    return result
