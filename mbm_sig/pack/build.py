"""Partner packs: everything a territory (an EPCI, an arrondissement) receives, in one folder and
one zip.

Layout of ``DIR/<kind>-<code>-<name>/`` (and ``DIR/<kind>-<code>-<name>.zip``, the same files)::

    README.md                       in French: territory, contents, sources, vintages, licences,
                                    tool version, date
    MANIFEST.sha256                 SHA-256 of every other file (``sha256sum -c MANIFEST.sha256``)
    cartes/atlas-<atlas>-<code>.pdf one book per atlas: the coverage sections of the territory
                                    (cover, contents, bookmarks, page numbers, sources)
    cartes/<atlas>/<sheet>.pdf|png  the same sheets one by one (the atlases' file-name patterns)
    donnees/<code>.gpkg             every catalogue layer with features in the territory, one
                                    GeoPackage, with the QGIS styles when the export writes them
    tableaux/<layer>.csv            the same layers as spreadsheet tables (French dialect: «;»,
                                    UTF-8 with BOM, decimal comma, integers without «,0»)
    carte/index.html                the territory's offline web map

Which sheets: the territory's own coverage pages, those iterated over its layer whose feature is
the territory (an EPCI's sections, ``in_book: false`` in the santé and renouvellement atlases:
made for the packs and ``--split-by``); of the other territory kind (the arrondissement sections
for an EPCI), none when the atlas has sections of the territory's kind, else those whose feature
overlaps the territory by 10 % of its area (or of the territory's); of other coverages (a cité's
identity sheet), those whose feature overlaps it so.

Which features: those located in one of its communes (``insee``, the commune of the
representative point, as the atlas sheets count them), else (layers with no commune) points and
lines reaching inside it and polygons overlapping it by 10 %; features are kept whole, not cut.

Reproducible: the date written (README, PDF metadata, zip entries, GeoPackage timestamps) is
``SOURCE_DATE_EPOCH`` when set, else the catalogue's last write; zip entries are sorted with fixed
times and permissions; unchanged inputs give identical bytes. The pack folder is written beside
its final name and renamed when complete; the zip atomically.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mbm_sig.atomic import atomic_path, atomic_write_text, safe_name
from mbm_sig.catalogue.fetch import file_sha256
from mbm_sig.catalogue.readers import frame_to_csv
from mbm_sig.errors import Failure, InvalidInput
from mbm_sig.maps.fmt import typo

ATLASES = ("sante", "patrimoine", "renouvellement")
KINDS = {
    # kind: (layer, key field, French name of the kind, field of the communes layer naming it)
    "epci": ("epci", "siren", "intercommunalité", "epci_siren"),
    "arrondissement": ("arrondissements", "code", "arrondissement", "arrondissement"),
}
LIGATURES = str.maketrans({"œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae"})
MIN_OVERLAP = 0.10      # a polygon belongs to a territory when 10 % of it (or of the territory) overlaps
INTERIOR_M = 1.0        # features must reach 1 m inside the territory (not merely touch its boundary)


@dataclass(frozen=True)
class Territory:
    kind: str                   # epci | arrondissement
    code: str
    name: str
    geometry: object            # shapely, EPSG:2154

    @property
    def slug(self) -> str:
        # the ligatures spelt out («Cœur» -> Coeur), which accent folding would drop
        name = self.name.translate(LIGATURES)
        return f"{self.kind}-{safe_name(self.code)}-{safe_name(name, 60)}"


@dataclass
class PackResult:
    territory: Territory
    folder: Path
    zip: Path
    files: list[str] = field(default_factory=list)     # paths relative to the folder, sorted
    layers: dict[str, int] = field(default_factory=dict)
    books: dict[str, int] = field(default_factory=dict)   # atlas -> pages


# ---------------------------------------------------------------------------------------------
# territories

def territories(cat, kind: str, code: str) -> list[Territory]:
    """The territories named on the command line: one code, or ``all`` (those of the basin)."""
    if kind not in KINDS:
        raise InvalidInput(f"pack: unknown territory kind {kind!r} (kinds: {', '.join(KINDS)})")
    layer, key, _, _ = KINDS[kind]
    df = cat.read(layer)
    df = df.sort_values(key)
    if code == "all":
        df = df[df["bassin_minier"].fillna(False).astype(bool)]
        if not len(df):
            raise InvalidInput(f"pack {kind} all: no {layer} of the basin in {cat.url} (run `mbm-sig build`)")
    else:
        basin = df[df["bassin_minier"].fillna(False).astype(bool)]
        hit = df[df[key].astype(str) == str(code)]
        if not len(hit):
            known = ", ".join(f"{r[key]} ({r['nom']})" for _, r in basin.iterrows())
            raise InvalidInput(f"pack {kind}: no {layer} with {key} {code!r} in {cat.url}; "
                               f"those of the basin: {known}")
        df = hit
    geom = df.geometry.name
    return [Territory(kind, str(r[key]), str(r["nom"]), r[geom]) for _, r in df.iterrows()]


# ---------------------------------------------------------------------------------------------
# dates and versions

def pack_date(cat) -> dt.datetime:
    """``SOURCE_DATE_EPOCH`` when set, else the catalogue's last write (UTC, to the second)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
    last = cat.layers()["last_import"].dropna()
    if len(last):
        t = pd.to_datetime(last, utc=True).max().to_pydatetime()
        return t.replace(microsecond=0)
    return dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def tool_version() -> str:
    try:
        from importlib.metadata import version
        return version("mbm-sig")
    except Exception:   # noqa: BLE001 - running from a checkout without metadata
        import mbm_sig
        return getattr(mbm_sig, "__version__", "inconnue")


