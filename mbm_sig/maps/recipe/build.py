"""From a recipe to a :class:`~mbm_sig.maps.sheet.Map`: layers and fields checked against
the catalogue's layer definitions, data read, layers, labels and furniture added."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mbm_sig.maps import expr, geom
from mbm_sig.maps import types as map_types
from mbm_sig.maps.errors import MapError
from mbm_sig.maps.recipe.load import Recipe, load_recipe
from mbm_sig.maps.sheet import Map


def layer_options(spec: dict, mt, ld, title_of) -> dict:
    """The options of :meth:`Map.layer` for a recipe layer: its keys that are options of
    the type, then the layer definition's style for the style options it does not give,
    then the type's defaults from the definition (field titles, category colours…)."""
    style = dict(ld.style or {})
    kw: dict[str, Any] = {}
    for k, o in mt.schema().items():
        if not o.recipe or k == "fictive":
            continue
        if k in spec:
            if not (o.style and spec[k] is None):
                kw[k] = spec[k]
        elif o.style and style.get(k) is not None:
            kw[k] = style[k]
    mt.recipe_defaults(spec, ld, kw, title_of)
    return kw


# ------------------------------------------------------------------------------ catalogue checks

def _fields_of(cat, name):
    return set(cat.layer_def(name).field_names)


class _Checker:
    """Layers and fields of a recipe against the catalogue's layer definitions."""

    def __init__(self, r: Recipe, cat):
        self.r, self.cat = r, cat
        self.known = set(cat.definitions())

    def layer_ok(self, name, key):
        if name not in self.known:
            raise self.r.fail(key, f"unknown layer {name!r}; known layers: {', '.join(sorted(self.known))}")

    def fields_ok(self, name, fields, key, available):
        for f in fields:
            if f not in available:
                raise self.r.fail(key, f"layer {name!r} has no field {f!r} (fields: {', '.join(sorted(available))})")

    def joined_fields(self, spec: dict, key: str, own: set) -> set:
        """The fields a join brings (its key must be a field of both layers)."""
        j = spec.get("join")
        if not j:
            return set()
        jname = j["layer"] if isinstance(j, dict) else j
        self.layer_ok(jname, f"{key}.join")
        jf = _fields_of(self.cat, jname)
        on = (j.get("on") if isinstance(j, dict) else None) or self.cat.layer_def(jname).key
        if on not in own or on not in jf:
            raise self.r.fail(f"{key}.join.on", f"join key {on!r} must be a field of both {spec['layer']!r} "
                              f"and {jname!r}")
        return jf

    def layer(self, spec: dict, key: str) -> None:
        name = spec["layer"]
        self.layer_ok(name, f"{key}.layer")
        own = _fields_of(self.cat, name)
        self.fields_ok(name, list(spec.get("where") or {}), f"{key}.where", own)
        available = own | self.joined_fields(spec, key, own)
        for cname, text in (spec.get("computed") or {}).items():
            missing = expr.names(text) - available
            if missing:
                raise self.r.fail(f"{key}.computed.{cname}",
                                  f"unknown field {sorted(missing)[0]!r} (fields: {', '.join(sorted(available))})")
            available.add(cname)
        for k, o in map_types.get(spec.get("type", "base")).schema().items():
            if o.field and spec.get(k):
                self.fields_ok(name, [spec[k]], f"{key}.{k}", available)
        lab = spec.get("labels")
        if lab:
            self.fields_ok(name, [lab["var"]] + ([lab["priority"]] if lab.get("priority") else []),
                           f"{key}.labels", available)

    def furniture(self, doc: dict) -> None:
        for top in ("extent", "series_of", "focus"):
            ext = doc.get(top)
            if isinstance(ext, dict) and ext.get("layer"):
                self.layer_ok(ext["layer"], f"{top}.layer")
                self.fields_ok(ext["layer"], list(ext.get("where") or {}), f"{top}.where",
                               _fields_of(self.cat, ext["layer"]))
        ins = doc.get("inset")
        if isinstance(ins, dict):
            for k in ("layer", "context"):
                if ins.get(k):
                    self.layer_ok(ins[k], f"inset.{k}")


def validate_recipe(r: Recipe, cat) -> None:
    """Check layers and fields against the catalogue's layer definitions."""
    check = _Checker(r, cat)
    for i, spec in enumerate(r.doc["layers"]):
        check.layer(spec, f"layers[{i}]")
    check.furniture(r.doc)


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


