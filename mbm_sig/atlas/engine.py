"""The atlas engine: an atlas definition (YAML in ``atlases/``) becomes one print-ready PDF
book — cover, table of contents, sections of map sheets (some iterated over a coverage
layer like a QGIS atlas), attribute tables, «cartes en attente de données», sources —
with bookmarks and page numbers, and on request one file per sheet.

Sheets render in parallel on all cores. The book is written to a temporary file and renamed:
an error in one sheet names the sheet and its recipe and leaves no half-written atlas.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mbm_sig.atlas import pages
from mbm_sig.atlas.charts import is_map_page
from mbm_sig.atlas.errors import AtlasError, AtlasFailure
from mbm_sig.atomic import atomic_path, inside, safe_name, scratch
from mbm_sig.catalogue import Catalogue
from mbm_sig.catalogue.layerdef import Source
from mbm_sig.config import ATLASES_DIR, load_yaml, settings
from mbm_sig.maps import expr, fmt

# ---------------------------------------------------------------------------------------
# definition

@dataclass
class SheetSpec:
    title: str
    kind: str                    # "map" or "table"
    recipe: Path | None = None
    table: dict | None = None
    coverage: dict | None = None
    requires: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    file_name: str | None = None
    waiting: dict = field(default_factory=dict)   # the reader's «missing» and «holder» of this sheet


@dataclass
class Section:
    title: str
    sheets: list[SheetSpec]
    coverage: dict | None = None     # one section per feature (title and sheets patterned)
    in_book: bool = True             # false: only in the books of one territory (--split-by, packs)


@dataclass
class Atlas:
    name: str
    title: str
    subtitle: str
    edition: str
    producer: str
    output: str
    sections: list[Section]
    cover_notes: list[str] = field(default_factory=list)
    method_notes: list[str] = field(default_factory=list)
    path: Path | None = None
    series: dict = field(default_factory=dict)          # comparable series (mbm_sig.atlas.series)
    series_values: dict = field(default_factory=dict)   # their breaks and scales, once per render


def _atlas_yaml(path: Path):
    """The parsed YAML of an atlas definition file; a file that is not UTF-8 text or not YAML
    is an :class:`AtlasError` naming it."""
    import yaml
    try:
        with open(path, encoding="utf-8") as fh:
            return load_yaml(fh)
    except UnicodeDecodeError:
        hint = (" (a book? `mbm-sig check NAME --pdf FILE` checks a rendered one)"
                if path.suffix.lower() == ".pdf" else "")
        raise AtlasError(f"{path}: not an atlas definition: not UTF-8 text (an atlas is a YAML file){hint}") from None
    except yaml.YAMLError as exc:
        raise AtlasError(f"{path}: invalid YAML: {exc}") from None


def load_atlas(name_or_path: str | Path) -> Atlas:
    path = Path(name_or_path)
    if not path.suffix:
        path = ATLASES_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in ATLASES_DIR.glob("*.yaml")))
        raise AtlasError(f"atlas {name_or_path!r} not found (atlases: {known})")
    doc = _atlas_yaml(path)
    from mbm_sig.atlas.definition import check_definition
    check_definition(doc, path)
    sections = []
    for i, sec in enumerate(doc["sections"]):
        sheets = []
        for j, sh in enumerate(sec.get("sheets", [])):
            where = f"{path}: sections[{i}].sheets[{j}]"
            if sum(k in sh for k in ("recipe", "table", "chart")) != 1:
                raise AtlasError(f"{where}: give exactly one of 'recipe', 'table' or 'chart'")
            recipe = None
            if "recipe" in sh:
                recipe = (path.parent / sh["recipe"]).resolve()
                if not recipe.exists():
                    raise AtlasError(f"{where}: recipe {recipe} not found")
            if "title" not in sh and ("table" in sh or "chart" in sh):
                raise AtlasError(f"{where}: a table or chart needs a 'title'")
            if "chart" in sh:
                from mbm_sig.atlas.charts import CHARTS
                if sh["chart"].get("name") not in CHARTS:
                    raise AtlasError(f"{where}: unknown chart {sh['chart'].get('name')!r} "
                                     f"(charts: {', '.join(sorted(CHARTS))})")
            cov = sh.get("coverage")
            if cov is not None and "layer" not in cov:
                raise AtlasError(f"{where}: coverage needs a 'layer'")
            sheets.append(SheetSpec(
                title=sh.get("title") or _recipe_title(recipe),
                kind="map" if recipe else ("table" if "table" in sh else "chart"),
                recipe=recipe, table=sh.get("table") or sh.get("chart"), coverage=cov,
                requires=list(sh.get("requires", [])), params=dict(sh.get("params", {})),
                file_name=sh.get("file_name"), waiting=dict(sh.get("waiting") or {})))
        scov = sec.get("coverage")
        if scov is not None:
            if "layer" not in scov:
                raise AtlasError(f"{path}: sections[{i}].coverage needs a 'layer'")
            if any(sh.coverage for sh in sheets):
                raise AtlasError(f"{path}: sections[{i}]: a covered section's sheets cannot have their own coverage")
        sections.append(Section(sec["title"], sheets, scov, bool(sec.get("in_book", True))))
    return Atlas(name=doc.get("name", path.stem), title=doc["title"], subtitle=doc.get("subtitle", ""),
                 edition=str(doc.get("edition", "")), producer=doc.get("producer", "Mission Bassin Minier"),
                 output=doc.get("output", f"atlas-{path.stem}.pdf"), sections=sections,
                 cover_notes=doc.get("cover_notes", []), method_notes=doc.get("method_notes", []), path=path,
                 series=dict(doc.get("series") or {}))


def _recipe_doc(recipe: Path) -> dict:
    """A recipe's YAML, read once while the file is unchanged (a coverage sheet names the
    same recipe for every feature)."""
    return _read_recipe_doc(Path(recipe), Path(recipe).stat().st_mtime_ns)


def recipe_files(recipe: Path) -> list[Path]:
    """The files a recipe draws besides the catalogue (its logo, a basemap GeoTIFF), which its
    key holds by content (the recipe itself by what it says, wherever it lies)."""
    doc = _recipe_doc(Path(recipe))
    out = []
    bm = doc.get("basemap")
    src = str((bm if isinstance(bm, dict) else {"source": bm}).get("source") or "") if bm else ""
    for name in (src if ("/" in src or src.endswith((".tif", ".tiff"))) else "", doc.get("logo") or ""):
        if name:
            p = Path(name)
            out.append(p if p.is_absolute() else Path(recipe).parent / p)
    return out


@functools.lru_cache(maxsize=256)
def _read_recipe_doc(recipe: Path, mtime_ns: int) -> dict:
    with open(recipe, encoding="utf-8") as fh:
        return load_yaml(fh) or {}


def _recipe_title(recipe: Path) -> str:
    return _recipe_doc(recipe).get("title", recipe.stem)


# ---------------------------------------------------------------------------------------
# plan: every page, numbered, before anything is drawn

@dataclass
class Page:
    kind: str                    # cover, toc, map, table, pending, sources
    title: str = ""
    section: str | None = None
    spec: SheetSpec | None = None
    params: dict = field(default_factory=dict)
    rows: list | None = None
    part: int = 1
    parts: int = 1
    number: int = 0
    file_name: str | None = None
    coverage: str | None = None  # the coverage layer whose feature this page is made for (params: its row)
    shared: list = field(default_factory=list)   # short tables printed under this one, on its page
    columns: dict | None = None  # a table's columns (the definition's, an identifier added where names repeat)
    widths: tuple | None = None  # a table's column widths (mm), from all its rows: the same on each of its pages


class _Fmt(dict):
    def __missing__(self, key):
        raise AtlasError(f"pattern field {{{key}}} is not an attribute of the coverage layer")


def _pattern(text: str, params: dict) -> str:
    return text.format_map(_Fmt(params)) if text else text


def _check_requires(cat: Catalogue, spec: SheetSpec) -> dict | None:
    """None when the sheet's data are present, else a «waiting for data» item (the reader's
    «missing» names every data the sheet lacks, of the same holder)."""
    first = None
    for req in spec.requires:
        item = _check_require(cat, spec, req)
        if item is None:
            continue
        if first is None:
            first = item
        elif item["holder"] == first["holder"] and item["missing"] not in first["missing"]:
            first["missing"] = first["missing"].removesuffix(", par commune") + " ; " + item["missing"]
    if first is not None:
        # sheets waiting on one layer each say what they lack and who holds it (``waiting``)
        first.update({k: v for k, v in spec.waiting.items() if k in ("missing", "holder")})
    return first


def _check_require(cat: Catalogue, spec: SheetSpec, req: str) -> dict | None:
    """None when the requirement ``req`` («layer» or «layer.field») is met, else its «waiting for data» item."""
    layer, _, fld = req.partition(".")
    ld = cat.layer_def(layer)
    ok = cat.has_data(layer)
    if ok and fld:
        vals = cat.read(layer, columns=[fld])[fld]
        ok = vals.notna().any()
    if not ok:
        if ld.build:
            srcs = ", ".join(s.mirror or s.id for s in cat.sources_for(layer))
            reason = (f"La couche «{ld.title}» n'a pas pu être construite : source absente ({srcs}). "
                      "Définir MBM_SIG_DATA_DIR (miroir des téléchargements officiels) ou lancer mbm-sig fetch, "
                      "puis mbm-sig build.")
            command = "mbm-sig fetch && mbm-sig build"
            missing = f"{_reader_words(ld.title)} (données ouvertes pas encore téléchargées)"
            holder = " ; ".join(dict.fromkeys(f"{s.producer} ({s.title})" for s in cat.sources_for(layer)))
        else:
            what = f"le champ «{ld.field(fld).title or fld}»" if fld else "les données"
            cols = [f.name for f in ld.fields if f.required] + ([fld] if fld else [])
            geom = "" if not ld.has_geometry else f", géométrie {ld.geometry} (toute projection, ou x/y)"
            reason = (f"Importer {what} de la couche «{ld.title}» ({ld.name}). Colonnes attendues : "
                      + ", ".join(dict.fromkeys(cols)) + geom + ".")
            command = f"mbm-sig import {ld.name} FICHIER"
            # in a reader's words: what is missing, never the layer or field it fills
            missing = (_reader_words(ld.field(fld).title or fld) if fld else _reader_words(ld.title))
            if fld and ld.key == "insee":
                missing += ", par commune"
            holder = ld.holder
        # reason and command go to the command's output; missing and holder to the reader
        return {"title": spec.title, "reason": reason, "command": command, "missing": missing,
                "holder": holder}
    return None


def _reader_words(title: str) -> str:
    """A layer or field title as the middle of a sentence: «Part du régime minier» ->
    «part du régime minier» (acronyms kept: «CMU-C»)."""
    t = str(title).strip()
    return t[0].lower() + t[1:] if len(t) > 1 and t[0].isupper() and not t[1].isupper() else t


def plan(atlas: Atlas, cat: Catalogue, only: list[str] | None = None,
         territorial: bool = False) -> tuple[list[Page], list[dict]]:
    """Every body page in order, and the sheets waiting for data. A section with a
    ``coverage`` repeats (title and sheets) for each feature of the coverage layer, like a
    QGIS atlas whose page holds several items. Sections with ``in_book: false`` are planned
    only for the books of one territory (``territorial``: ``--split-by``, packs)."""
    body: list[Page] = []
    pending: list[dict] = []
    for sec in atlas.sections:
        if not (sec.in_book or territorial):
            continue
        if sec.coverage:
            feats = _features(cat, sec.coverage, {})
            runs = [(_pattern(sec.coverage.get("section_title", sec.title), f), f) for f in feats]
            if not runs:
                pending.append(_empty_coverage(cat, sec.title, sec.coverage))
        else:
            runs = [(sec.title, {})]
        for sec_title, sec_params in runs:
            sec_pages = []
            for spec in sec.sheets:
                sec_pages += _sheet_pages(cat, sec, spec, sec_title, sec_params, pending)
            if only:
                sec_pages = [p for p in sec_pages if _selected(p, only)]
            body += sec_pages
    body = _share_table_pages(body)
    if only:
        pending = [p for p in pending if any(o.lower() in p["title"].lower() for o in only)]
    if only and not body:
        raise AtlasError(f"--only {' '.join(only)}: no sheet matches (titles: "
                         + "; ".join(p.title for p in plan(atlas, cat)[0][:12]) + " …)")
    return body, pending


def _sheet_pages(cat: Catalogue, sec: Section, spec: SheetSpec, sec_title: str, sec_params: dict,
                 pending: list[dict]) -> list[Page]:
    """The pages of one sheet of a section (one per coverage feature, tables in parts);
    a sheet waiting for data, or whose coverage is empty, goes to ``pending``."""
    waiting = _check_requires(cat, spec)
    if waiting:
        if waiting not in pending:
            pending.append(waiting)
        return []
    feats = _features(cat, spec.coverage, spec.params) if spec.coverage else [dict(spec.params)]
    if not feats:
        item = _empty_coverage(cat, spec.title, spec.coverage)
        if item not in pending:
            pending.append(item)
    out: list[Page] = []
    for params in feats:
        params = {**sec_params, **params}
        name = spec.coverage.get("page_name", spec.title) if spec.coverage else spec.title
        title = _pattern(name, params)
        fname = _pattern((spec.coverage or {}).get("file_name") or spec.file_name or "", params) or None
        cov_layer = (spec.coverage or sec.coverage or {}).get("layer")
        if spec.kind in ("map", "chart"):
            out.append(Page(spec.kind, title, sec_title, spec, params, file_name=fname, coverage=cov_layer))
        else:
            for tp in _table_pages(cat, spec, title, sec_title, params, fname):
                tp.coverage = cov_layer
                out.append(tp)
    return out


def _share_table_pages(body: list[Page]) -> list[Page]:
    """A one-page table shares the page of the table before it in its section (that table's
    only or last page) when they fit it together (no page two-thirds empty when the next
    table could share it)."""
    out: list[Page] = []
    for p in body:
        prev = out[-1] if out else None
        if (prev is not None and p.kind == "table" and prev.kind == "table" and p.parts == 1
                and prev.part == prev.parts and p.section == prev.section
                and pages.shares_page([(q.columns, q.rows, q.widths) for q in [prev, *prev.shared, p]])):
            prev.shared.append(p)
            continue
        out.append(p)
    return out


def _selected(page: Page, only: list[str]) -> bool:
    names = {page.title.lower(), (page.file_name or "").lower(),
             (page.spec.recipe.stem.lower() if page.spec and page.spec.recipe else "")}
    return any(o.lower() in names or o.lower() in page.title.lower() for o in only)


def _empty_coverage(cat: Catalogue, title: str, cov: dict) -> dict:
    ld = cat.layer_def(cov["layer"])
    if "{" in title:          # a patterned title: name what the coverage would have made
        title = f"{ld.title} : une section par élément"
    return {"title": title,
            "reason": f"La couche «{ld.title}» ne compte aucun élément"
                      + (f" pour {cov['where']}" if cov.get("where") else "")
                      + " : rien à cartographier.",
            "command": "mbm-sig build" if ld.build else f"mbm-sig import {ld.name} FICHIER"}


def sort_key(series):
    """French collation (:func:`mbm_sig.maps.fmt.collation_key`: accents, case and œ folded,
    Nœux-les-Mines among the Noeux…) for text columns, as ranks; other columns as they are."""
    if series.dtype != object and not str(series.dtype).startswith("str"):
        return series
    ranks = {v: i for i, v in enumerate(sorted(set(series.dropna()), key=fmt.collation_key))}
    return series.map(lambda v: len(ranks) if pd.isna(v) else ranks[v])


def skip_empty_keys(cat: Catalogue, cov: dict, df=None) -> set:
    """The keys of the coverage features ``skip_empty`` keeps: those named by a listed layer's
    ``field``, or (an item without ``field``) holding the representative point of one of its rows."""
    key = cov.get("key") or cat.layer_def(cov["layer"]).key
    present: set = set()
    for item in cov.get("skip_empty") or []:
        if item.get("field"):
            present |= set(cat.read(item["layer"], columns=[item["field"]])[item["field"]].dropna())
        else:
            import shapely
            if df is None:
                df = cat.read(cov["layer"], where=cov.get("where"))
            pts = _representative_points(cat.read(item["layer"]))
            present |= {k for k, g in zip(df[key], df.geometry.values, strict=True)
                        if len(pts) and shapely.contains_xy(g, pts[:, 0], pts[:, 1]).any()}
    return present


def _features(cat: Catalogue, cov: dict, base: dict) -> list[dict]:
    """The coverage layer's features (filtered, sorted) as pattern parameters; with
    ``skip_empty`` ([{layer, field}] and the coverage ``key``), features for which every listed
    layer has no row are left out (an EPCI with no cité nor terril; :func:`skip_empty_keys`)."""
    df = cat.read(cov["layer"], where=cov.get("where"))
    if cov.get("skip_empty"):
        key = cov.get("key") or cat.layer_def(cov["layer"]).key
        df = df[df[key].isin(skip_empty_keys(cat, cov, df))]
    sort = cov.get("sort")
    if sort in ("@x", "@y"):
        # geographic order: west to east (@x) or south to north (@y), like a QGIS sort
        # expression on x($geometry)
        pts = df.geometry.representative_point()
        df = df.assign(_order=pts.x if sort == "@x" else pts.y).sort_values("_order").drop(columns="_order")
    elif sort:
        df = df.sort_values(sort, key=sort_key)
    geom = df.geometry.name if hasattr(df, "geometry") else None
    cols = [c for c in df.columns if c != geom]
    rows = []
    # row tuples of Python objects (ints as int, a missing Int64 as <NA>), as iterrows gives
    # them, without a Series per row (1534 communes: 70 -> 9 ms)
    for values in df[cols].astype(object).itertuples(index=False, name=None):
        rows.append({**base, **{k: ("" if v is None else v if isinstance(v, (int, float)) else str(v))
                                for k, v in zip(cols, values, strict=True)}})
    return rows


def _representative_points(df):
    """(n, 2) array of the representative points of a layer's rows (those with a geometry)."""
    import numpy as np
    import shapely
    g = df.geometry[df.geometry.notna() & ~df.geometry.is_empty] if hasattr(df, "geometry") else None
    if g is None or not len(g):
        return np.zeros((0, 2))
    return shapely.get_coordinates(g.representative_point().values)


