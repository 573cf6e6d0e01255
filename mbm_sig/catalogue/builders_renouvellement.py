"""Builders of the renewal and mining-aftermath layers (concessions, renouvellement_urbain,
grands_projets), from the facts of data/*.csv and the mine shafts.

- ``concessions``: the concessions the 2005 activity report names (``data/concessions.csv``)
  plus every other concession named by the mine shafts (status «non renseigné»). No official
  perimeter is reachable: the geometry is an **approximate extent**, the concave hull of the
  shafts attributed to the concession buffered by :data:`EXTENT_BUFFER_M`, or, for a
  concession without shafts, the polygon of its namesake commune.
- ``renouvellement_urbain``: the projects the report names (``data/renouvellement_urbain.csv``),
  located by their cité polygon when one matches, by their commune(s) otherwise, plus the
  ERBM cités of the open data.
- ``grands_projets``: the report's «grands projets» (``data/grands_projets.csv``), located by a
  site polygon of the open data where one is named, by their commune(s) otherwise.

The builders read only the layers ``puits``, ``communes`` and ``cites_minieres`` (declared as
``after:`` in the layer definitions) and, for site polygons, the ``unesco_batis`` source.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter

import geopandas as gpd
import pandas as pd
import shapely

from mbm_sig.catalogue.builders import BuildContext, MissingSource, builder
from mbm_sig.catalogue.layerdef import LayerDef
from mbm_sig.config import TARGET_CRS

log = logging.getLogger(__name__)

EXTENT_BUFFER_M = 500.0
HULL_RATIO = 0.4          # shapely.concave_hull ratio (0 = tightest, 1 = convex hull)

EMPRISE_APPROCHEE = "emprise approchée"
EMPRISE_COMMUNE = "commune éponyme"
EMPRISE_OFFICIEL = "périmètre officiel"
NON_RENSEIGNE = "non renseigné"

SOURCE_PUITS = "Anciens puits de mines (Mission Bassin Minier / data.gouv.fr)"
SECTION_PUITS_SEULS = ("Open data : puits de mines (champ concession) ; concession non nommée "
                       "dans le rapport d'activité 2005")
SECTION_ERBM = ("Open data : cités minières ERBM du bien inscrit (Mission Bassin Minier, "
                "couche cites_minieres)")

# ---------------------------------------------------------------------------------------
# concession names

#: leading words that are not part of a concession name («Mines de», «Concession de», …)
_PREFIX = re.compile(
    r"^(?:concession|mines?|compagnies?|cie|societe|ste|houillere|anonyme|salmon dite)\s+"
    r"(?:(?:des|de la|de l|de|du|d)\s+)?")
_TRAILING = re.compile(r"\s+(?:reunies|reunis)$")

#: spelling variants and older names → normalised key of the canonical concession
CONCESSION_ALIASES = {
    "noeux": "noeux les mines",
    "courriere": "courrieres",
    "raisme": "raismes",
    "veiux conde": "vieux conde",
    "thivencelles": "thivencelle",
    "camblain": "camblain chatelain",
    "bruay": "bruay labuissiere",
    "bruay la buissiere": "bruay labuissiere",
    "marles les mines": "marles",
    "fresnes": "fresnes sur escaut",
    "fesnes": "fresnes sur escaut",        # typo of the shaft data (shaft at Fresnes-sur-Escaut)
    "equerchin": "esquerchin",
    "escautpont": "escaupont",
    "cauchy a la tour": "cauchy la tour",
    "hardingham": "hardinghen",
    "bruille saint amand": "bruille",
}


def strip_accents(text: str) -> str:
    text = text.replace("œ", "oe").replace("Œ", "Oe").replace("æ", "ae").replace("Æ", "Ae")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def name_key(text: str) -> str:
    """Lower case, no accents, words separated by one space (for any place name)."""
    s = strip_accents(str(text)).lower()
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()
    s = re.sub(r"\bste\b", "sainte", re.sub(r"\bst\b", "saint", s))
    s = re.sub(r"(?<=\d)(bis|ter)\b", r" \1", s)          # «9-9bis» is «9-9 bis»
    return re.sub(r"\b(?:lez|lès)\b", "les", s)


def concession_key(raw: str) -> str:
    """Normalised key of a concession name: «Mines de Courrière» → «courrieres»,
    «Nœux-les-Mines (Compagnie de Vicoigne)» → «noeux les mines»."""
    s = re.sub(r"\(.*?\)", " ", str(raw))
    s = re.split(r"\s+-\s+", s)[0]             # «Grenay - Compagnie de Béthune»
    s = re.split(r"\s+puis\s+", s)[0]          # «Courcelles puis Escarpelle»
    s = name_key(s)
    while True:
        t = _PREFIX.sub("", s)
        if t == s:
            break
        s = t
    s = _TRAILING.sub("", s).strip()
    return CONCESSION_ALIASES.get(s, s)


def _display_name(raw: str) -> str:
    """Readable name of a concession known only from the shafts (prefixes removed)."""
    s = re.sub(r"\(.*?\)", " ", str(raw))
    s = re.split(r"\s+-\s+", s)[0]
    s = re.split(r"\s+puis\s+", s)[0]
    raw_s = s.strip()
    s = re.sub(r"^(?:Mines|Compagnie(?: Salmon dite)?|Société(?: houillère| des mines)?)\s+(?:de |d['’]|du |des )",
               "", raw_s, flags=re.I)
    if re.search(r"\bet de l['’]|\bet du\b|\bet des\b", s):
        return raw_s        # a company's name, not a place («Société du Nord et de l’Aisne»): kept whole
    s = re.sub(r"\s+(?:réunies|réunis)$", "", s.strip())
    return s.strip()


def merge_concession_names(raw_names) -> dict[str, list[str]]:
    """Raw names grouped by normalised key, each group sorted by frequency then name."""
    counts = Counter(n for n in raw_names if isinstance(n, str) and n.strip())
    groups: dict[str, list[str]] = {}
    for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        groups.setdefault(concession_key(name), []).append(name)
    return groups


def _extent(points) -> shapely.Geometry:
    pts = shapely.multipoints(list(points))
    hull = shapely.concave_hull(pts, ratio=HULL_RATIO)
    return shapely.make_valid(shapely.buffer(hull, EXTENT_BUFFER_M, quad_segs=8))


def _communes_geometry(ctx: BuildContext, codes) -> shapely.Geometry | None:
    com = ctx.layer("communes").to_crs(TARGET_CRS).set_index("insee").geometry
    geoms = [com[c] for c in codes if c in com.index]
    if not geoms:
        return None
    return shapely.make_valid(shapely.union_all(geoms))


def _codes(value) -> list[str]:
    if not isinstance(value, str) or not value.strip():
        return []
    return [c.strip() for c in value.split("|") if c.strip()]


def _bool(value) -> bool | None:
    if not isinstance(value, str):
        return None
    return value.strip().lower() in {"oui", "true", "1", "vrai"}


@builder("concessions")
def build_concessions(ctx: BuildContext, ld: LayerDef) -> gpd.GeoDataFrame:  # noqa: C901 - sequential matching of facts, wells and official perimeters; carto edits this file
    facts = ctx.facts("concessions.csv")
    puits = ctx.layer("puits").to_crs(TARGET_CRS)
    puits = puits[puits["concession"].notna() & puits.geometry.notna()].copy()
    puits["_key"] = puits["concession"].map(concession_key)
    groups = merge_concession_names(puits["concession"])
    for key, names in groups.items():
        if len(names) > 1:
            log.info("concessions: variants merged into %r: %s", key, " | ".join(names))
    unattributed = int(ctx.layer("puits")["concession"].isna().sum())
    if unattributed:
        log.info("concessions: %d shafts have no concession name and are not used", unattributed)

    facts["_key"] = facts["nom"].map(concession_key)
    dup = facts["_key"].duplicated()
    if dup.any():
        raise ValueError(f"concessions.csv: names normalise to the same key: {list(facts['nom'][dup])}")
    rows = []
    for rec in facts.to_dict("records"):
        rec["dans_rapport"] = True
        rows.append(rec)
    known = set(facts["_key"])
    # a concession named after a commune takes the commune's official (COG) spelling
    cog = {name_key(n): n for n in ctx.layer("communes")["nom"].dropna()}
    for key, names in groups.items():
        if key in known:
            continue
        shown = _display_name(names[0])
        rows.append({
            "_key": key, "nom": cog.get(name_key(shown), shown), "nom_source": None,
            "statut_2000": NON_RENSEIGNE, "statut_2000_deduit": "non",
            "arret_travaux": NON_RENSEIGNE, "renonciation": NON_RENSEIGNE, "statut_2005": NON_RENSEIGNE,
            "dans_rapport": False, "source_section": SECTION_PUITS_SEULS,
            "remarque": "concession nommée seulement par les puits de mines ; "
                        "statut des procédures non renseigné par le rapport",
        })
    out = pd.DataFrame(rows)
    out["id"] = out["_key"].str.replace(" ", "-")
    out["variantes"] = out["_key"].map(lambda k: " ; ".join(groups.get(k, [])) or None)
    out["nb_puits"] = out["_key"].map(puits.groupby("_key").size()).fillna(0).astype(int)
    out["statut_2000_deduit"] = out["statut_2000_deduit"].map(_bool)

    geoms, emprise, geo_src = [], [], []
    by_key = puits.groupby("_key").geometry
    shafts = {k: g.values for k, g in by_key}
    for rec in out.to_dict("records"):
        pts = shafts.get(rec["_key"])
        if pts is not None and len(pts):
            geoms.append(_extent(pts))
            emprise.append(EMPRISE_APPROCHEE)
            geo_src.append(f"{SOURCE_PUITS} : enveloppe des {len(pts)} puits attribués, "
                           f"tampon de {EXTENT_BUFFER_M:.0f} m")
            continue
        g = _communes_geometry(ctx, _codes(rec.get("insee_eponyme")))
        if g is None:
            g = _namesake_commune(ctx, rec["nom"])
        if g is None:
            log.warning("concessions: %s has neither shafts nor a namesake commune; left out", rec["nom"])
            geoms.append(None)
            emprise.append(None)
            geo_src.append(None)
            continue
        log.info("concessions: %s has no shaft; located by its namesake commune", rec["nom"])
        geoms.append(g)
        emprise.append(EMPRISE_COMMUNE)
        geo_src.append("Contour de la commune éponyme (IGN / INSEE)")
    official = ctx.user_layer("concessions_officielles")
    if official is not None:
        # imported official perimeters replace the approximate extents, matched by name
        perims = {concession_key(n): g for n, g in zip(official["nom"], official.geometry.values, strict=True)}
        for i, rec in enumerate(out.to_dict("records")):
            g = perims.get(rec["_key"])
            if g is not None:
                geoms[i], emprise[i] = g, EMPRISE_OFFICIEL
                geo_src[i] = "Périmètre officiel importé (concessions_officielles)"
        unmatched = set(perims) - set(out["_key"])
        if unmatched:
            log.warning("concessions: official perimeters with no concession of that name: %s",
                        ", ".join(sorted(unmatched)))
    out["emprise"] = emprise
    out["source_geometrie"] = geo_src
    gdf = gpd.GeoDataFrame(out.drop(columns=["_key"]), geometry=gpd.GeoSeries(geoms, crs=TARGET_CRS),
                           crs=TARGET_CRS)
    gdf = gdf[gdf.geometry.notna()].reset_index(drop=True)
    gdf["numero"] = concession_numbers(gdf)
    log.info("concessions: %d named by the report, %d named only by the shafts",
             int(gdf["dans_rapport"].sum()), int((~gdf["dans_rapport"].astype(bool)).sum()))
    return gdf


def concession_numbers(gdf: pd.DataFrame) -> list[int]:
    """The number of each concession, the key between the map's labels and the tables: in the
    order of the tables, the report's concessions by name first, then those of the shafts
    alone by name (the atlas's collation)."""
    from mbm_sig.maps.fmt import collation_key
    order = sorted(range(len(gdf)), key=lambda i: (not bool(gdf["dans_rapport"].iat[i]),
                                                   collation_key(gdf["nom"].iat[i])))
    num = [0] * len(gdf)
    for n, i in enumerate(order, start=1):
        num[i] = n
    return num


def _namesake_commune(ctx: BuildContext, name: str) -> shapely.Geometry | None:
    com = ctx.layer("communes").to_crs(TARGET_CRS)
    hit = com[com["nom"].map(name_key) == name_key(name)]
    return hit.geometry.iloc[0] if len(hit) == 1 else None


# ---------------------------------------------------------------------------------------
# renouvellement urbain

def _cite_key(name: str) -> str:
    s = name_key(name)
    s = re.sub(r"\(.*", "", s)
    s = re.sub(r"^(?:cite|coron|quartier)\s+(?:(?:de la|de l|des|du|de|d)\s+)?", "", s)
    s = re.sub(r"\bn\s+(?=\d)", "", s)
    return re.sub(r"^fosse\s+", "", s).strip()


def find_cite(cites: gpd.GeoDataFrame, name: str, communes: list[str]) -> gpd.GeoDataFrame:
    """Cités of the open data whose name matches ``name`` in one of ``communes`` (names)."""
    key = _cite_key(name)
    wanted = {name_key(c) for c in communes}
    cols = [c for c in ("commune", "commune_2", "commune_3", "commune_source") if c in cites]
    in_communes = cites[cols].apply(lambda r: any(isinstance(v, str) and name_key(v) in wanted for v in r),
                                    axis=1)
    same = cites["nom"].map(lambda n: isinstance(n, str) and _cite_key(n) == key)
    return cites[same & in_communes]


@builder("renouvellement_urbain")
def build_renouvellement_urbain(ctx: BuildContext, ld: LayerDef) -> gpd.GeoDataFrame:
    facts = ctx.facts("renouvellement_urbain.csv")
    try:
        cites = ctx.layer("cites_minieres").to_crs(TARGET_CRS)
    except MissingSource as exc:
        log.warning("renouvellement_urbain: %s; projects located by commune only, no ERBM cités", exc)
        cites = None
    rows, geoms = [], []
    for rec in facts.to_dict("records"):
        rec = {k: (None if isinstance(v, float) else v) for k, v in rec.items()}
        communes = _codes(rec.get("communes"))
        hit = None
        if rec.get("cite") and cites is not None:
            hit = find_cite(cites, rec["cite"], communes)
            if len(hit):
                rec["cite_id"] = " ; ".join(hit["id"].astype(str))
            else:
                log.info("renouvellement_urbain: %s (%s) is not in the cités of the open data; "
                         "located by commune", rec["cite"], ", ".join(communes))
        if hit is not None and len(hit):
            g = shapely.make_valid(shapely.union_all(hit.geometry.values))
            rec["localisation"] = "cité"
        else:
            g = _communes_geometry(ctx, _codes(rec["insee"]))
            rec["localisation"] = "commune"
        rec["commune"] = ", ".join(communes)
        rec["origine"] = "rapport d'activité 2005"
        rows.append(rec)
        geoms.append(g)
    if cites is not None:
        erbm = cites[(cites["erbm"] == True) & (cites["perimetre"] == "Bien inscrit")]  # noqa: E712
        com = ctx.layer("communes").to_crs(TARGET_CRS)
        join = gpd.sjoin(gpd.GeoDataFrame(erbm[["id"]], geometry=erbm.geometry.representative_point(),
                                          crs=erbm.crs),
                         com[["insee", "nom", "geometry"]], how="left", predicate="within")
        join = join.drop_duplicates("id").set_index("id")
        for c in erbm.to_dict("records"):
            rows.append({
                "id": f"ERBM-{c['id']}", "nom": c["nom"], "programme": "ERBM",
                "statut": "cité retenue ERBM", "annee": None,
                "commune": join.at[c["id"], "nom"],
                "insee": join.at[c["id"], "insee"], "cite": c["nom"], "cite_id": c["id"],
                "localisation": "cité", "origine": "données ouvertes",
                "source_section": SECTION_ERBM,
                "remarque": (f"bailleur : {c['proprietaire']}" if isinstance(c.get("proprietaire"), str)
                             else None),
            })
            geoms.append(c["geometry"])
        log.info("renouvellement_urbain: %d projects of the report, %d ERBM cités of the open data",
                 len(facts), len(erbm))
    out = pd.DataFrame(rows)
    out["insee"] = out["insee"].map(lambda v: v.replace("|", ", ") if isinstance(v, str) else v)
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=TARGET_CRS), crs=TARGET_CRS)