class _Builder:
    """Builds the :class:`Map` of one validated recipe, piece by piece, and records the
    catalogue layers and fields it reads (the credits name their sources)."""

    def __init__(self, r: Recipe, cat, series: bool = True):
        self.r, self.cat, self.d = r, cat, r.doc
        self.series = series            # decide a coverage series' orientation and layout
        self.used: list[str] = []
        self.fields_used: dict[str, set] = {}      # fields drawn per layer
        self.joined: set = set()
        self.subject = None             # the extent's features (a geometry): the map's subject

    def build(self) -> tuple[Map, list[str]]:
        bounds = self.extent()
        d = self.d
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
            self.layer(m, spec, f"layers[{i}]", read_bbox)
        self.focus_and_toponyms(m)
        self.furniture(m)
        self.credits(m)
        self.extras(m)
        if self.series and self.d.get("series_of"):
            m._orientation, m.layout = self.series_layout()
        elif self.series and self.d.get("sheet_layout"):
            from mbm_sig.maps.solver import Grid, GridLayout
            m.layout = GridLayout(Grid.from_dict(self.d["sheet_layout"]))     # type: ignore[assignment]
        return m, list(dict.fromkeys(self.used))

    def series_layout(self):
        """The orientation and layout of every sheet of a coverage series (``series_of``),
        decided once over all its features: among the orientations and layouts the recipe
        leaves open (``auto``), the one whose worst feature loses least against the layout
        that would suit that feature best (then the largest maps on the whole), laid out
        with the legend of the series' first feature; then one :class:`~mbm_sig.maps.solver.Grid`
        for them all (frame size and place, legend, inset and credits positions), made with
        every feature's own legend. The same for every sheet of the series, whichever is
        drawn first."""
        d = self.d
        so = d["series_of"]
        o_given, l_given = d.get("orientation", "portrait"), d.get("layout", "auto")
        key = (str(Path(self.r.path).resolve()), repr(sorted(so.items())), o_given, l_given,
               getattr(self.cat, "url", None))
        if key not in _SERIES_LAYOUTS:
            _SERIES_LAYOUTS[key] = self._decide_series_layout(so, o_given, l_given)
        return _SERIES_LAYOUTS[key]

    def _series_maps(self, so: dict) -> list:
        """The map of every feature of the series, as its own sheet builds it."""
        feats = self.cat.read(so["layer"], where=so.get("where") or None)
        if not len(feats):
            raise self.r.fail("series_of.where", f"no feature of {so['layer']!r} matches {so.get('where')}")
        geom_col = feats.geometry.name
        maps = []
        for _, row in feats.iterrows():
            params = {k: ("" if v is None else v) for k, v in row.items() if k != geom_col}
            r = load_recipe(self.r.path, {**self.r.params, **params})
            maps.append(_Builder(r, self.cat, series=False).build()[0])
        return maps

    def _decide_series_layout(self, so: dict, o_given: str, l_given: str):
        """Each feature's sheet laid out alone (its own legend: the classes and categories of
        its extent) with each orientation and layout left open; the one whose worst feature
        loses least scale against that feature's best (then the largest maps on the whole,
        geometric mean); the grid of those plans."""
        import math

        from mbm_sig.maps.draw import legend_blocks
        from mbm_sig.maps.furniture import fit_extent
        from mbm_sig.maps.solver import GridLayout, decide_grid
        maps = self._series_maps(so)
        blocks = []
        for m in maps:          # the legend of what the extent shows (draw.planned's first guess)
            x0, y0, x1, y1 = m.extent_bounds
            mx, my = (x1 - x0) * m.margin / 2 * 1.02, (y1 - y0) * m.margin / 2 * 1.02
            blocks.append(legend_blocks(m, (x0 - mx, y0 - my, x1 + mx, y1 + my)))
        orients = ("landscape", "portrait") if o_given == "auto" else (o_given,)
        layouts = ("bottom", "side") if l_given == "auto" else (l_given,)
        plans, scales = {}, {}          # (orientation, layout) -> plans, ground m per page mm of each feature
        for o in orients:
            for lay in layouts:
                row, ps = [], []
                for m, bl in zip(maps, blocks, strict=True):
                    m._orientation, m.layout = o, lay
                    p = m._plan(bl)
                    fw, fh = p.frame[2:]
                    x0, _, x1, _ = fit_extent(m.extent_bounds, fw / fh, m.margin)
                    row.append((x1 - x0) / fw)
                    ps.append(p)
                scales[(o, lay)], plans[(o, lay)] = row, ps
        best_each = [min(r[i] for r in scales.values()) for i in range(len(maps))]

        def cost(k):
            r = scales[k]
            return (round(max(v / b for v, b in zip(r, best_each, strict=True)), 3),
                    sum(math.log(v) for v in r))
        o, lay = min(scales, key=cost)
        for m in maps:
            m._orientation, m.layout = o, lay
        ps = plans[(o, lay)]
        return o, GridLayout(decide_grid(list(zip(maps, ps, strict=True)), ps[0].layout or lay))

    def focus_and_toponyms(self, m: Map) -> None:
        """The focus veil (a coverage sheet's feature) and the town names (inside the focus
        only; outside the extent's features, the map's subject, as context), unless the
        recipe turns them off."""
        from mbm_sig.maps import labels
        d, cat = self.d, self.cat
        keep = None
        foc = d.get("focus")
        if foc:
            feat = cat.read(foc["layer"], where=foc.get("where"))
            if len(feat):
                m.focus(feat, alpha=float(foc.get("alpha", 0.85)), color=str(foc.get("color", "#f2f2f2")))
                self.used.append(foc["layer"])
                t = labels.cached_towns(cat)
                import shapely
                inside = shapely.contains_xy(geom.union_of(feat.geometry.values), t["x"].to_numpy(),
                                             t["y"].to_numpy())
                keep = set(t.loc[inside, "insee"])
        top = d.get("toponyms", True)
        if top is False or not cat.has_data("communes"):
            return
        opts = dict(top) if isinstance(top, dict) else {}
        color = opts.pop("color", "#1a1a1a")
        subject = m._focus["union"] if m._focus is not None else self.subject
        m.toponyms(labels.cached_towns(cat), rule=labels.TownRule(**opts), keep=keep, color=color, subject=subject)

    def extent(self):
        """The ground bounds of the recipe's extent (None: the first layer's)."""
        ext = self.d.get("extent")
        if isinstance(ext, list):
            ext = {"bbox": ext}
        if isinstance(ext, dict) and ext.get("bbox"):
            return tuple(float(v) for v in ext["bbox"])
        if isinstance(ext, dict):
            e = self.cat.read(ext["layer"], where=ext.get("where") or None)
            if len(e) == 0:
                raise self.r.fail("extent.where", f"no feature of {ext['layer']!r} matches {ext.get('where')}")
            self.used.append(ext["layer"])
            self.subject = geom.union_of(e.geometry.values, valid=True)
            return tuple(e.total_bounds)
        return None

    def layer(self, m: Map, spec: dict, key: str, read_bbox) -> None:
        r, cat = self.r, self.cat
        name = spec["layer"]
        t = spec.get("type", "base")
        mt = map_types.get(t)
        ld = cat.layer_def(name)
        df = _read(cat, spec, bbox=read_bbox if (t == "base" and not spec.get("where")) else None)
        self.used.append(name)
        self.fields_used.setdefault(name, set()).update(_fields_of_spec(spec, ld))
        if spec.get("join"):
            j = spec["join"]
            self.used.append(j["layer"] if isinstance(j, dict) else j)
            self.joined.add(self.used[-1])
        if len(df) == 0 and t != "base":
            if spec.get("where") and cat.has_data(name):
                # the filter selects nothing on this sheet (e.g. no ERBM cité without the
                # open data): the layer draws nothing and has no legend block
                return
            raise r.fail(f"{key}.layer", f"layer {name!r} is empty (not built or imported yet)")
        for k in mt.numeric_vars:
            if spec.get(k):
                vals = pd.to_numeric(df[spec[k]], errors="coerce")
                if not np.isfinite(vals.to_numpy(dtype=float)).any():
                    j = spec.get("join")
                    joined = f" joined with {j['layer'] if isinstance(j, dict) else j!r}" if j else ""
                    raise r.fail(f"{key}.{k}", f"field {spec[k]!r} has no value to map in {name!r}{joined} "
                                 "(data not imported yet?)")
        kw = layer_options(spec, mt, ld, lambda f: _title_of(cat, name, f))
        fictive = bool(spec.get("fictive", False)) or _is_fictive(df)
        try:
            m.layer(df, type=t, fictive=fictive, name=name, **kw)
        except (MapError, ValueError) as exc:
            raise r.fail(key, str(exc)) from None
        if spec.get("labels"):
            self.labels(m, mt, df, spec["labels"])

    @staticmethod
    def labels(m: Map, mt, df, lab: dict) -> None:
        """Labels of the layer just added: beside its point symbols, centred on areas."""
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
        L = m._layers[-1]
        sym_r = m.symbol_radius(L)
        if np.ndim(sym_r):
            sym_r = np.asarray(sym_r)[mask]
        m.labels(ldf, var=lab["var"], size=float(lab.get("size", 6)), halo=bool(lab.get("halo", True)),
                 priority=lab.get("priority"), color=lab.get("color", "#1a1a1a"),
                 weight=lab.get("weight", "normal"), max_labels=lab.get("max_labels"),
                 placement=lab.get("placement"), symbol_mm=sym_r, where_points=mt.labels_on_points(L))

    def furniture(self, m: Map) -> None:
        """Title, subtitle, legend, scale bar, north arrow, inset."""
        d, cat = self.d, self.cat
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
                self.used.append(ins["layer"])

    def credits(self, m: Map) -> None:
        """Credits: the sources of the layers and fields used, the recipe's notes."""
        cred = self.d.get("credits") or {}
        sources = []
        for name in dict.fromkeys(self.used):
            # a joined layer brings all its fields: all its sources
            fields = None if name in self.joined else self.fields_used.get(name, set())
            for s in self.cat.sources_for(name, fields=fields):
                sources.append(s.credit())
        notes = list(cred.get("notes") or [])
        m.credits(sources=sources + list(cred.get("sources") or []), notes=notes,
                  producer=cred.get("producer", "Mission Bassin Minier"), date=cred.get("date"))

    def extras(self, m: Map) -> None:
        """Basemap, logo, PDF metadata."""
        d, base = self.d, Path(self.r.path).parent
        bm = d.get("basemap")
        if bm:
            bm = bm if isinstance(bm, dict) else {"source": bm}
            src = str(bm["source"])
            if ("/" in src or src.endswith((".tif", ".tiff"))) and not Path(src).is_absolute():
                src = str(base / src)
            m.basemap(src, alpha=float(bm.get("alpha", 1.0)))
        if d.get("logo"):
            m.logo(base / d["logo"] if not Path(d["logo"]).is_absolute() else d["logo"])
        md = dict(d.get("metadata") or {})
        m.metadata = {"Title": d.get("title", ""), "Subject": md.get("subject", d.get("subtitle", "")),
                      "Keywords": md.get("keywords", ["Mission Bassin Minier", "carte"]),
                      "Author": md.get("author", "Mission Bassin Minier Nord-Pas de Calais")}