def _within(cat, df, within: dict, params: dict):
    """The rows of ``df`` whose representative point lies in the features ``within`` selects
    (``{layer, where}``, patterns allowed): a table of a coverage feature's rows, as a QGIS
    attribute table filtered to the atlas feature."""
    import numpy as np
    import shapely
    where = {k: _pattern(v, params) if isinstance(v, str) else v for k, v in (within.get("where") or {}).items()}
    feats = cat.read(within["layer"], where=where or None)
    if not len(df) or not len(feats):
        return df.iloc[0:0]
    area = shapely.union_all(feats.geometry.values)
    keep = np.array(df.geometry.notna() & ~df.geometry.is_empty, dtype=bool)
    pts = df.geometry[keep].representative_point()
    keep[keep] = shapely.contains_xy(area, pts.x.to_numpy(), pts.y.to_numpy())
    return df[keep]


def _tell_apart(cat, t: dict, df):
    """Rows that repeat a name the other columns shown do not tell apart (two «Résidence du
    Parc» of Méricourt, both in the inscribed property) carry their identifier after the
    name, «Résidence du Parc (BI-0078)»: an identifier where names repeat, without a
    column that would make every row of the table wrap."""
    cols = t["columns"]
    key = cat.layer_def(t["layer"]).key
    # the text columns shown (a yes/no or a count does not name a row); the name is the first
    # of them (a number keyed to a map, «N°», may come before it)
    shown = [k for k in cols if k in df and df[k].dropna().map(lambda v: isinstance(v, str)).all()]
    first = next((k for k in cols if k in shown), None)
    if not key or key in cols or key not in df or first is None:
        return df
    dup = df.duplicated(subset=shown, keep=False)
    if not dup.any():
        return df
    df = df.copy()
    # an internal identifier (BI-0112) says nothing to a reader: the rows a name repeats on
    # are numbered in their order instead («Résidence du Parc (1 sur 2)»)
    groups = df.loc[dup].groupby(shown, sort=False, dropna=False)
    rank = groups.cumcount() + 1
    size = groups[first].transform("size")
    df.loc[dup, first] = [f"{n} ({k})" if not pages.ID_PATTERN.fullmatch(str(k)) else f"{n} ({i} sur {c})"
                          for n, k, i, c in zip(df.loc[dup, first], df.loc[dup, key], rank, size, strict=True)]
    return df


