"""For analysts in notebooks: rich HTML views of the catalogue and its layer listing,
``Catalogue.explore(name)`` (an offline interactive map) and ``Catalogue.plot(name)`` (a
matplotlib map), both with the layer's official style.

The style is the one QGIS gets (``mbm_sig.qgis.symbols.layer_style``, read from the layer's
YAML as the print sheets read it): categories, colours, line widths and marker sizes.
``explore`` embeds the vendored Leaflet (``mbm_sig/web/static/leaflet``) in the page: no CDN,
no tiles, nothing fetched from the network.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

LEAFLET_DIR = Path(__file__).resolve().parent / "web" / "static" / "leaflet"
PT_PX = 96 / 72           # screen pixels per typographic point


def _num(n) -> str:
    """1234567 -> «1 234 567» (French thousands separator, narrow no-break space)."""
    return f"{int(n):,}".replace(",", "\u202f")


class LayerListing(pd.DataFrame):
    """``Catalogue.layers()``: a DataFrame whose notebook view groups layers by theme."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def _repr_html_(self) -> str:
        rows = []
        for theme, grp in self.groupby("theme", sort=False):
            rows.append(f'<tr><th colspan="6" style="text-align:left;background:#f2efe9">{html.escape(str(theme))}</th></tr>')
            for r in grp.itertuples():
                empty = int(r.count) == 0
                style = ' style="color:#999"' if empty else ""
                last = (r.last_import or "")[:16].replace("T", " ") if isinstance(r.last_import, str) else ""
                rows.append(
                    f"<tr{style}><td><code>{html.escape(r.name)}</code></td><td>{html.escape(r.title)}</td>"
                    f"<td>{html.escape(str(r.geometry))}</td><td style='text-align:right'>"
                    f"{'vide' if empty else _num(r.count)}</td><td>{html.escape(str(r.vintage or ''))}</td>"
                    f"<td>{html.escape(last)}</td></tr>")
        n = int((self["count"] > 0).sum())
        return ("<table><caption style='text-align:left'>"
                f"{n} couches remplies sur {len(self)} définies</caption><thead><tr><th>couche</th><th>titre</th>"
                "<th>géométrie</th><th>entités</th><th>millésime</th><th>dernière écriture</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>")


def catalogue_html(cat) -> str:
    kind = "GeoPackage" if cat.backend.kind == "gpkg" else f"PostGIS (schéma {getattr(cat.backend, 'schema', '')})"
    return (f"<div><b>Catalogue mbm-sig</b> — {html.escape(kind)} <code>{html.escape(_safe_url(cat.url))}</code>"
            f"</div>{cat.layers()._repr_html_()}")