# ---------------------------------------------------------------------------------------------
# sheets

def _coverage_layers(atlas) -> set[str]:
    """The layers an atlas iterates over (section and sheet coverages, in the book or not)."""
    return {cov["layer"] for sec in atlas.sections for sh in sec.sheets
            for cov in (sec.coverage, sh.coverage) if cov}


def _page_selector(cat, territory: Territory, atlas):
    """predicate(page): the page belongs to the territory's book of ``atlas``.

    A page iterated over the territory's own layer (the EPCI sections for an EPCI) belongs to it
    when its feature is the territory; pages of the other territory kinds' layers (the
    arrondissement sections for an EPCI) are left out when the atlas has sections of the
    territory's kind, and otherwise kept when their feature overlaps the territory by area (the
    nearest the atlas has); pages of any other coverage (a cité's identity sheet) are kept when
    their feature overlaps the territory."""
    layer, key, _, _ = KINDS[territory.kind]
    own_kind = layer in _coverage_layers(atlas)
    kind_layers = {v[0] for v in KINDS.values()}
    geoms: dict[str, dict] = {}
    tgeom = territory.geometry

    def feature_geom(name: str, params: dict):
        if name not in geoms:
            ld = cat.layer_def(name)
            df = cat.read(name)
            geoms[name] = {"key": ld.key, "by_key": dict(zip(df[ld.key].astype(str), df.geometry, strict=True))}
        entry = geoms[name]
        v = params.get(entry["key"])
        return entry["by_key"].get(str(v)) if v is not None else None

    def predicate(page) -> bool:
        if not page.coverage:
            return False
        if page.coverage == layer:
            return str(page.params.get(key)) == territory.code
        if page.coverage in kind_layers and own_kind:
            return False
        g = feature_geom(page.coverage, page.params)
        if g is None or g.is_empty:
            return False
        return bool(in_territory([g], tgeom)[0])

    return predicate


def _write_sheets(cat, territory: Territory, folder: Path, workers: int | None) -> dict[str, int]:
    from mbm_sig.atlas import render_atlas
    from mbm_sig.atlas.engine import load_atlas
    books = {}
    maps = folder / "cartes"
    maps.mkdir(parents=True, exist_ok=True)
    for name in ATLASES:
        predicate = _page_selector(cat, territory, load_atlas(name))
        res = render_atlas(name, maps, catalogue=cat, sheets=True, png=True, workers=workers, progress=False,
                           select=(territory.code, territory.name, predicate))
        if res.books:
            books[name] = res.books[0].pages
    return books


# ---------------------------------------------------------------------------------------------
# data

def territory_communes(cat, territory: Territory) -> set[str]:
    """INSEE codes of the territory's communes (the communes layer's EPCI or arrondissement)."""
    field_ = KINDS[territory.kind][3]
    df = cat.read("communes", columns=["insee", field_])
    return set(df.loc[df[field_].astype(str) == territory.code, "insee"].astype(str))