def _table_pages(cat, spec: SheetSpec, title, section, params, fname) -> list[Page]:
    t = spec.table
    where = {k: _pattern(v, params) if isinstance(v, str) else v for k, v in (t.get("where") or {}).items()}
    df = cat.read(t["layer"], where=where or None)
    if t.get("within"):
        df = _within(cat, df, t["within"], params)
    if t.get("sort"):
        df = df.sort_values(t["sort"], key=sort_key)
    cols = t["columns"]
    told = _tell_apart(cat, t, df)
    if t.get("sort") and told is not df:
        # the names told apart keep the French order: «Résidence du Parc» (zone tampon) before
        # «Résidence du Parc (1 sur 2)» (bien inscrit)
        told = told.sort_values(t["sort"], key=sort_key, kind="stable")
    df = told
    rows = [{k: r.get(k) for k in cols} for r in df.to_dict("records")]
    shown, rows = pages.reader_rows(cols, rows)     # identifiers as perimeters, constant columns said once
    summed = set((t.get("total") or {}).get("sum", []))
    for k, text in ((t.get("total") or {}).get("ratio") or {}).items():
        unsummed = expr.names(text) - summed
        if k not in cols or unsummed:
            raise AtlasError(f"table «{title}»: total.ratio.{k}: " + (
                f"{text!r} uses {', '.join(sorted(unsummed))}, which total.sum does not sum "
                f"({', '.join(sorted(summed)) or 'nothing'})" if unsummed else f"{k!r} is not a column of the table"))
    if t.get("total") and rows:
        # a total line (table: total: {label: …, sum: [columns]}): the sum of the columns listed
        tot = {k: None for k in cols}
        # the label in the first text column shown (not a number column such as «N°», which
        # it would widen to the label's length)
        text_cols = [k for k in shown if k not in summed
                     and not all(isinstance(r.get(k), (int, float)) or r.get(k) is None for r in rows)]
        tot[(text_cols or list(shown) or list(cols))[0]] = t["total"].get("label", "Total")
        for k in t["total"].get("sum", []):
            tot[k] = pd.to_numeric(df[k], errors="coerce").sum() if k in df else None
            if k in df and pd.api.types.is_integer_dtype(df[k]):
                tot[k] = int(tot[k])
        # a share or a density of the whole: its expression on the sums (not a sum of ratios)
        for k, text in (t["total"].get("ratio") or {}).items():
            v = float(expr.evaluate(text, pd.DataFrame([{c: tot.get(c) for c in expr.names(text)}])).iloc[0])
            tot[k] = None if v != v else v
        rows.append({**tot, pages.TOTAL_KEY: True})
    chunks = pages.paginate(shown, rows, note=_table_note(cat, t["layer"]))   # by wrapped height, lines shared evenly
    widths = pages.table_widths(shown, rows) if len(chunks) > 1 else None
    return [Page("table", title, section, spec, params, rows=ch, part=i + 1, parts=len(chunks),
                 file_name=f"{fname}-{i + 1}" if fname and len(chunks) > 1 else fname, columns=shown, widths=widths)
            for i, ch in enumerate(chunks)]


# ---------------------------------------------------------------------------------------
# rendering

_WORKER: dict = {}


def _init_worker(db_url: str, inherited: bool = False) -> None:
    """A worker's catalogue. A forked worker keeps the parent's GeoPackage catalogue
    (``inherited``): its layer, font and geometry caches, warmed by the first page the parent
    rendered, are shared copy-on-write instead of being rebuilt in every worker (which made
    two workers no faster than one). A PostGIS catalogue is reopened: connections do not
    survive a fork."""
    import warnings
    warnings.filterwarnings("ignore")
    cat = _WORKER.get("cat")
    if not (inherited and cat is not None and cat.url == db_url and cat.backend.kind == "gpkg"):
        _WORKER["cat"] = Catalogue.open(db_url)