_SERIES_LAYOUTS: dict = {}      # (recipe, series_of, orientation, layout, catalogue) -> (orientation, layout)


def series_layouts() -> dict:
    """The coverage series' layouts decided in this process so far (a copy: plain values)."""
    return dict(_SERIES_LAYOUTS)


def adopt_series_layouts(layouts: dict) -> None:
    """Keep the layouts another process decided (:func:`series_layouts`)."""
    _SERIES_LAYOUTS.update(layouts)


def layouts_as_values(layouts: dict) -> dict:
    """Series layouts (:func:`series_layouts`) in plain values (tuples, strings, numbers), to
    keep across runs; :func:`layouts_from_values` gives them back, equal."""
    import dataclasses
    return {k: (o, dataclasses.astuple(lay.grid)) for k, (o, lay) in layouts.items()}


def layouts_from_values(values: dict) -> dict:
    """The series layouts of :func:`layouts_as_values`'s plain values."""
    from mbm_sig.maps.solver import Grid, GridLayout
    return {tuple(k): (str(o), GridLayout(Grid(*g))) for k, (o, g) in values.items()}


def forget_series_layouts(recipes=None) -> None:
    """Decide every series' layout again (a test, or a warm process whose recipes changed);
    ``recipes`` (resolved paths): only those recipes' series."""
    if recipes is None:
        _SERIES_LAYOUTS.clear()
        return
    for k in [k for k in _SERIES_LAYOUTS if k[0] in set(recipes)]:
        del _SERIES_LAYOUTS[k]


def decide_series_layout(r: Recipe, cat) -> None:
    """Decide (and keep, as the first sheet drawn would) the orientation and layout of a coverage
    series' sheets (``series_of``): a parallel atlas decides them once before forking its workers."""
    if r.doc.get("series_of"):
        _Builder(r, cat).series_layout()


def build_map(r: Recipe, cat) -> tuple[Map, list[str]]:
    """A :class:`Map` from a recipe (validated against the catalogue), and the catalogue
    layers it read."""
    validate_recipe(r, cat)
    return _Builder(r, cat).build()


def render_recipe(recipe, catalogue, out_path, fmt: str | None = "pdf", cmyk: bool = False, params=None):
    """Render a recipe (a :class:`Recipe` or a path) to ``out_path``; returns the
    :class:`RenderInfo` (pages, labels with their boxes, legend breaks, ``layers`` used)."""
    r = recipe if isinstance(recipe, Recipe) else load_recipe(recipe, params)
    m, used = build_map(r, catalogue)
    info = m.save(out_path, fmt=fmt, cmyk=cmyk)
    info.layers = used
    info.figure = None
    return info