def _clip(cat, name: str, territory: Territory, communes: set[str]):
    """The rows of a layer in the territory. Rows located in a commune (an ``insee`` field: the
    commune of the feature's representative point, as the atlases count them) are those of the
    territory's communes; other features, those :func:`in_territory`; tables without either, none."""
    ld = cat.layer_def(name)
    df = cat.read(name)
    if not len(df):
        return df
    spatial = ld.has_geometry and hasattr(df, "geometry")
    if spatial:
        df = df[df.geometry.notna() & ~df.geometry.is_empty]
    if "insee" in df.columns:
        # one code, or several («62351, 62628»: a project over two communes); none: by location
        located = df["insee"].notna() & (df["insee"].astype(str).str.strip() != "")
        keep = df["insee"].astype(str).map(lambda v: any(c.strip() in communes for c in v.split(",")))
        if spatial and (~located).any():
            keep = keep | (~located & in_territory(df.geometry, territory.geometry))
        df = df[keep & (located | spatial)]
    elif spatial:
        df = df[in_territory(df.geometry, territory.geometry)]
    else:
        return df.iloc[0:0]
    if ld.key and ld.key in df.columns:
        df = df.sort_values(ld.key, kind="mergesort")
    return df


def in_territory(geoms, territory) -> np.ndarray:
    """Which geometries belong to a territory: points and lines reaching 1 m inside it; polygons
    overlapping it by at least 10 % of their area (or of the territory's): a neighbour that shares
    a boundary, generalised a little differently, is not in it."""
    import shapely
    arr = np.asarray(geoms.values if hasattr(geoms, "values") else geoms)
    inner = territory.buffer(-INTERIOR_M)
    out = shapely.intersects(arr, inner)
    area = shapely.area(arr)
    poly = area > 0
    if poly.any():
        inter = shapely.area(shapely.intersection(arr[poly & out], territory))
        keep = inter > MIN_OVERLAP * np.minimum(area[poly & out], territory.area)
        idx = np.flatnonzero(poly & out)
        out[idx] = keep
    return out


def _write_geopackage(frames: dict, path: Path, when: dt.datetime) -> None:
    """Every layer into one GeoPackage 1.2 with its QGIS default style (``layer_styles``),
    every timestamp set to the pack's date."""
    import pyogrio
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
        try:
            for name, df in frames.items():
                if not hasattr(df, "geometry"):
                    continue
                pyogrio.write_dataframe(df, tmp, layer=name, driver="GPKG", append=tmp.exists(),
                                        dataset_options=None if tmp.exists() else {"VERSION": "1.2"})
            from mbm_sig.qgis.styles import write_gpkg_styles  # QGIS opens the extract styled
            write_gpkg_styles(tmp, [n for n, df in frames.items() if hasattr(df, "geometry")])
            _fix_timestamps(tmp, when)
        finally:
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def _fix_timestamps(path: Path, when: dt.datetime) -> None:
    """The pack's date in every timestamp the GeoPackage holds (``gpkg_contents.last_change``,
    ``layer_styles.update_time``): the same file for the same inputs."""
    import sqlite3
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    con = sqlite3.connect(path)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        with con:
            con.execute("UPDATE gpkg_contents SET last_change = ?", (stamp,))
            if "layer_styles" in tables:
                cols = {r[1] for r in con.execute("PRAGMA table_info(layer_styles)")}
                if "update_time" in cols:
                    con.execute("UPDATE layer_styles SET update_time = ?", (stamp,))
    finally:
        con.close()


def french_csv(df, ld) -> str:
    """A table for spreadsheets in French (the export's dialect, :func:`frame_to_csv`): «;»
    separator, decimal comma, integers without «,0», booleans «oui»/«non»; no geometry column
    but, for point layers, the x/y of each point in Lambert-93 metres."""
    geom_name = df.geometry.name if hasattr(df, "geometry") else None
    out = pd.DataFrame(df.drop(columns=[geom_name]) if geom_name else df)
    for f in ld.fields:          # booleans with gaps come back as objects: typed as booleans
        if f.type == "bool" and f.name in out and not pd.api.types.is_bool_dtype(out[f.name]):
            out[f.name] = out[f.name].astype("boolean")
    if geom_name and ld.geometry in ("Point", "MultiPoint"):
        pts = df.geometry.representative_point()
        out["x_l93"] = pts.x.round().astype("Int64")
        out["y_l93"] = pts.y.round().astype("Int64")
    return frame_to_csv(out, "fr", int_fields=[f.name for f in ld.fields if f.type == "int"])