def _render_parallel(jobs: list, render, cat: Catalogue, n_workers: int, tmp: Path, meanwhile=None):
    """The results of ``render`` on every job (in the order they are done), on ``n_workers``
    processes: this one and ``n_workers - 1`` forked from it once it holds what every page loads
    on first use (:func:`_warm`: drawing modules, print font, the pages' layers), shared
    copy-on-write instead of loaded again by each. The jobs stay in the inherited memory;
    each process takes the next one from a shared counter, the costliest pages first
    (:func:`_cost`: a long page started last keeps one core busy while the other waits). Once the
    workers are started this process first runs ``meanwhile()`` (the book's own pages: the shared
    counter then gives it fewer sheets, and the last ones end together) while the first worker
    makes what every sheet decides on first use (:func:`_decide`: the town names, the coverage
    series' layouts) and sends it here: made once, in parallel, instead of before the fork (until
    it comes, this process draws tables, which need none, from the cheap end of the order). A
    worker that dies is a failure naming the sheet it was rendering."""
    import ctypes
    import mmap
    from multiprocessing.connection import wait
    ctx = mp.get_context("fork")
    _warm(jobs[0][1], cat, [j[2] for j in jobs], tmp)
    # a GeoPackage's layers are in memory since the warm-up: counted there, not by reading the file's
    # metadata again (some 10 ms a layer, before the fork)
    count = functools.lru_cache(maxsize=None)(
        (lambda name: len(cat.read(name))) if cat.backend.kind == "gpkg"
        else (lambda name: cat.backend.count(name) if cat.has_data(name) else 0))
    order = sorted(range(len(jobs)), key=lambda k: -_cost(jobs[k][2], count))
    # [first job left, end of the jobs left], shared: two integers on an anonymous shared page and a
    # lock (multiprocessing's Array sets up its shared heap first: some 1.5 ms before the fork)
    span = (ctypes.c_int64 * 2).from_buffer(mmap.mmap(-1, 16))
    span[:] = [0, len(order)]
    _WORKER.update(jobs=jobs, render=render, order=order, span=span, span_lock=ctx.Lock())
    workers = _start_workers(ctx, n_workers - 1, cat.url)   # connection -> [process, index of its job]
    deciding = next(iter(workers), None)          # the worker that sends its decisions first
    ended: list = []

    def received(timeout):
        nonlocal deciding
        for rd in wait(list(workers), timeout):
            try:
                msg = rd.recv()
            except EOFError:                # the worker ended: all its jobs sent, or it died
                proc, current = workers.pop(rd)
                rd.close()
                if current is not None:
                    proc.join()
                    job = jobs[current]
                    yield (job[0], None, f"its worker process ended (exit status {proc.exitcode})", 1)
                else:           # done: not waited for (its exit, some 6 ms, overlaps the book)
                    ended.append(proc)
                continue
            if isinstance(msg, int):       # the job it starts
                workers[rd][1] = msg
            elif isinstance(msg, dict):    # what it decided
                _install(msg, cat)
                deciding = None
            else:
                workers[rd][1] = None
                yield msg
    try:
        if meanwhile is not None:
            meanwhile()
        # until they come (if it died, the sheets decide on first use): tables, which need none,
        # the cheapest first, from the end of the order
        while deciding in workers:
            if (k := _next_job(last=lambda job: job[2].kind == "table")) is None:
                yield from received(None)
            else:
                yield render(jobs[order[k]])
                yield from received(0)
        while (k := _next_job()) is not None:
            yield render(jobs[order[k]])
            yield from received(0)
        while workers:
            yield from received(None)
    finally:
        for rd, (proc, _) in workers.items():
            proc.terminate()
            proc.join()
            rd.close()
        for proc in ended:          # reaped if it has exited, else by multiprocessing's next start or exit
            proc.join(0)
        for key in ("jobs", "render", "order", "span", "span_lock"):      # (a warm process keeps no run's pages)
            _WORKER.pop(key, None)


def _start_workers(ctx, n: int, db_url: str) -> dict:
    """``n`` workers forked from this process: {their connection: [process, None]}, the first one
    deciding (:func:`_worker_loop`). What this process holds is first frozen out of the cyclic
    collector: the workers' collections do not touch (and so copy) the memory they inherit. No
    collection before (as Python's ``gc.freeze`` advice says: the holes it leaves are filled after
    the fork, copying the pages they are on; and some 3 ms before the fork)."""
    import gc
    gc.freeze()
    workers: dict = {}
    try:
        for w in range(n):
            rd, wr = ctx.Pipe(duplex=False)
            if w == 0:
                _roomy(wr)
            proc = ctx.Process(target=_worker_loop, args=(wr, db_url, w == 0), daemon=True)
            proc.start()
            wr.close()
            workers[rd] = [proc, None]
    finally:
        gc.unfreeze()
    return workers


def _roomy(conn) -> None:
    """A pipe that holds the first worker's decisions (some 90 kB: the town names) where the
    system allows (Linux: 64 kB by default): the worker then goes on to its first sheet instead
    of waiting for this process, drawing a table meanwhile, to read them."""
    import fcntl
    try:
        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    except (AttributeError, OSError):       # another system, or a lower limit: the worker waits
        pass


def _next_job(last=None) -> int | None:
    """The position (in the shared order) of the next job to start, or None when all are taken;
    with ``last`` (a test of a job), the last job left instead, if it passes the test."""
    span = _WORKER["span"]           # [first job left, end of the jobs left]
    with _WORKER["span_lock"]:
        k, end = span[0], span[1]
        if k >= end or (last is not None and not last(_WORKER["jobs"][_WORKER["order"][end - 1]])):
            return None
        if last is None:
            span[0] = k + 1
            return k
        span[1] = end - 1
        return end - 1