def _safe_url(url: str) -> str:
    """A URL without its password."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        return f"{scheme}://{cred.split(':', 1)[0]}@{host}"
    return url


# ------------------------------------------------------------------------------- style

def _style_of(ld):
    from mbm_sig.qgis import symbols
    return symbols.layer_style(ld)


def _assign(style, frame) -> np.ndarray:
    """Index of the style item of each feature (categories: the value's; else 0)."""
    n = len(frame)
    if style.kind != "categorized":
        return np.zeros(n, dtype=int)
    values = {it.value: i for i, it in enumerate(style.items) if it.value != ""}
    other = next(i for i, it in enumerate(style.items) if it.value == "")
    col = frame[style.attr].astype(object).where(frame[style.attr].notna(), None)
    return np.array([values.get(v, other) for v in col], dtype=int)


# ------------------------------------------------------------------------------- plot

def plot(cat, name: str, ax=None, where: dict | None = None, legend: bool = True, **read):
    """The layer drawn with matplotlib in its official style; returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    ld = cat.layer_def(name)
    if not ld.has_geometry:
        raise ValueError(f"layer {name!r} has no geometry to plot")
    df = cat.read(name, where=where, **read)
    st = _style_of(ld)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 6))
    idx = _assign(st, df)
    handles = []
    for i, it in enumerate(st.items):
        part = df[idx == i]
        s = it.symbol
        if len(part):
            if s.kind == "fill":
                part.plot(ax=ax, facecolor=s.fill or "none", edgecolor=s.edge or "none",
                          linewidth=s.width_mm * 72 / 25.4, alpha=s.alpha, linestyle=_mpl_dash(s.dash))
            elif s.kind == "line":
                part.plot(ax=ax, color=s.edge, linewidth=s.width_mm * 72 / 25.4, alpha=s.alpha,
                          linestyle=_mpl_dash(s.dash))
            else:
                part.plot(ax=ax, marker=_mpl_marker(s.marker), color=s.fill, edgecolor=s.edge,
                          markersize=(s.size_mm * 72 / 25.4) ** 2, linewidth=s.width_mm * 72 / 25.4, alpha=s.alpha)
        if st.kind == "categorized" and (len(part) or it.value != ""):
            if s.kind == "fill":
                handles.append(Patch(facecolor=s.fill, edgecolor=s.edge, label=it.label))
            elif s.kind == "line":
                handles.append(Line2D([], [], color=s.edge, label=it.label, linestyle=_mpl_dash(s.dash)))
            else:
                handles.append(Line2D([], [], marker=_mpl_marker(s.marker), linestyle="", markerfacecolor=s.fill,
                                      markeredgecolor=s.edge, markersize=s.size_mm * 72 / 25.4, label=it.label))
    if legend and handles:
        title = ld.field(st.attr).title or st.attr
        ax.legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
                  title_fontsize=9, frameon=False)
    ax.set_title(ld.title, fontsize=11)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax


def _mpl_dash(dash: str) -> str:
    return {"solid": "-", "dash": "--", "dot": ":", "dash dot": "-."}.get(dash, "-")


def _mpl_marker(marker: str) -> str:
    return {"circle": "o", "square": "s", "diamond": "D", "triangle": "^", "star": "*",
            "pentagon": "p", "hexagon": "h", "cross": "+", "cross2": "x"}.get(marker, "o")


# ------------------------------------------------------------------------------- explore

class Explore:
    """An offline interactive map (Leaflet inlined): shown in a notebook, or ``save()``d."""

    def __init__(self, page: str, title: str):
        self.page, self.title = page, title

    def _repr_html_(self) -> str:
        # an iframe keeps the page's scripts and styles apart from the notebook's
        return (f'<iframe srcdoc="{html.escape(self.page, quote=True)}" style="width:100%;height:520px;'
                f'border:1px solid #ddd" title="{html.escape(self.title)}"></iframe>')

    def save(self, path) -> Path:
        from mbm_sig.atomic import atomic_write_text
        return atomic_write_text(path, self.page)


def _geojson(frame, simplify_m: float) -> list:
    import geopandas as gpd
    import shapely
    geoms = shapely.simplify(frame.geometry.values, simplify_m) if simplify_m else frame.geometry.values
    g = gpd.GeoSeries(geoms, crs=frame.crs).to_crs(4326).values
    return [None if x is None or x.is_empty else json.loads(shapely.to_geojson(shapely.set_precision(x, 1e-6)))
            for x in g]


def explore(cat, name: str, where: dict | None = None, fields=None, simplify_m: float = 2.0,
            context: str | None = None, **read) -> Explore:
    """The layer on an interactive map in its official style, with a popup of its fields
    (titles from the layer definition), entirely offline. ``context``: another layer drawn
    underneath as grey outlines (e.g. ``"communes"``), for orientation without tiles."""
    ld = cat.layer_def(name)
    if not ld.has_geometry:
        raise ValueError(f"layer {name!r} has no geometry to map")
    df = cat.read(name, where=where, **read)
    st = _style_of(ld)
    idx = _assign(st, df)
    keep = [f for f in ld.fields if f.name in df.columns and (fields is None or f.name in fields)]
    feats = []
    for k, geom in enumerate(_geojson(df, simplify_m)):
        if geom is None:
            continue
        props = {"_s": int(idx[k])}
        for f in keep:
            v = df[f.name].iloc[k]
            if v is None or v is pd.NA or (isinstance(v, float) and v != v):
                continue
            props[f.name] = v.item() if hasattr(v, "item") else (v if isinstance(v, (int, float, bool)) else str(v))
        feats.append({"type": "Feature", "geometry": geom, "properties": props})
    ctx = {"type": "FeatureCollection", "features": []}
    if context:
        cdef = cat.layer_def(context)
        if cdef.has_geometry:
            ctx["features"] = [{"type": "Feature", "geometry": g, "properties": {}}
                               for g in _geojson(cat.read(context), max(simplify_m, 20.0)) if g is not None]
    styles = []
    for it in st.items:
        s = it.symbol
        styles.append({"kind": s.kind, "fill": s.fill, "color": s.edge, "weight": round(s.width_mm * 96 / 25.4, 2),
                       "dash": {"dash": "6 3", "dot": "1.5 3", "dash dot": "6 3 1.5 3"}.get(s.dash),
                       "opacity": s.alpha, "radius": round(s.size_mm * 96 / 25.4 / 2, 2), "label": it.label,
                       "square": s.marker in ("square", "diamond")})
    titles = {f.name: (f.title or f.name) + (f" ({f.unit})" if f.unit else "") for f in keep}
    legend_title = (ld.field(st.attr).title or st.attr) if st.kind == "categorized" else ""
    data = {"type": "FeatureCollection", "features": feats}
    page = _PAGE.format(
        title=html.escape(ld.title), css=(LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8"),
        js=(LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8"),
        data=_js(data), context=_js(ctx), styles=_js(styles), titles=_js(titles), legend_title=_js(legend_title),
        layer_title=_js(ld.title), n=_num(len(feats)))
    return Explore(page, ld.title)


def _js(obj) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(obj, ensure_ascii=False, default=str).replace("</", "<\\/")


_PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>{title}</title>
<style>{css}</style>
<style>html,body,#map{{height:100%;margin:0}} body{{font:13px 'DejaVu Sans',sans-serif}}
#map{{background:#f4f2ee}} .mbm-legend{{background:#fff;padding:6px 8px;border-radius:3px;
box-shadow:0 1px 4px rgba(0,0,0,.3);max-width:260px}} .mbm-legend i{{display:inline-block;width:12px;
height:12px;margin-right:6px;vertical-align:-2px;border:1px solid #666}} .mbm-popup td{{padding:0 6px 0 0;
vertical-align:top}} .mbm-popup th{{text-align:left;font-weight:normal;color:#555;padding-right:8px}}</style>
</head><body><div id="map"></div>
<script>{js}</script>
<script>
(function () {{
  var data = {data}, context = {context}, styles = {styles}, titles = {titles}, legendTitle = {legend_title};
  var map = L.map('map', {{preferCanvas: false, attributionControl: true}});
  map.attributionControl.setPrefix('Leaflet (hors ligne)');
  map.attributionControl.addAttribution({layer_title} + ' — {n} entités — mbm-sig');
  L.geoJSON(context, {{interactive: false, style: {{color: '#b8b2a7', weight: 0.6, fill: true,
    fillColor: '#ffffff', fillOpacity: 0.6}}}}).addTo(map);
  function esc(t) {{ return String(t).replace(/[&<>"]/g, function (c) {{
    return {{'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}}[c]; }}); }}
  function look(s) {{
    return {{color: s.color || s.fill || '#333', weight: s.weight, dashArray: s.dash, opacity: s.opacity,
      fill: !!s.fill, fillColor: s.fill, fillOpacity: s.fill ? s.opacity : 0}};
  }}
  function popup(p) {{
    var rows = Object.keys(titles).filter(function (k) {{ return p[k] !== undefined; }}).map(function (k) {{
      return '<tr><th>' + esc(titles[k]) + '</th><td>' + esc(p[k]) + '</td></tr>'; }});
    return '<table class="mbm-popup">' + rows.join('') + '</table>';
  }}
  var layer = L.geoJSON(data, {{
    style: function (f) {{ return look(styles[f.properties._s]); }},
    pointToLayer: function (f, ll) {{
      var s = styles[f.properties._s];
      return L.circleMarker(ll, {{radius: s.radius, color: s.color || '#fff', weight: s.weight,
        fillColor: s.fill, fillOpacity: s.opacity, opacity: s.opacity}});
    }},
    onEachFeature: function (f, l) {{ l.bindPopup(popup(f.properties)); }}
  }}).addTo(map);
  if (layer.getLayers().length) map.fitBounds(layer.getBounds(), {{padding: [12, 12]}});
  else map.setView([50.45, 3.0], 9);
  if (styles.length > 1) {{
    var legend = L.control({{position: 'topright'}});
    legend.onAdd = function () {{
      var d = L.DomUtil.create('div', 'mbm-legend');
      d.innerHTML = '<b>' + esc(legendTitle) + '</b><br>' + styles.map(function (s) {{
        return '<i style="background:' + (s.fill || 'transparent') + ';border-color:' + (s.color || s.fill) + '"></i>' + esc(s.label);
      }}).join('<br>');
      return d;
    }};
    legend.addTo(map);
  }}
  window.MBM_EXPLORE = {{map: map, layer: layer, count: layer.getLayers().length}};
}})();
</script></body></html>
"""