def _write_data(cat, territory: Territory, folder: Path, when: dt.datetime) -> tuple[dict[str, int], list]:
    from mbm_sig.catalogue.layerdef import load_layers
    communes = territory_communes(cat, territory)
    frames, counts = {}, {}
    for name in sorted(load_layers()):
        if not cat.has_data(name):
            continue
        df = _clip(cat, name, territory, communes)
        if len(df):
            frames[name] = df
            counts[name] = len(df)
    _write_geopackage(frames, folder / "donnees" / f"{safe_name(territory.slug)}.gpkg", when)
    (folder / "tableaux").mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        atomic_write_text(folder / "tableaux" / f"{safe_name(name)}.csv",
                          "\ufeff" + french_csv(df, cat.layer_def(name)), encoding="utf-8")
    return counts, sorted(frames)


# ---------------------------------------------------------------------------------------------
# README, manifest, zip

def _why_none(cat, territory: Territory, atlas) -> str:
    """Why an atlas has no page of the territory, from its definition: its sections of the
    territory's kind leave out the features with no row of some layers (``skip_empty``)."""
    layer = KINDS[territory.kind][0]
    skipped = [item["layer"] for sec in atlas.sections for sh in [None, *sec.sheets]
               for cov in ((sec.coverage,) if sh is None else (sh.coverage,))
               if cov and cov.get("layer") == layer for item in cov.get("skip_empty") or []]
    if not skipped:
        return ""
    titles = [f"« {cat.layer_def(n).title} »" for n in dict.fromkeys(skipped)]
    return ", qui ne compte aucun élément de la couche " + " ni de la couche ".join(titles)


def _readme(cat, territory: Territory, when: dt.datetime, counts: dict, books: dict, files: list[str]) -> str:
    from mbm_sig.maps.fmt import MONTHS
    _, _, kind_fr, _ = KINDS[territory.kind]
    date_fr = f"{when.day} {MONTHS[when.month - 1]} {when.year}"
    lines = [f"# {territory.name} — dossier cartographique et données", "",
             f"Mission Bassin Minier Nord-Pas de Calais. Dossier de l’{kind_fr} {territory.name} "
             f"(code {territory.code}), produit le {date_fr} par mbm-sig {tool_version()}.", "",
             "## Contenu", ""]
    from mbm_sig.atlas.engine import load_atlas
    atlases = {a: load_atlas(a) for a in ATLASES}
    for name, n in books.items():
        lines.append(f"- `cartes/atlas-{name}-{safe_name(territory.code)}.pdf` : {atlases[name].title}, "
                     f"sections du territoire ({n} pages, sommaire et signets) ; les mêmes cartes une à une "
                     f"en PDF et en PNG dans `cartes/{name}/`.")
    for name in (a for a in ATLASES if a not in books):
        why = _why_none(cat, territory, atlases[name])
        lines.append(f"- {atlases[name].title} : pas de section du territoire{why}.")
    lines += [f"- `donnees/{safe_name(territory.slug)}.gpkg` : GeoPackage (Lambert-93, EPSG:2154) de "
              f"{sum(1 for n in counts if cat.layer_def(n).has_geometry)} couches : les objets du territoire "
              "(ceux dont le point représentatif est dans une de ses communes, comme les atlas les "
              "comptent ; pour les couches sans commune, les points et lignes qui y entrent et les surfaces "
              "qui le recouvrent pour 10 % au moins de leur aire), entiers (non découpés) ; à ouvrir dans QGIS.",
              "- `tableaux/*.csv` : les mêmes couches en tableaux pour tableur (séparateur « ; », "
              "virgule décimale, UTF-8) ; les couches de points ont leurs coordonnées Lambert-93 "
              "(`x_l93`, `y_l93`).",
              "- `carte/index.html` : carte interactive du patrimoine minier du territoire, "
              "consultable hors connexion (ouvrir le fichier dans un navigateur).",
              "- `MANIFEST.sha256` : empreinte SHA-256 de chaque fichier (`sha256sum -c MANIFEST.sha256`).",
              "", "## Couches, millésimes et licences", "",
              "| couche | objets | millésime | licence | sources |", "|---|---:|---|---|---|"]
    for name, n in counts.items():
        ld = cat.layer_def(name)
        srcs = " ; ".join(s.credit() for s in cat.sources_for(name)) or "import d’un fichier utilisateur"
        lines.append(f"| {ld.title} (`{name}`) | {n} | {ld.vintage or '—'} | {ld.licence} | {srcs} |")
    licences = sorted({s.licence for n in counts for s in cat.sources_for(n) if s.licence})
    lines += ["", "## Licences", "",
              "Données ouvertes, réutilisables en citant leurs sources : " + " ; ".join(licences) + ".",
              "Cartes : Mission Bassin Minier Nord-Pas de Calais, à partir de ces données.",
              "Bibliothèques de la carte interactive : Leaflet (BSD-2), Leaflet.markercluster (MIT).", ""]
    return "\n".join(lines)


