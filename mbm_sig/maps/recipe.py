"""Map recipes: a sheet described once in YAML (``atlases/maps/*.yaml``), validated against
the catalogue's layer definitions before anything is read or drawn, then rendered.

    page: A4                      # A5, A4, A3, A2
    orientation: portrait         # or landscape, or auto (from the extent's shape)
    title: Densité de population
    subtitle: Bassin minier, 2023
    extent: {layer: arrondissements, where: {bassin_minier: true}}   # or {bbox: [x0, y0, x1, y1]}
    margin: 0.05
    frame: fit                    # the frame fits the extent's aspect (default); fixed: fills the page
    fictive: false
    layers:
      - layer: communes           # a catalogue layer
        where: {arrondissement: ["622", "627"]}      # parameterised filter
        join: {layer: sante_communes_import, on: insee}
        computed: {dens: "1e4 * etab_generalistes / population"}
        type: choro               # choro, prop, prop_choro, typo, symbols, base
        var: dens
        method: q6                # quantile, equal, jenks, fisher, q6, geom, nested_means, headtails
        k: 6
        palette: YlOrRd
        legend_title: …
        labels: {var: nom, size: 6, priority: population}   # placement: around (points) / center
    inset: {layer: departements, context: bassin_minier}   # or false
    layout: auto                  # side (legend column) / bottom (band under a full-width map)
    scalebar: true
    arrow: true
    credits: {notes: [...], producer: Mission Bassin Minier}
    basemap: {source: fonds/scan.tif, alpha: 0.6}     # optional; local raster or provider name
    metadata: {subject: ..., keywords: [...]}

Template parameters ``{name}`` in any string are filled from ``params`` (the atlas engine
passes the fields of the coverage feature; ``mbm-sig map -p name=value``); a recipe may give
defaults in a top-level ``params:`` mapping so that it also renders on its own. Sources in the credits come from the layers
used (``Catalogue.sources_for``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
import shapely

from mbm_sig.config import load_yaml
from mbm_sig.maps import expr
from mbm_sig.maps.classify import METHODS, ALIASES
from mbm_sig.maps.palettes import class_range, is_palette, PALETTES
from mbm_sig.maps.sheet import FRAMES, LAYER_TYPES, LAYOUTS, ORIENTATIONS, PAGES, PLACEMENTS, Map, MapError

TOP_KEYS = {"page", "orientation", "title", "subtitle", "extent", "margin", "fictive", "layers", "params",
            "inset", "scalebar", "arrow", "legend", "credits", "metadata", "logo", "simplify_mm",
            "description", "name", "basemap", "frame", "layout", "toponyms", "focus"}
LAYER_KEYS = {"layer", "where", "join", "computed", "type", "var", "var2", "method", "k", "breaks",
              "palette", "colors", "nodata", "nodata_label", "legend", "legend_title", "legend_title2",
              "legend_decimals", "legend_label", "inches", "symbol", "fill", "edgecolor", "linewidth",
              "linestyle", "alpha", "marker", "size", "hatch", "order", "fictive", "labels", "clip", "val_max", "markers"}
LABEL_KEYS = {"var", "size", "halo", "priority", "color", "weight", "max_labels", "where", "placement", "unique"}
STYLE_KEYS = ("fill", "edgecolor", "linewidth", "linestyle", "marker", "size", "hatch", "alpha")
PARAM = re.compile(r"\{([A-Za-z_]\w*)\}")


class RecipeError(ValueError):
    """A recipe is invalid; the message names the recipe file and the key path."""

    def __init__(self, path, key: str, message: str):
        self.path, self.key = str(path), key
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


@dataclass
class Recipe:
    doc: dict
    path: Path
    params: dict = field(default_factory=dict)

    def fail(self, key, message):
        return RecipeError(self.path, key, message)

    @property
    def layer_names(self) -> list[str]:
        names = [spec["layer"] for spec in self.doc.get("layers", [])]
        for spec in self.doc.get("layers", []):
            j = spec.get("join")
            if j:
                names.append(j["layer"] if isinstance(j, dict) else j)
        ext = self.doc.get("extent")
        if isinstance(ext, dict) and ext.get("layer"):
            names.append(ext["layer"])
        ins = self.doc.get("inset")
        if isinstance(ins, dict):
            names += [n for n in (ins.get("layer"), ins.get("context")) if n]
        return list(dict.fromkeys(names))


# ------------------------------------------------------------------------------ loading

def _fill(obj, params, path, key=""):
    if isinstance(obj, str):
        missing = [m for m in PARAM.findall(obj) if m not in params]
        if missing:
            raise RecipeError(path, key, f"template parameter {{{missing[0]}}} is not given "
                              f"(known: {', '.join(sorted(params)) or 'none'})")
        whole = PARAM.fullmatch(obj)
        if whole:
            return params[whole.group(1)]
        return PARAM.sub(lambda m: str(params[m.group(1)]), obj)
    if isinstance(obj, dict):
        return {k: _fill(v, params, path, f"{key}.{k}" if key else str(k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, params, path, f"{key}[{i}]") for i, v in enumerate(obj)]
    return obj


def load_recipe(path, params: dict | None = None) -> Recipe:
    """Read a recipe, fill its template parameters and check its structure (no catalogue)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = load_yaml(fh)
    except FileNotFoundError:
        raise RecipeError(path, "", "recipe file not found") from None
    except yaml.YAMLError as exc:
        raise RecipeError(path, "", f"invalid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise RecipeError(path, "", "expected a mapping at the top level")
    defaults = doc.pop("params", None) or {}
    if not isinstance(defaults, dict):
        raise RecipeError(path, "params", "expected a mapping of default template parameters")
    params = {**{k: str(v) for k, v in defaults.items()}, **dict(params or {})}
    doc = _fill(doc, params, path)
    r = Recipe(doc=doc, path=path, params=params)
    check_structure(r)
    return r


def check_structure(r: Recipe) -> None:
    d = r.doc
    unknown = set(d) - TOP_KEYS
    if unknown:
        raise r.fail(sorted(unknown)[0], f"unknown key (known keys: {', '.join(sorted(TOP_KEYS))})")
    page = d.get("page", "A4")
    if page not in PAGES:
        raise r.fail("page", f"unknown page size {page!r}; known sizes: {', '.join(PAGES)}")
    if d.get("orientation", "portrait") not in ORIENTATIONS:
        raise r.fail("orientation", f"must be portrait, landscape or auto, not {d.get('orientation')!r}")
    m = d.get("margin", 0.05)
    if not isinstance(m, (int, float)) or not 0 <= m < 1:
        raise r.fail("margin", f"must be a number between 0 and 1, not {m!r}")
    lo = d.get("layout", "auto")
    if lo not in LAYOUTS:
        raise r.fail("layout", f"must be one of {', '.join(LAYOUTS)}, not {lo!r}")
    fr = d.get("frame", "fit")
    if fr not in FRAMES:
        raise r.fail("frame", f"must be fit or fixed, not {fr!r}")
    layers = d.get("layers")
    if not isinstance(layers, list) or not layers:
        raise r.fail("layers", "a non-empty list of layers is required")
    for i, spec in enumerate(layers):
        key = f"layers[{i}]"
        if not isinstance(spec, dict):
            raise r.fail(key, "expected a mapping")
        unknown = set(spec) - LAYER_KEYS
        if unknown:
            raise r.fail(f"{key}.{sorted(unknown)[0]}", f"unknown key (known keys: {', '.join(sorted(LAYER_KEYS))})")
        if "layer" not in spec:
            raise r.fail(key, "missing key 'layer'")
        t = spec.get("type", "base")
        if t not in LAYER_TYPES:
            raise r.fail(f"{key}.type", f"unknown layer type {t!r}; known types: {', '.join(LAYER_TYPES)}")
        if t in ("choro", "prop", "prop_choro", "typo") and not spec.get("var"):
            raise r.fail(f"{key}.var", f"layer type {t!r} needs a variable")
        if t == "prop_choro" and not spec.get("var2"):
            raise r.fail(f"{key}.var2", "layer type 'prop_choro' needs var2 (the coloured variable)")
        if "method" in spec:
            meth = str(spec["method"]).lower()
            if meth not in METHODS and meth not in ALIASES:
                raise r.fail(f"{key}.method", f"unknown classification method {spec['method']!r}; "
                             f"known methods: {', '.join(METHODS)}")
        if "palette" in spec and not isinstance(spec["palette"], list) and not is_palette(spec["palette"]):
            raise r.fail(f"{key}.palette", f"unknown palette {spec['palette']!r}; known palettes: {', '.join(PALETTES)}")
        if "k" in spec:
            k = spec["k"]
            if not isinstance(k, int) or k < 2:
                raise r.fail(f"{key}.k", f"number of classes must be an integer >= 2, not {k!r}")
            pal = spec.get("palette", "YlOrRd")
            if isinstance(pal, str) and is_palette(pal) and t in ("choro", "prop_choro"):
                lo, hi = class_range(pal)
                if k > hi:
                    raise r.fail(f"{key}.k", f"palette {pal!r} has at most {hi} classes, not {k}")
        if "breaks" in spec and (not isinstance(spec["breaks"], list) or len(spec["breaks"]) < 2
                                 or not all(isinstance(b, (int, float)) for b in spec["breaks"])):
            raise r.fail(f"{key}.breaks", "expected a list of at least two numbers")
        for name, text in (spec.get("computed") or {}).items():
            try:
                expr.parse(text)
            except expr.ExpressionError as exc:
                raise r.fail(f"{key}.computed.{name}", str(exc)) from None
        if "where" in spec and not isinstance(spec["where"], dict):
            raise r.fail(f"{key}.where", "expected a mapping {field: value or [values]}")
        lab = spec.get("labels")
        if lab is not None:
            if not isinstance(lab, dict) or "var" not in lab:
                raise r.fail(f"{key}.labels", "expected a mapping with at least 'var'")
            unknown = set(lab) - LABEL_KEYS
            if unknown:
                raise r.fail(f"{key}.labels.{sorted(unknown)[0]}", f"unknown key (known: {', '.join(sorted(LABEL_KEYS))})")
            if lab.get("placement", "around") not in PLACEMENTS:
                raise r.fail(f"{key}.labels.placement", f"must be around or center, not {lab['placement']!r}")
    ext = d.get("extent")
    if ext is not None:
        if isinstance(ext, list):
            ext = {"bbox": ext}
        if not isinstance(ext, dict) or not ({"layer", "bbox"} & set(ext)):
            raise r.fail("extent", "expected {layer: NAME, where: {...}} or {bbox: [xmin, ymin, xmax, ymax]}")
        if "bbox" in ext:
            b = ext["bbox"]
            if (not isinstance(b, list) or len(b) != 4 or not all(isinstance(v, (int, float)) for v in b)
                    or b[2] <= b[0] or b[3] <= b[1]):
                raise r.fail("extent.bbox", f"expected [xmin, ymin, xmax, ymax] in EPSG:2154, not {b!r}")


# ------------------------------------------------------------------------------ catalogue checks

def _fields_of(cat, name):
    return set(cat.layer_def(name).field_names)


def validate_recipe(r: Recipe, cat) -> None:
    """Check layers and fields against the catalogue's layer definitions."""
    known = set(cat.definitions())

    def layer_ok(name, key):
        if name not in known:
            raise r.fail(key, f"unknown layer {name!r}; known layers: {', '.join(sorted(known))}")

    def fields_ok(name, fields, key, available):
        for f in fields:
            if f not in available:
                raise r.fail(key, f"layer {name!r} has no field {f!r} (fields: {', '.join(sorted(available))})")

    for i, spec in enumerate(r.doc["layers"]):
        key = f"layers[{i}]"
        name = spec["layer"]
        layer_ok(name, f"{key}.layer")
        own = _fields_of(cat, name)
        available = set(own)
        fields_ok(name, list(spec.get("where") or {}), f"{key}.where", own)
        j = spec.get("join")
        if j:
            jname = j["layer"] if isinstance(j, dict) else j
            layer_ok(jname, f"{key}.join")
            jf = _fields_of(cat, jname)
            on = (j.get("on") if isinstance(j, dict) else None) or cat.layer_def(jname).key
            if on not in own or on not in jf:
                raise r.fail(f"{key}.join.on", f"join key {on!r} must be a field of both {name!r} and {jname!r}")
            available |= jf
        for cname, text in (spec.get("computed") or {}).items():
            missing = expr.names(text) - available
            if missing:
                raise r.fail(f"{key}.computed.{cname}",
                             f"unknown field {sorted(missing)[0]!r} (fields: {', '.join(sorted(available))})")
            available.add(cname)
        for k in ("var", "var2"):
            if spec.get(k):
                fields_ok(name, [spec[k]], f"{key}.{k}", available)
        lab = spec.get("labels")
        if lab:
            fields_ok(name, [lab["var"]] + ([lab["priority"]] if lab.get("priority") else []), f"{key}.labels", available)
        if spec.get("type") == "typo" and spec.get("colors") is None:
            pass
    ext = r.doc.get("extent")
    if isinstance(ext, dict) and ext.get("layer"):
        layer_ok(ext["layer"], "extent.layer")
        fields_ok(ext["layer"], list(ext.get("where") or {}), "extent.where", _fields_of(cat, ext["layer"]))
    ins = r.doc.get("inset")
    if isinstance(ins, dict):
        for k in ("layer", "context"):
            if ins.get(k):
                layer_ok(ins[k], f"inset.{k}")


# ------------------------------------------------------------------------------ building

def _title_of(cat, layer: str, var: str) -> str:
    try:
        f = cat.layer_def(layer).field(var)
    except KeyError:
        return var
    t = f.title or var
    return f"{t} ({f.unit})" if f.unit else t


def _read(cat, spec: dict, bbox=None):
    name = spec["layer"]
    where = spec.get("where") or None
    df = cat.read(name, bbox=bbox, where=where)
    j = spec.get("join")
    if j:
        jname = j["layer"] if isinstance(j, dict) else j
        on = (j.get("on") if isinstance(j, dict) else None) or cat.layer_def(jname).key
        other = cat.read(jname)
        if hasattr(other, "geometry") and "geom" in getattr(other, "columns", []):
            other = pd.DataFrame(other.drop(columns="geom"))
        other = other.drop_duplicates(on)
        cols = [c for c in other.columns if c not in df.columns or c == on]
        df = df.merge(other[cols], on=on, how="left")
    for cname, text in (spec.get("computed") or {}).items():
        df[cname] = expr.evaluate(text, df)
    return df


def _on_points(geoms) -> bool:
    import shapely
    return bool(len(geoms)) and bool(np.all(np.isin(shapely.get_type_id(geoms), (0, 4))))


def _fields_of_spec(spec: dict, ld) -> set:
    """Fields of the layer a recipe layer draws or filters on (for its credits)."""
    out = set(spec.get("where") or {})
    for key in ("var", "var2"):
        if spec.get(key):
            out.add(spec[key])
    lab = spec.get("labels") or {}
    for key in ("var", "priority"):
        if isinstance(lab, dict) and lab.get(key):
            out.add(lab[key])
    names = set(ld.field_names)
    for text in (spec.get("computed") or {}).values():
        out |= {w for w in re.findall(r"[A-Za-z_]\w*", str(text)) if w in names}
    return out & names


def _is_fictive(df) -> bool:
    return "fictif" in getattr(df, "columns", []) and bool(pd.Series(df["fictif"]).fillna(False).astype(bool).any())


def build_map(r: Recipe, cat) -> tuple[Map, list[str]]:
    """A :class:`Map` from a recipe (validated), and the catalogue layers it read."""
    validate_recipe(r, cat)
    d = r.doc
    used: list[str] = []
    fields_used: dict[str, set] = {}      # fields drawn per layer: credits name their sources
    joined: set = set()
    ext = d.get("extent")
    if isinstance(ext, list):
        ext = {"bbox": ext}
    bounds = None
    if isinstance(ext, dict) and ext.get("bbox"):
        bounds = tuple(float(v) for v in ext["bbox"])
    elif isinstance(ext, dict):
        e = cat.read(ext["layer"], where=ext.get("where") or None)
        if len(e) == 0:
            raise r.fail("extent.where", f"no feature of {ext['layer']!r} matches {ext.get('where')}")
        bounds = tuple(e.total_bounds)
        used.append(ext["layer"])
    m = Map(page=d.get("page", "A4"), orientation=d.get("orientation", "portrait"), extent=bounds,
            margin=float(d.get("margin", 0.05)), fictive=bool(d.get("fictive", False)),
            simplify_mm=float(d.get("simplify_mm", 0.15)), frame=d.get("frame", "fit"),
            layout=d.get("layout", "auto"))
    read_bbox = None
    if bounds is not None:
        cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        half = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) * 1.2
        read_bbox = (cx - half, cy - half, cx + half, cy + half)
    for i, spec in enumerate(d["layers"]):
        key = f"layers[{i}]"
        name = spec["layer"]
        t = spec.get("type", "base")
        ld = cat.layer_def(name)
        df = _read(cat, spec, bbox=read_bbox if (t == "base" and not spec.get("where")) else None)
        used.append(name)
        fields_used.setdefault(name, set()).update(_fields_of_spec(spec, ld))
        if spec.get("join"):
            j = spec["join"]
            used.append(j["layer"] if isinstance(j, dict) else j)
            joined.add(used[-1])
        if len(df) == 0 and t != "base":
            if spec.get("where") and cat.has_data(name):
                # the filter selects nothing on this sheet (e.g. no ERBM cité without the
                # open data): the layer draws nothing and has no legend block
                continue
            raise r.fail(f"{key}.layer", f"layer {name!r} is empty (not built or imported yet)")
        for k in ("var", "var2"):
            if t in ("choro", "prop", "prop_choro") and spec.get(k) and not (k == "var2" and t != "prop_choro"):
                vals = pd.to_numeric(df[spec[k]], errors="coerce")
                if not np.isfinite(vals.to_numpy(dtype=float)).any():
                    raise r.fail(f"{key}.{k}", f"field {spec[k]!r} has no value to map in {name!r}"
                                 + (f" joined with {spec['join']['layer'] if isinstance(spec['join'], dict) else spec['join']!r}"
                                    if spec.get("join") else "") + " (data not imported yet?)")
        style = dict(ld.style or {})
        kw: dict[str, Any] = {}
        for k in STYLE_KEYS:
            v = spec.get(k, style.get(k))
            if v is not None:
                kw[k] = v
        if t == "symbols" and "fill" not in spec and style.get("color"):
            kw["fill"] = style["color"]
        if t in ("choro", "prop_choro", "prop", "typo", "symbols"):
            kw.pop("fill", None) if t in ("choro",) else None
            kw.pop("hatch", None)
        if t == "choro":
            kw.pop("edgecolor", None) if "edgecolor" not in spec else None
            kw.pop("linewidth", None) if "linewidth" not in spec else None
        for k in ("var", "var2", "method", "k", "breaks", "palette", "colors", "nodata", "nodata_label",
                  "legend", "legend_title", "legend_title2", "legend_decimals", "legend_label", "inches",
                  "symbol", "order", "val_max", "markers"):
            if k in spec:
                kw[k] = spec[k]
        if t in ("choro", "prop", "prop_choro") and "legend_title" not in kw:
            kw["legend_title"] = _title_of(cat, name, spec["var"])
        if t == "prop_choro" and "legend_title2" not in kw:
            kw["legend_title2"] = _title_of(cat, name, spec["var2"])
        if t == "q6" or str(spec.get("method", "")).lower() == "q6":
            kw["k"] = 6
        if t in ("typo", "symbols") and spec.get("var"):
            cats = style.get("categories") or {}
            if "colors" not in kw and cats.get("field") == spec["var"]:
                kw["colors"] = cats.get("colors")
                if "markers" not in kw and cats.get("markers") and t == "symbols":
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
            if "legend_title" not in kw:
                kw["legend_title"] = _title_of(cat, name, spec["var"])
        if t in ("symbols",) and not spec.get("var") and "legend_label" not in kw:
            kw["legend_label"] = ld.title
        fictive = bool(spec.get("fictive", False)) or _is_fictive(df)
        try:
            m.layer(df, type=t, fictive=fictive, name=name, **kw)
        except (MapError, ValueError) as exc:
            raise r.fail(key, str(exc)) from None
        lab = spec.get("labels")
        if lab:
            ldf = df
            mask = np.ones(len(df), dtype=bool)
            if lab.get("where"):
                for f, v in lab["where"].items():
                    mask &= df[f].isin(v if isinstance(v, list) else [v]).to_numpy()
            if lab.get("unique"):
                # one label per text (two dispensaries of one commune: one «Pecquencourt»)
                first = ~pd.Series(df[lab["var"]].to_numpy()).where(mask).duplicated(keep="first").to_numpy()
                mask &= first | ~mask
            if not mask.all():
                ldf = df[mask]
            # point symbols (symbols layers, prop circles on points, points of a base layer):
            # labels beside them; polygons (and prop circles on polygons): centred
            L = m._layers[-1]
            sym_r = m.symbol_radius(L)
            if np.ndim(sym_r):
                sym_r = np.asarray(sym_r)[mask]
            m.labels(ldf, var=lab["var"], size=float(lab.get("size", 6)), halo=bool(lab.get("halo", True)),
                     priority=lab.get("priority"), color=lab.get("color", "#1a1a1a"),
                     weight=lab.get("weight", "normal"), max_labels=lab.get("max_labels"),
                     placement=lab.get("placement"), symbol_mm=sym_r,
                     where_points=True if (t == "symbols" or (t in ("prop", "prop_choro") and _on_points(L.geoms)))
                     else None)
    _focus_and_toponyms(m, d, cat, used)
    if d.get("title"):
        m.title(str(d["title"]))
    if d.get("subtitle"):
        m.subtitle(str(d["subtitle"]))
    m.legend(bool(d.get("legend", True)))
    m.scalebar(bool(d.get("scalebar", True)))
    m.arrow(bool(d.get("arrow", True)))
    ins = d.get("inset", True)
    if ins:
        ins = {"layer": "departements", "context": "bassin_minier"} if ins is True else dict(ins)
        g = cat.read(ins["layer"])
        ctx = cat.read(ins["context"]) if ins.get("context") else None
        if len(g):
            m.inset(g, context=ctx if ctx is not None and len(ctx) else None)
            used.append(ins["layer"])
    cred = d.get("credits") or {}
    if cred is not False:
        sources = []
        for name in dict.fromkeys(used):
            # a joined layer brings all its fields: all its sources
            fields = None if name in joined else fields_used.get(name, set())
            for s in cat.sources_for(name, fields=fields):
                sources.append(s.credit())
        notes = list(cred.get("notes") or [])
        m.credits(sources=sources + list(cred.get("sources") or []), notes=notes,
                  producer=cred.get("producer", "Mission Bassin Minier"), date=cred.get("date"))
    bm = d.get("basemap")
    if bm:
        bm = bm if isinstance(bm, dict) else {"source": bm}
        src = str(bm["source"])
        if ("/" in src or src.endswith((".tif", ".tiff"))) and not Path(src).is_absolute():
            src = str(Path(r.path).parent / src)
        m.basemap(src, alpha=float(bm.get("alpha", 1.0)))
    if d.get("logo"):
        m.logo(Path(r.path).parent / d["logo"] if not Path(d["logo"]).is_absolute() else d["logo"])
    md = dict(d.get("metadata") or {})
    m.metadata = {"Title": d.get("title", ""), "Subject": md.get("subject", d.get("subtitle", "")),
                  "Keywords": md.get("keywords", ["Mission Bassin Minier", "carte"]),
                  "Author": md.get("author", "Mission Bassin Minier Nord-Pas de Calais")}
    return m, list(dict.fromkeys(used))