def _worker_loop(conn, db_url: str, decide: bool = False) -> None:
    """A forked worker: with ``decide``, first what the sheets decide on first use sent to the
    parent on ``conn`` (:func:`_decide`); then jobs from the shared counter until none is left,
    each announced (its index in the job list) and its result sent on ``conn``."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C: the parent reports and stops us
    _init_worker(db_url, True)
    try:
        if decide:
            jobs = _WORKER["jobs"]
            conn.send(_decide(jobs[0][1], _WORKER["cat"], [j[2] for j in jobs]))
        while (k := _next_job()) is not None:
            i = _WORKER["order"][k]
            conn.send(i)
            conn.send(_WORKER["render"](_WORKER["jobs"][i]))
    finally:
        conn.close()


def _warm(atlas: Atlas, cat: Catalogue, pages_: list, tmp: Path) -> None:
    """Load in this process what rendering the pages loads on first use: the drawing modules and
    map types, the print font and what writing its subsets loads (one page number and one bold
    character written to ``tmp``: the regular and bold subsets nearly every page embeds, made once
    here instead of in each process), on a GeoPackage the layers the pages read, and their feature
    counts, counted in memory: a count asked for later (``has_data``: the towns' communes) would
    otherwise open the file's metadata with GDAL in each forked process (some 12 ms there)."""
    from mbm_sig.atlas import charts, series  # noqa: F401
    from mbm_sig.maps import colorcheck, recipe  # noqa: F401
    from mbm_sig.maps import types as map_types
    from mbm_sig.maps.output import cmyk  # noqa: F401
    map_types.registry()
    bold = pages.Canvas(pages.A4)            # the bold print font's subset too (titles: every page)
    bold.text(10, 10, "1", size=7, weight="bold")
    pages.save_pdf([pages.number_overlay(1, 1), bold.fig], tmp / "warm.pdf", {"CreationDate": None})
    if cat.backend.kind == "gpkg":
        counted = {}
        for name in sorted(_used_layers(pages_)):
            try:
                counted[name] = len(cat.read(name))
            except KeyError:            # a layer a recipe names that the definitions lack: its page says so
                pass
        cat.backend.remember_counts(counted)


def _decide(atlas: Atlas, cat: Catalogue, pages_: list) -> dict:
    """What the map pages decide on first use and keep in the process, made here once for another
    process (:func:`_install`), in plain values: the town names of every map sheet
    (:func:`mbm_sig.maps.labels.cached_towns`, with the provenance it is keyed by), and the layout
    of each coverage series, decided over its features
    (:func:`mbm_sig.maps.recipe.decide_series_layout`): the entries this adds to the kept ones."""
    from mbm_sig.atlas import series
    from mbm_sig.maps import labels, recipe
    from mbm_sig.maps.recipe import build
    decided: dict = {}
    if any(p.kind == "map" for p in pages_) and cat.has_data("communes"):
        labels.cached_towns(cat)
        decided["towns"] = labels.kept_towns(cat)
    known = set(build.series_layouts())
    firsts = {p.spec.recipe: p for p in reversed(pages_) if p.kind == "map"}
    for path, p in firsts.items():
        try:
            doc = _recipe_doc(path)         # (read before the fork): only a coverage series decides a layout
            if not (isinstance(doc, dict) and doc.get("series_of")):
                continue
            recipe.decide_series_layout(series.apply(recipe.load_recipe(str(path), p.params), atlas.series_values),
                                        cat)
        except Exception:        # noqa: BLE001 - the sheet's own render reports it, naming the sheet
            pass
    decided["layouts"] = {k: v for k, v in build.series_layouts().items() if k not in known}
    if cat.backend.kind == "gpkg":
        # what reading the towns read of the file, each kept under the file's stamp: the provenance log,
        # each layer's last import (every map sheet asks for the communes'), layer counts
        decided["read"] = cat.backend.kept_reads()
    return decided


def _install(decided: dict, cat: Catalogue) -> None:
    """Keep in this process (on its catalogue ``cat``) what another decided (:func:`_decide`),
    and what it read of the same catalogue file, where this process has not read it (the first
    map sheet here would read the provenance log again: some 20 ms)."""
    from mbm_sig.maps import labels
    from mbm_sig.maps.recipe import build
    labels.keep_towns(cat, decided.get("towns"))
    build.adopt_series_layouts(decided.get("layouts", {}))
    if decided.get("read") and cat.backend.kind == "gpkg":
        cat.backend.adopt_reads(decided["read"])


def _cost(page: Page, count) -> float:
    """A page's expected rendering cost, to start the longest first: a map by the features
    of the layers its recipe draws (``count(layer)``), a chart above a table, a table by its rows."""
    if page.kind == "map":
        n = 0
        for name in _recipe_layers(page.spec.recipe):
            try:
                n += count(name)
            except KeyError:
                pass
        return 1e6 + n
    if page.kind == "chart":
        return 5e5
    return len(page.rows or ()) + sum(len(q.rows or ()) for q in page.shared)


def _render_page(job) -> tuple[int, str | None, str | None, int]:
    """Render one body page (map sheet, table or chart) to its own PDF in a worker;
    returns (index, path, error, exit status of the error: 2 invalid input, 1 failure)."""
    idx, atlas, page, out = job
    cat = _WORKER["cat"]
    try:
        from mbm_sig.maps.output.save import gc_paused
        with gc_paused():       # the whole page: what it made is garbage when the collector runs
            _page_to_file(cat, atlas, page, out)
        return idx, out, None, 0
    except Exception as exc:  # reported with the sheet's name by the caller
        detail = f"\n{traceback.format_exc(limit=3)}" if os.environ.get("MBM_SIG_DEBUG") else ""
        return idx, None, f"{type(exc).__name__}: {exc}{detail}", getattr(exc, "exit_code", 1)


def _page_to_file(cat, atlas, page, out) -> None:
    """:func:`_render_page`'s work, its errors raised."""
    if page.kind == "map":
        from mbm_sig.atlas import series
        from mbm_sig.maps.recipe import load_recipe, render_recipe
        recipe = series.apply(load_recipe(str(page.spec.recipe), page.params), atlas.series_values)
        render_recipe(recipe, cat, out, fmt="pdf")
    elif page.kind == "table":
        t = page.spec.table
        more = [(q.title, q.columns or q.spec.table["columns"], q.rows, _table_note(cat, q.spec.table["layer"]),
                 pages.table_subtitle(q.spec.table["columns"], q.columns or {}, q.rows or []))
                for q in page.shared]
        fig = pages.table_page(atlas, page.title, page.columns or t["columns"], page.rows, page.part, page.parts,
                               note=_table_note(cat, t["layer"]), more=more,
                               subtitle=pages.table_subtitle(t["columns"], page.columns or {}, page.rows or []),
                               widths=page.widths)
        _save(fig, Path(out), page.title)
    else:
        from mbm_sig.atlas.charts import CHARTS
        spec = page.spec.table
        _save(CHARTS[spec["name"]](cat, atlas, page.title, {**spec, **page.params}), Path(out), page.title)


def _render_and_plan(job):
    """:func:`_render_page`, then the page's plan for the book written beside its file
    (:func:`mbm_sig.maps.output.book.write_plan_file`): the processes that render the pages
    also parse them for the book (in a parallel run, on every core), which then only places
    them."""
    res = _render_page(job)
    if res[2] is None:
        from mbm_sig.maps.output.book import RecentPlans, write_plan_file
        plans = _WORKER.get("plans")
        if plans is None:
            plans = _WORKER["plans"] = RecentPlans()
        write_plan_file(res[1], plans)
    return res


def _save(fig, path: Path, meta_title: str) -> None:
    pages.save_pdf([fig], path, {"Title": meta_title, "CreationDate": None, "Creator": "mbm-sig"})


def _save_all(figs, folder: Path, stem: str, meta_title: str) -> list[Path]:
    out = []
    for k, fig in enumerate(figs):
        f = Path(folder) / f"{stem}-{k}.pdf"
        _save(fig, f, meta_title)
        out.append(f)
    return out


def _book_pdf(memo, what: str, inputs, dest: Path, make) -> None:
    if memo is None:
        make(dest)
    else:
        memo.book_pdf(what, _memo_inputs(inputs), dest, make)


def _book_pdfs(memo, what: str, inputs, folder: Path, make) -> tuple[list[Path], object]:
    """``make(folder)`` writes several pages: (their paths, a value that goes with them)."""
    return make(folder) if memo is None else memo.book_pdfs(what, _memo_inputs(inputs), folder, make)


def _back_files(atlas: Atlas, pending: list, srcs: list, folder: Path) -> tuple[list[Path], int]:
    """The back pages (waiting sheets, then the sources, flowed) to PDFs, and the index of the
    page where the sources start."""
    figs, sources_at = pages.back_pages(atlas, pending, srcs)
    return _save_all(figs, folder, "back", "Sources et méthodes"), sources_at


def _memo_inputs(inputs):
    """What a book page is drawn from, as a key (an atlas by the fields its pages show)."""
    return [{k: getattr(x, k) for k in ("name", "title", "subtitle", "edition", "producer", "cover_notes",
                                         "method_notes", "series_values")} if isinstance(x, Atlas) else x
            for x in inputs]


def _recipe_layers(recipe: Path) -> set[str]:
    doc = _recipe_doc(recipe)
    found = set()

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in ("layer", "join") and isinstance(v, str):
                    found.add(v)
                elif k == "join" and isinstance(v, dict) and "layer" in v:
                    found.add(v["layer"])
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(doc)
    return found


@dataclass
class AtlasResult:
    pdf: Path
    pages: int
    sheets: int
    pending: list
    seconds: float
    sheet_files: list = field(default_factory=list)
    toc: list = field(default_factory=list)
    body: list = field(default_factory=list)      # the numbered body pages (Page)
    books: list = field(default_factory=list)     # with split_by: one Book per value


def render_atlas(name: str | Path, out_dir: Path | None = None, only=None, sheets: bool = False,
                 png: bool = False, workers: int | None = None, catalogue: Catalogue | None = None,
                 progress: bool = True, demo: bool = False, split_by: str | None = None,
                 select=None) -> AtlasResult:
    """Render an atlas; ``demo`` fills the layers no open source provides with fictive
    values (in a temporary copy of the catalogue) and writes ``…-demo.pdf``.

    ``split_by``: a field of the coverage features (``siren``, ``code``, ``epci_siren``…; several
    as ``a,b``, the first a page has counts): instead of one book, one book per value, each with
    its cover, contents page, bookmarks, page numbers and sources, holding the coverage pages of
    that value (``atlas-NAME-VALUE.pdf``, listed in ``AtlasResult.books``). Pages that are not
    iterated over a coverage layer belong to no value and are left out, as in a QGIS atlas
    exported one file per feature.

    ``select``: ``(value, label, predicate)``: one book of the pages for which ``predicate(page)``
    holds (a partner pack: the coverage pages of a territory), written like a split book; no page
    selected gives no book (``AtlasResult.books`` empty)."""
    if demo:
        from mbm_sig.atlas.demo import demo_catalogue
        with tempfile.TemporaryDirectory(prefix="mbm-demo-") as d:
            demo_cat, filled = demo_catalogue(catalogue or Catalogue.open(), Path(d))
            atlas = load_atlas(name)
            atlas.output = atlas.output.replace(".pdf", "-demo.pdf")
            atlas.cover_notes = atlas.cover_notes + [
                "ÉDITION DE DÉMONSTRATION : les cartes tirées des couches "
                + ", ".join(f"« {demo_cat.layer_def(n).title} »" for n in filled)
                + " reposent sur des données fictives générées, signalées « Données fictives » sur chaque carte."]
            return _render(atlas, demo_cat, out_dir, only, sheets, png, workers, progress, split_by, select)
    return _render(load_atlas(name), catalogue or Catalogue.open(), out_dir, only, sheets, png, workers, progress,
                   split_by, select)


@dataclass
class Book:
    """One book written by a split atlas: the value, its label, the PDF and its pages."""

    value: str
    label: str
    pdf: Path
    pages: int
    sheets: int
    toc: list = field(default_factory=list)
    body: list = field(default_factory=list)


def split_pages(body: list[Page], split_by: str) -> dict[str, list[Page]]:
    """The body pages grouped by the value of ``split_by`` (``a,b``: the first field a page has) in
    their order; pages without the field are left out."""
    fields = [f.strip() for f in split_by.split(",") if f.strip()]
    groups: dict[str, list[Page]] = {}
    for p in body:
        v = next((p.params[f] for f in fields if p.params.get(f) not in (None, "")), None)
        if v is not None:
            groups.setdefault(str(v), []).append(p)
    if not groups:
        from mbm_sig.errors import InvalidInput
        have = sorted({k for p in body for k in p.params})
        raise InvalidInput(f"--split-by {split_by}: no coverage page has this field"
                           + (f" (coverage fields: {', '.join(have)})" if have else " (this atlas has no coverage)"))
    return groups


def _group_label(atlas: Atlas, pages_: list[Page], value: str) -> str:
    """A split book's name: the title of its coverage section («Arrondissement de Lens»), else the
    feature's name, else the value."""
    fixed = {sec.title for sec in atlas.sections if not sec.coverage}
    covered = next((p.section for p in pages_ if p.section and p.section not in fixed), None)
    return str(covered or pages_[0].params.get("nom") or value)


def _render(atlas: Atlas, cat: Catalogue, out_dir, only, sheets, png, workers, progress,  # noqa: C901 (+ cache hooks)
            split_by: str | None = None, select=None, cache=None) -> AtlasResult:
    """``cache``: an :class:`mbm_sig.atlas.incremental.Run` (pages taken from the sheet cache,
    the others rendered with the layers they read recorded, the book's own pages memoised)."""
    t0 = time.perf_counter()
    if not cat.backend.exists():
        raise AtlasFailure(f"catalogue {cat.url} does not exist: run `mbm-sig build` (or `make build`) first")
    out_dir = Path(out_dir or settings().out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if atlas.series and not atlas.series_values:
        atlas.series_values = _series_values(atlas, cat)
    atlas.cover_notes = pages.with_counts(atlas, cat)      # the cover's counts, from the catalogue
    territorial = bool(split_by) or select is not None
    body, pending = (cache.plan if cache else plan)(atlas, cat, only, territorial=territorial)
    groups = split_pages(body, split_by) if split_by else None
    labels: dict[str, str] = {}
    if select is not None:
        value, label, predicate = select
        chosen = [p for p in body if predicate(p)]
        groups = {str(value): chosen} if chosen else {}
        labels[str(value)] = label
    if groups is not None:
        body = [p for p in body if any(p is q for g in groups.values() for q in g)]
    if any(p.kind == "map" and not p.coverage for p in body):
        # the basin maps share one layout, decided over them
        atlas.series_values = _layouts(atlas, cat)

    keep_layouts = _sheet_layouts(atlas, cat, body)
    with tempfile.TemporaryDirectory(prefix="mbm-atlas-") as tmpd, scratch(tmpd) as tmp:
        todo = _books_to_write(atlas, body, pending, groups, labels, out_dir, tmp)
        fronts: dict[int, BookFront] = {}

        def write_fronts():
            for k, b in enumerate(todo):
                fronts[k] = book_front(b.atlas, cat, b.pages, b.pending, b.tmp, b.n_sheets, memo=cache)
        # page files are scratch: written without a flush to disk, the book is flushed
        files: dict[int, Path] = {}
        # every body page in parallel (maps, tables, charts), the book pages after
        jobs = [(i, atlas, p, str(tmp / f"page-{i:04d}.pdf")) for i, p in enumerate(body)]
        hits = cache.lookup(atlas, body, jobs) if cache else {}
        files.update(hits)
        jobs = [j for j in jobs if j[0] not in hits]
        n_workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
        # a cold run's pages planned for the book as they are rendered (by the processes that
        # render them); a warm run keeps its plans (its memo) instead
        render = cache.render_page if cache else _render_and_plan
        bar = _progress_bar(len(body), atlas.name, progress)
        if jobs:
            # the caller's catalogue (its caches stay warm from one run to the next)
            _WORKER["cat"] = cat if cat.backend.kind == "gpkg" else Catalogue.open(cat.url)
            results = (map(render, jobs) if n_workers == 1
                       else _render_parallel(jobs, render, cat, n_workers, tmp, meanwhile=write_fronts))
            try:
                for idx, path, err, code, *deps in results:
                    if err:
                        p = body[idx]
                        what = f"recipe {p.spec.recipe}" if p.spec.recipe else f"{p.kind} of {atlas.path}"
                        raise (AtlasError if code == 2 else AtlasFailure)(f"sheet «{p.title}» ({what}) failed: {err}")
                    files[idx] = Path(path)
                    if cache:
                        cache.done(idx, path, *deps)
                    bar.update(1)
            finally:
                if hasattr(results, "close"):       # the workers stopped (on an error: at once)
                    results.close()
        bar.close()
        page_files = {id(p): files[i] for i, p in enumerate(body)}
        for k, b in enumerate(todo):          # written now unless written while the workers rendered
            if k not in fronts:
                fronts[k] = book_front(b.atlas, cat, b.pages, b.pending, b.tmp, b.n_sheets, memo=cache)
        books: list[Book] = []
        for k, b in enumerate(todo):
            n, entries = _write_book(b.atlas, cat, b.pages, b.pending, page_files, b.tmp, b.pdf, b.n_sheets,
                                     memo=cache, front=fronts[k])
            books.append(Book(b.value, b.label, b.pdf, n, b.n_sheets, entries, list(b.pages)))
        if groups is None:
            target, total, toc_entries = books[0].pdf, books[0].pages, books[0].toc
            books = []
        else:
            target, total, toc_entries = (books[0].pdf, books[0].pages, books[0].toc) if books else (None, 0, [])
        if cache:
            cache.store()           # after the book: the new PDF does not wait for the cache
        keep_layouts()

        sheet_files = []
        if sheets and body:       # (a territory with no page of this atlas: no empty folder)
            sheet_dir = inside(out_dir, safe_name(atlas.name))
            sheet_dir.mkdir(exist_ok=True)
            for i, p in enumerate(body):
                stem = safe_name(p.file_name or f"{p.number:03d}-{_slug(p.title)}")
                dest = inside(sheet_dir, f"{stem}.pdf")
                with atomic_path(dest) as part:
                    shutil.copyfile(files[i], part)
                sheet_files.append(dest)
                if png:
                    with atomic_path(dest.with_suffix(".png")) as part:
                        subprocess.run(["pdftoppm", "-png", "-r", "150", "-singlefile", str(dest),
                                        str(part.with_suffix(""))], check=True, stdin=subprocess.DEVNULL,
                                       timeout=300)
                    sheet_files.append(dest.with_suffix(".png"))
    return AtlasResult(pdf=target, pages=total, sheets=sum(map(is_map_page, body)), pending=pending,
                       seconds=time.perf_counter() - t0, sheet_files=sheet_files, toc=toc_entries, body=body,
                       books=books)


#: decisions kept across runs (:func:`_kept`): at most this many files
KEPT_FILES = 64


def _layouts(atlas: Atlas, cat: Catalogue) -> dict:
    """:func:`mbm_sig.atlas.series.with_layouts` (the layout the basin maps share, decided by
    building every one of them: some 0.3 s before the first page), kept across runs
    (:func:`_kept`)."""
    from mbm_sig.atlas import series
    values = {k: v for k, v in atlas.series_values.items() if k != series.LAYOUTS}
    kept = _kept("layouts", atlas, cat, values, lambda: series.with_layouts(
        atlas, cat, lambda spec: _check_requires(cat, spec)).get(series.LAYOUTS))
    return values if kept is None else {**values, series.LAYOUTS: kept}


def _series_values(atlas: Atlas, cat: Catalogue) -> dict:
    """:func:`mbm_sig.atlas.series.resolve` (the comparable series' breaks and scales, read
    over the catalogue), kept across runs (:func:`_kept`)."""
    from mbm_sig.atlas import series
    return _kept("series", atlas, cat, atlas.series, lambda: series.resolve(atlas.series, cat, str(atlas.path)))


def _kept(what: str, atlas: Atlas, cat: Catalogue, given, compute):
    """``compute()``, a decision of plain values (dicts, lists, numbers, strings), kept across
    runs in the cache folder (``decided/``, marshal: no code) under :func:`_decision_key`: the
    package's code and the drawing stack's versions, every definition file, the atlas, its
    recipes and the files they draw (logo, basemap) by content, the catalogue's state, ``given``
    (what the decision is made from besides), the production date and the ``MBM_SIG_*`` settings.
    On PostGIS (no cheap catalogue state), or when the values are not plain, computed on every run."""
    path = _kept_path(what, atlas, cat, given)
    if path is None:
        return compute()
    out = _read_kept(path)
    if out is _NOT_KEPT:
        state = cat.backend.state()
        out = compute()
        if cat.backend.state() == state:    # (the catalogue replaced meanwhile: of either, not kept)
            _write_kept(path, out)
    return out


_NOT_KEPT = object()


def _kept_path(what: str, atlas: Atlas, cat: Catalogue, given) -> Path | None:
    """Where :func:`_kept` keeps a decision (None: not kept, see :func:`_decision_key`)."""
    key = _decision_key(what, atlas, cat, given)
    return None if key is None else settings().cache_dir / "decided" / f"{key}.marshal"


def _read_kept(path: Path):
    """The decision kept in ``path``, or ``_NOT_KEPT`` (none yet, or unreadable: decided again)."""
    import marshal
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return _NOT_KEPT


def _write_kept(path: Path, out) -> None:
    """Keep ``out`` in ``path`` (atomically; the oldest files beyond :data:`KEPT_FILES` removed);
    nothing when it is not plain values or the cache folder is read-only."""
    import marshal

    from mbm_sig.atomic import prune_kept, replace_kept
    try:
        data = marshal.dumps(out)
        back = marshal.loads(data)
    except ValueError:                  # (not plain values: not kept)
        return
    if back != out or repr(back) != repr(out):
        return
    if replace_kept(path, data):        # (a read-only cache folder: decided on every run)
        prune_kept(path.parent, ".marshal", KEPT_FILES)


def _sheet_layouts(atlas: Atlas, cat: Catalogue, body: list):
    """The layouts of the coverage series the map pages draw (``series_of``:
    :func:`mbm_sig.maps.recipe.build.series_layouts`, each decided by building every sheet of
    its series: some 0.06 s before the first sheet of the health atlas's arrondissements) kept
    across runs (:func:`_kept`): adopted now when an earlier run of the same inputs kept them,
    else decided as before (by the first sheet of a series, or the first worker) and kept by
    the function returned, called once the pages are drawn."""
    from mbm_sig.maps.recipe import build
    recipes = sorted({str(Path(p.spec.recipe).resolve()) for p in body if p.kind == "map" and p.spec.recipe})
    path = _kept_path("sheet-layouts", atlas, cat, recipes)
    if path is None or not recipes:
        return lambda: None
    kept = _read_kept(path)
    if kept is not _NOT_KEPT:
        try:
            build.adopt_series_layouts(build.layouts_from_values(kept))
            return lambda: None
        except (TypeError, ValueError, AttributeError):      # another shape: decided again
            pass
    # none kept for these inputs: what this process holds for these recipes (a warm process:
    # decided for other recipe texts or another catalogue state) is decided again, from these
    build.forget_series_layouts(recipes)
    series = set()
    for r in recipes:
        try:
            if (_recipe_doc(Path(r)) or {}).get("series_of"):
                series.add(r)
        except Exception:       # noqa: BLE001 - an unreadable recipe: its page says so
            return lambda: None

    def keep() -> None:
        """Kept once every series of these pages has its layout (pages taken from the sheet
        cache decide none: nothing kept then, decided on a later run)."""
        mine = {k: v for k, v in build.series_layouts().items() if k[0] in recipes and k[-1] == cat.url}
        if series <= {k[0] for k in mine}:
            _write_kept(path, build.layouts_as_values(mine))
    return keep


def _decision_key(what: str, atlas: Atlas, cat: Catalogue, given) -> str | None:
    """The key of a decision kept across runs (:func:`_kept`); None when the catalogue's state
    cannot be read cheaply (PostGIS) or a file cannot be read."""
    import hashlib
    import json

    from mbm_sig.config import DEFINITIONS_DIR
    from mbm_sig.stack import code_digest
    if getattr(cat.backend, "kind", None) != "gpkg":
        return None
    h = hashlib.blake2b(digest_size=20)
    try:
        files = sorted(f for d in ("layers", "atlases", "data") for f in (DEFINITIONS_DIR / d).rglob("*")
                       if f.is_file())
        recipes = [Path(sh.recipe) for sec in atlas.sections for sh in sec.sheets if sh.recipe]
        drawn = [f for r in dict.fromkeys(recipes) for f in recipe_files(r)]      # a logo, a basemap
        for f in [*files, Path(atlas.path), *recipes, *drawn]:
            h.update(str(f).encode() + b"\0" + f.read_bytes() + b"\0")
    except Exception:       # noqa: BLE001 - a file unreadable or a recipe invalid: nothing kept (its page says so)
        return None
    h.update(json.dumps([what, code_digest(), str(atlas.path), cat.url, cat.backend.state(),
                         json.dumps(given, sort_keys=True, default=repr), fmt.production_date().isoformat(),
                         sorted((k, v) for k, v in os.environ.items() if k.startswith("MBM_SIG_"))],
                        default=repr).encode())
    return h.hexdigest()


@dataclass
class _BookToWrite:
    atlas: Atlas                 # the atlas, or a territory's (its title, subtitle and file)
    pages: list
    pending: list
    tmp: Path
    pdf: Path
    n_sheets: int | None         # the map pages the cover counts (None: counted from the pages)
    value: str = ""
    label: str = ""


def _books_to_write(atlas: Atlas, body: list, pending: list, groups, labels: dict, out_dir: Path,
                    tmp: Path) -> list[_BookToWrite]:
    """The book of the atlas, or with ``groups`` one book per value (a territory's title and file)."""
    if groups is None:
        return [_BookToWrite(atlas, body, pending, tmp, inside(out_dir, atlas.output), None)]
    from dataclasses import replace
    out = []
    stem = Path(atlas.output).stem
    for value, group in groups.items():
        label = labels.get(value) or _group_label(atlas, group, value)
        # the atlas's subtitle describes the whole basin: a territory's book says what it holds
        sub = replace(atlas, title=f"{atlas.title} — {label}", output=f"{stem}-{safe_name(value)}.pdf",
                      subtitle=f"Cartes et tableaux de {label}, extraits de l’atlas du bassin minier")
        n_maps = sum(p.kind in ("map", "chart") for p in group)     # a territory's charts are its maps
        out.append(_BookToWrite(sub, group, [], tmp / f"book-{len(out)}", inside(out_dir, sub.output), n_maps,
                                value, label))
    return out


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress_bar(total: int, name: str, progress: bool):
    """A progress bar on stderr; with -q none, and tqdm is not imported."""
    if not progress:
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=total, desc=f"atlas {name}", unit="page", file=sys.stderr, leave=False)


def _used_layers(body: list[Page]) -> set[str]:
    """The catalogue layers the body pages read (their sources go on the sources page)."""
    used: set[str] = set()
    for p in body:
        if p.kind == "map":
            used |= _recipe_layers(p.spec.recipe)
        elif p.kind == "table":
            used.add(p.spec.table["layer"])
        else:
            used.update(p.spec.table.get("layers", []))
    return used


def _book_pages(atlas: Atlas, n_sheets: int, toc_entries: list, back_files: list, tmp: Path, memo=None) -> dict:
    """The book's own pages (cover, contents; the waiting sheets and sources, ``back_files``,
    already written), each to a PDF in ``tmp`` (``memo``: an incremental run that reuses those
    whose inputs are unchanged)."""
    book_files: dict = {}
    book_files["cover"] = tmp / "cover.pdf"
    _book_pdf(memo, "cover", (atlas, n_sheets), book_files["cover"],
              lambda f: _save(pages.cover(atlas, n_sheets), f, atlas.title))
    book_files["toc"], _ = _book_pdfs(memo, "toc", (atlas, toc_entries), tmp, lambda d: (
        _save_all(pages.toc_pages(atlas, toc_entries), d, "toc", "Sommaire"), None))
    book_files["back"] = back_files
    return book_files


def _outline_items(order: list) -> list[tuple[str, int, int | None]]:
    """Bookmarks (title, page index, parent item): one per section, one per sheet (first
    part), plus the book pages."""
    items: list[tuple[str, int, int | None]] = [("Sommaire", 1, None)]
    sec_items: dict = {}
    for k, (title, _, p) in enumerate(order):
        if p is None:
            for t in (title,) if isinstance(title, str) else title:
                if t and t not in ("Couverture", "Sommaire"):
                    items.append((t, k, None))
            continue
        if p.section not in sec_items:
            sec_items[p.section] = len(items)
            items.append((p.section, k, None))
        for q in _listed(p):
            items.append((q.title, k, sec_items[p.section]))
    return items


def _listed(p: Page) -> list:
    """What the contents and the bookmarks list for a body page: the page when it starts its
    sheet (a table's first part), and the short tables it holds after it (also on a longer
    table's last page)."""
    return ([p] if p.part == 1 else []) + list(p.shared)


@dataclass
class BookFront:
    """What a book needs before its body pages are drawn: the numbering (pages, contents) and
    its own pages (cover, contents, waiting sheets and sources), written by :func:`book_front`."""

    total: int
    toc: list
    files: dict
    sources_at: int


def book_front(atlas: Atlas, cat: Catalogue, body: list[Page], pending: list, tmp: Path,
               n_sheets: int | None = None, memo=None) -> BookFront:
    """Number ``body`` and write the book's own pages to ``tmp``: cover, contents, the sheets
    waiting for data, sources (none of them waits for the body pages: a parallel run writes
    them while its workers draw the first sheets)."""
    tmp.mkdir(parents=True, exist_ok=True)
    if n_sheets is None:
        n_sheets = sum(map(is_map_page, body))     # the cover counts them, never a text
    # the back pages: the sheets waiting for data, then the sources, flowed (a short list
    # of waiting sheets shares its page with the sources)
    srcs = _sources(cat, _used_layers(body))
    methods = memo.methods_used(atlas) if memo else None       # (part of the memo's key)
    back_files, sources_at = _book_pdfs(memo, "back", (atlas, pending, srcs, methods), tmp,
                                        lambda d: _back_files(atlas, pending, srcs, d))

    # the contents' lines (level, title, the page whose number it takes), made once: their
    # levels give the count of contents pages, which the numbering starts after
    lines: list = []
    for title in dict.fromkeys(p.section for p in body):
        sec_pages = [p for p in body if p.section == title]
        lines.append((0, title, sec_pages[0]))
        lines += [(1, q.title, p) for p in sec_pages for q in _listed(p)]
    if pending:
        lines.append((0, "Cartes en attente de données", "pending"))
    lines.append((0, "Sources et méthodes", "sources"))
    # number the pages: cover, table of contents, body, pending, sources
    number = 1 + len(pages.toc_chunks([lv for lv, _, _ in lines]))
    for p in body:
        number += 1
        p.number = number
    at = {"pending": number + 1 if pending else None, "sources": number + 1 + sources_at}
    total = number + len(back_files)
    toc_entries = [pages.TocEntry(lv, title, at[w] if isinstance(w, str) else w.number) for lv, title, w in lines]

    return BookFront(total, toc_entries, _book_pages(atlas, n_sheets, toc_entries, back_files, tmp, memo), sources_at)


def _write_book(atlas: Atlas, cat: Catalogue, body: list[Page], pending: list, page_files: dict, tmp: Path,
                target: Path, n_sheets: int | None = None, memo=None, front: BookFront | None = None
                ) -> tuple[int, list]:
    """Write the book to ``target`` from its body pages (rendered: ``page_files`` by page id) and
    its ``front`` (:func:`book_front`, made here when not given): cover, contents, body, pending,
    sources, with bookmarks and page numbers. Returns (pages, toc)."""
    if front is None:
        front = book_front(atlas, cat, body, pending, tmp, n_sheets, memo)
    total, toc_entries, book_files, sources_at = front.total, front.toc, front.files, front.sources_at

    # assemble: each page file's objects appended once to the book (identical fonts stored
    # once), its number drawn over it, bookmarks and metadata at the end
    from mbm_sig.maps.output.book import BookError, BookWriter, RecentPlans, file_page_size, file_plan, read_plan_file
    order: list[tuple[str | tuple, Path, Page | None]] = [("Couverture", book_files["cover"], None)]
    order += [("Sommaire", f, None) for f in book_files["toc"]]
    order += [(p.title, page_files[id(p)], p) for p in body]
    for k, f in enumerate(book_files["back"]):
        titles = (((pages.PENDING_TITLE,) if pending and k == 0 else ())
                  + ((pages.SOURCES_TITLE,) if k == sources_at else ()))
        order.append((titles, f, None))
    # the page sizes first: each page's number overlay has its size. A warm run plans every page
    # once and keeps the plans (only a changed page is parsed again); a book written once plans
    # each page as it places it and drops it: its memory does not grow with the page count
    files = [f for _, f, _ in order]
    if memo:
        plans = memo.book_plans()
        planned = [file_plan(f, k > 0, plans) for k, f in enumerate(files)]
        sizes = [p.size_mm for p in planned]
    else:
        plans, sizes = RecentPlans(), [file_page_size(f) for f in files]
    overlays = _number_overlays(sizes, tmp, memo)
    with atomic_path(target) as part:
        with open(part, "wb") as fh:
            book = BookWriter(fh, plans)
            for k, f in enumerate(files):
                plan = planned[k] if memo else read_plan_file(f, k > 0, plans)
                if plan.size_mm != sizes[k]:
                    raise BookError(f"{f}: page size {plan.size_mm} read as {sizes[k]} before")
                book.add_plan(plan, overlays[k] if k > 0 else None)
            book.close(_outline_items(order), {
                "Title": atlas.title, "Subject": atlas.subtitle, "Author": atlas.producer,
                "Keywords": "bassin minier, Nord-Pas-de-Calais, atlas, " + atlas.title,
                "Creator": "mbm-sig", "Producer": "mbm-sig (matplotlib)", "CreationDate": _pdf_date()})
    return total, toc_entries


def _table_note(cat: Catalogue, layer: str) -> str:
    return "Sources : " + " ; ".join(s.credit() for s in cat.sources_for(layer))


def _sources(cat: Catalogue, layers) -> list[Source]:
    seen, out = set(), []
    for layer in sorted(layers):
        try:
            srcs = cat.sources_for(layer)
        except KeyError:
            continue
        for s in srcs:
            if s.id not in seen:
                seen.add(s.id)
                out.append(s)
    return out


def _number_overlays(sizes: list, tmp: Path, memo=None) -> list[tuple]:
    """Each book page's number overlay («n / total», a page of its size) for the book writer:
    (source, page, (template text, this page's text)). Pages whose number measures the same
    (width, height, descent) on the same page size are laid out alike: matplotlib draws one
    of them (the template) and the others are its content with the digits swapped, which is
    the content matplotlib would write for them (tested). Without the print font's fast path,
    or when a template's string cannot be swapped, every overlay is drawn."""
    from mbm_sig.maps.output.book import Source, swappable
    n = len(sizes)
    texts = [f"{k + 1} / {n}" for k in range(n)]
    measure = _number_measure()
    keys = [(size, measure(t)) if measure else k for k, (size, t) in enumerate(zip(sizes, texts, strict=True))]
    first: dict = {}
    for k, key in enumerate(keys):
        first.setdefault(key, k)
    drawn = list(first.values())
    path = tmp / "numbers.pdf"
    # the templates, then a page with every digit: the file's one font maps all the glyphs
    # a swapped number draws (matplotlib maps the characters its pages use)
    _book_pdf(memo, "numbers", (sizes, drawn), path, lambda f: pages.save_pdf(
        [*(pages.number_overlay(k + 1, n, sizes[k]) for k in drawn), pages.number_overlay(1234567890, n, sizes[0])],
        f, {"CreationDate": None}))
    src = Source.open(path)
    at = dict(zip(drawn, src.pages()[:len(drawn)], strict=True))
    if len(drawn) < n and not all(swappable(src, at[k], texts[k]) for k in drawn):
        pages.save_pdf((pages.number_overlay(k + 1, n, size) for k, size in enumerate(sizes)), path,
                       {"CreationDate": None})
        src = Source.open(path)
        return [(src, num) for num in src.pages()]
    return [(src, at[first[key]], (texts[first[key]], texts[k])) for k, key in enumerate(keys)]


def _number_measure():
    """The measure of a page number in the print font (size 1), or None when the numbers are
    not drawn in it on the fast path (then each is drawn by matplotlib)."""
    from matplotlib.font_manager import FontProperties, findfont

    from mbm_sig.maps.output import fonts, pdftext
    if not pdftext.active():
        return None
    path = findfont(FontProperties(family=pages.font()))
    if not fonts.is_print_font(path):
        return None
    return functools.partial(fonts.text_metrics, path, size=1.0)


def _pdf_date() -> str:
    d = fmt.production_date()
    return f"D:{d.year:04d}{d.month:02d}{d.day:02d}000000Z"


def _slug(text: str) -> str:
    import unicodedata
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(ch if ch.isalnum() else " " for ch in s).split())[:60]