def _all_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def write_zip(folder: Path, zpath: Path, when: dt.datetime) -> None:
    """The folder as a zip whose bytes depend only on the files: sorted entries under the folder's
    name, one fixed time, fixed permissions, deflated."""
    stamp = max(when, dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)).timetuple()[:6]
    with atomic_path(zpath) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for rel in _all_files(folder):
                info = zipfile.ZipInfo(f"{folder.name}/{rel}", date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                info.create_system = 3
                z.writestr(info, (folder / rel).read_bytes(), compresslevel=9)


# ---------------------------------------------------------------------------------------------
# one pack

def build_pack(cat, territory: Territory, out_dir: Path, workers: int | None = None) -> PackResult:
    """Write the pack of ``territory`` into ``out_dir`` (replacing a previous one when complete)."""
    from mbm_sig.web.build import Territory as WebTerritory
    from mbm_sig.web.build import build_site

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    when = pack_date(cat)
    final = out_dir / territory.slug
    work = Path(tempfile.mkdtemp(prefix=f".{territory.slug}.part-", dir=out_dir))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(work, 0o777 & ~umask)       # mkdtemp makes it 0700: the pack is for others to read
    old_epoch = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(when.timestamp()))     # the same date in every PDF
    try:
        books = _write_sheets(cat, territory, work, workers)
        counts, _ = _write_data(cat, territory, work, when)
        build_site(cat, work / "carte", geojson=False,
                   territory=WebTerritory(territory.name, territory.geometry,
                                          frozenset(territory_communes(cat, territory))))
        files = _all_files(work)
        atomic_write_text(work / "README.md", typo(_readme(cat, territory, when, counts, books, files)))
        listing = "".join(f"{file_sha256(work / rel)}  {rel}\n" for rel in _all_files(work))
        atomic_write_text(work / "MANIFEST.sha256", listing)
        # complete: replace the previous pack folder, then the zip
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{territory.slug}.old-", dir=out_dir))
            os.replace(final, trash / "old")
            os.replace(work, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(work, final)
        zpath = out_dir / f"{territory.slug}.zip"
        write_zip(final, zpath, when)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise Failure(f"pack {territory.kind} {territory.code}: {exc}") from exc
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if old_epoch is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old_epoch
    return PackResult(territory, final, zpath, _all_files(final), counts, books)


# ---------------------------------------------------------------------------------------------
# several packs, in parallel

_WORKER: dict = {}


def _init(db_url: str) -> None:
    import warnings
    warnings.filterwarnings("ignore")
    from mbm_sig.catalogue import Catalogue
    _WORKER["cat"] = Catalogue.open(db_url)


def _one(job):
    territory, out_dir = job
    return build_pack(_WORKER["cat"], territory, out_dir, workers=1)


def build_packs(cat, ters: list[Territory], out_dir: Path, processes: int | None = None) -> list[PackResult]:
    """One pack per territory; several in parallel (one process per core, each drawing its
    sheets on one core). Results in the order of ``ters``."""
    n = max(1, min(processes or os.cpu_count() or 1, len(ters)))
    if n == 1:
        return [build_pack(cat, t, out_dir) for t in ters]
    import multiprocessing as mp
    with mp.get_context("fork").Pool(n, initializer=_init, initargs=(cat.url,)) as pool:
        return pool.map(_one, [(t, Path(out_dir)) for t in ters], chunksize=1)