def _focus_and_toponyms(m, d: dict, cat, used: list) -> None:
    """The focus veil (``focus: {layer, where, alpha}``: a coverage sheet's feature) and the
    town names (``toponyms``: true, false, or the naming rule; inside the focus only)."""
    from mbm_sig.maps import labels
    keep = None
    foc = d.get("focus")
    if foc:
        if not isinstance(foc, dict) or "layer" not in foc:
            raise ValueError("recipe key focus: expected {layer, where}")
        feat = cat.read(foc["layer"], where=foc.get("where"))
        if len(feat):
            m.focus(feat, alpha=float(foc.get("alpha", 0.7)))
            used.append(foc["layer"])
            t = labels.cached_towns(cat)
            inside = shapely.contains_xy(shapely.union_all(feat.geometry.values), t["x"].to_numpy(),
                                         t["y"].to_numpy())
            keep = set(t.loc[inside, "insee"])
    top = d.get("toponyms", True)
    if top is False or not cat.has_data("communes"):
        return
    opts = dict(top) if isinstance(top, dict) else {}
    color = opts.pop("color", "#1a1a1a")
    m.toponyms(labels.cached_towns(cat), rule=labels.TownRule(**opts), keep=keep, color=color)


def render_recipe(recipe, catalogue, out_path, fmt: str | None = "pdf", cmyk: bool = False, params=None):
    """Render a recipe (a :class:`Recipe` or a path) to ``out_path``; returns the
    :class:`RenderInfo` (pages, labels with their boxes, legend breaks, ``layers`` used)."""
    r = recipe if isinstance(recipe, Recipe) else load_recipe(recipe, params)
    m, used = build_map(r, catalogue)
    info = m.save(out_path, fmt=fmt, cmyk=cmyk)
    info.layers = used
    info.figure = None
    return info