# ---------------------------------------------------------------------------------------
# grands projets

@builder("grands_projets")
def build_grands_projets(ctx: BuildContext, ld: LayerDef) -> gpd.GeoDataFrame:
    facts = ctx.facts("grands_projets.csv")
    sites: dict[str, gpd.GeoDataFrame] = {}
    rows, geoms = [], []
    for rec in facts.to_dict("records"):
        rec = {k: (None if isinstance(v, float) else v) for k, v in rec.items()}
        g = None
        src = rec.pop("site_source", None)
        site = rec.pop("site_nom", None)
        if src and site:
            try:
                if src not in sites:
                    sites[src] = gpd.read_file(ctx.source_path(src)).to_crs(TARGET_CRS)
                df = sites[src]
                want = name_key(site)
                hit = df[df["nom"].map(lambda n, want=want: isinstance(n, str) and name_key(n) == want)]
                if len(hit):
                    g = shapely.make_valid(shapely.union_all(hit.geometry.values))
                    rec["precision"] = "polygone du site"
                    rec["source_geometrie"] = (f"{ctx.sources[src].credit()} : élément « {site} »")
                else:
                    log.info("grands_projets: site %r not found in %s; located by commune", site, src)
            except MissingSource as exc:
                log.warning("grands_projets: %s; %s located by commune", exc, rec["nom"])
        if g is None:
            g = _communes_geometry(ctx, _codes(rec["insee"]))
            rec["precision"] = "commune"
            rec["source_geometrie"] = "Contour de la commune (IGN / INSEE)"
        rec["communes"] = ", ".join(_codes(rec["communes"]))
        rec["insee"] = ", ".join(_codes(rec["insee"]))
        rows.append(rec)
        geoms.append(g)
    out = pd.DataFrame(rows)
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=TARGET_CRS), crs=TARGET_CRS)
