"""The health atlas after the cartographer's review (issue 11): every map dates its data in
its subtitle and states its classes in reader words, small-number densities are flagged,
the SSM heritage buildings are drawn and named as a proxy, the hospitals' legend lists what
is drawn, and the legends' colours and top labels hold."""
from pathlib import Path

import pytest
import yaml

from mbm_sig.check import map_sheet_info
from mbm_sig.maps.colorcheck import delta_e

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "atlases" / "maps"

# the basin sheets of the atlas with real data, and the vintages their subtitle must give
VINTAGES = {
    "sante_population_65": ["RP 2021"],
    "sante_age_0_19": ["RP 2021"],
    "sante_age_20_64": ["RP 2021"],
    "sante_65_ssm": ["RP 2021"],
    "sante_hopitaux": ["FINESS 2020"],
    "sante_generalistes": ["SIRENE 2019", "RP 2021"],
    "sante_densite_generalistes": ["SIRENE 2019"],
    "sante_specialistes": ["SIRENE 2019", "RP 2021"],
    "sante_densite_specialistes": ["SIRENE 2019"],
    "sante_distance_generaliste": ["SIRENE 2019"],
    "sante_distance_hopital": ["FINESS 2020"],
    "sante_arrondissement": ["RP 2021"],
}


def _doc(name):
    return yaml.safe_load((RECIPES / f"{name}.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(VINTAGES))
def test_subtitle_dates_the_data(name):
    sub = _doc(name)["subtitle"]
    for v in VINTAGES[name]:
        assert v in sub, (name, sub)
    # SIRENE counts are from 2019: a subtitle over them never dates them by the census alone
    if any("etab_" in str(lay.get("var")) or "dens_" in str(lay.get("var")) for lay in _doc(name)["layers"]):
        assert "SIRENE 2019" in sub


@pytest.mark.parametrize("name", sorted(VINTAGES))
def test_classed_maps_state_method_and_number_of_classes(name):
    doc = _doc(name)
    notes = " ".join(doc.get("credits", {}).get("notes", []))
    assert "seule, la carte" not in notes                       # the internal note is gone
    for lay in doc["layers"]:
        if lay["type"] not in ("choro", "prop_choro"):
            continue
        if lay.get("method") == "breaks":
            assert "seuils choisis" in notes, name
        else:
            k = 6 if lay.get("method") in ("Q6", "q6") else lay.get("k", 5)
            assert f"{k} classes" in notes, (name, notes)
            assert "calculé" in notes and "communes" in notes, name


def test_distance_definitions_agree():
    """The GP distance is commune to commune (the nearest commune with an establishment): the
    sheet's credits and the atlas's method page say the same."""
    atlas = yaml.safe_load((ROOT / "atlases" / "sante.yaml").read_text(encoding="utf-8"))
    (method,) = [n for n in atlas["method_notes"] if n.startswith("Distances")]
    sheet = " ".join(_doc("sante_distance_generaliste")["credits"]["notes"])
    assert "commune la plus proche" in sheet and "commune la plus proche" in method
    assert "établissement hospitalier FINESS le plus proche" in method


def test_small_communes_flag_is_built(built_gpkg):
    ind = built_gpkg.read("indicateurs_communes", columns=["population", "moins_1000_hab"])
    small = ind["moins_1000_hab"].astype(bool)
    assert (small == (ind["population"] < 1000)).all()
    assert 0 < small.sum() < len(ind)


@pytest.mark.parametrize("name", ["sante_densite_generalistes", "sante_densite_specialistes"])
def test_density_maps_flag_small_numbers(built_gpkg, name):
    info, legends, _ = map_sheet_info(RECIPES / f"{name}.yaml", {}, built_gpkg)
    labels = [t for lg in legends for t in lg["labels"]]
    assert "Moins de 1 000 habitants : densité peu fiable" in labels
    # every commune under 1 000 inhabitants of the four arrondissements is outlined
    small = built_gpkg.read("indicateurs_communes", where={"arrondissement": ["622", "627", "593", "596"],
                                                           "moins_1000_hab": True})
    doc = _doc(name)
    (i,) = [j for j, lay in enumerate(doc["layers"]) if lay.get("where", {}).get("moins_1000_hab") is True]
    assert len(small) > 50 and info.features[i] == len(small)


def test_ssm_heritage_buildings_drawn_as_a_proxy(built_gpkg):
    doc = _doc("sante_65_ssm")
    assert "patrimoine" in doc["title"] and "pas l'offre actuelle" in doc["subtitle"]
    info, legends, _ = map_sheet_info(RECIPES / "sante_65_ssm.yaml", {}, built_gpkg)
    (sym,) = [lg for lg in info.legends if lg["kind"] == "symbols"]
    assert "Offre de soins SSM" not in sym["title"] and "indicateur approché" in sym["title"]
    assert sym["entries"] == ["Bâtiment SSM du patrimoine minier (ancienne offre)"]
    lay = [x for x in doc["layers"] if x["layer"] == "patrimoine_bati"][0]
    assert lay["fill"] == "none"                                # hollow: not the care offer's look


def test_hospitals_legend_lists_what_is_drawn(built_gpkg):
    info, legends, _ = map_sheet_info(RECIPES / "sante_hopitaux.yaml", {}, built_gpkg)
    entries = [e for lg in info.legends for e in lg["entries"]]
    assert "Périmètre du Bassin minier" in entries
    notes = " ".join(_doc("sante_hopitaux")["credits"]["notes"]).lower()
    for cat in [e for lg in info.legends if lg["kind"] == "symbols" for e in lg["entries"]]:
        assert cat.lower() in notes, cat
    assert "chr/chu" not in notes
    (sym,) = [lg for lg in legends if lg["kind"] == "symbols"]
    other = dict((e[0], e[1]) for e in sym["entries"])["Autre établissement"]
    assert delta_e(other, "#f7f4ef") >= 30                       # visible on the beige communes


def test_age_20_64_lightest_classes_apart(built_gpkg):
    info, _, _ = map_sheet_info(RECIPES / "sante_age_20_64.yaml", {}, built_gpkg)
    (ch,) = [lg for lg in info.legends if lg["kind"] == "choro"]
    c = ch["colors"]
    assert delta_e(c[0], c[1]) >= 10 and delta_e(c[0], c[1], deutan=True) >= 10
    assert all(delta_e(a, b) >= 9.5 for a, b in zip(c, c[1:]))


@pytest.mark.parametrize("name,var", [("sante_distance_hopital", "dist_hopital_km"),
                                      ("sante_distance_generaliste", "dist_generaliste_km")])
def test_distance_top_label_is_the_maximum(built_gpkg, name, var):
    _, legends, _ = map_sheet_info(RECIPES / f"{name}.yaml", {}, built_gpkg)
    (ch,) = [lg for lg in legends if lg["kind"] == "choro"]
    ind = built_gpkg.read("indicateurs_communes", where={"arrondissement": ["622", "627", "593", "596"]})
    top = f"{ind[var].max():.1f}".replace(".", ",")
    assert ch["labels"][-1] == top, (ch["labels"], top)


def test_basin_series_names_the_same_towns_with_circles(built_gpkg):
    """An optional town (10 000 inhabitants and more on a basin map) is not dropped for a big
    circle alone: it is named over it with its halo, as a required town is; so the basin sheets
    with circles name the towns of those without (the frame is shared)."""
    def towns(name):
        info, _, _ = map_sheet_info(RECIPES / f"{name}.yaml", {}, built_gpkg)
        return {lab["text"] for lab in info.labels if lab["layer"] == "toponymes"}
    plain = towns("sante_age_0_19")
    assert len(plain) >= 25
    for name in ("sante_population_65", "sante_generalistes"):
        named = towns(name)
        assert not {"Carvin", "Sin-le-Noble", "Saint-Amand-les-Eaux", "Somain", "Anzin"} - named, name
        assert len(plain - named) <= 2, (name, sorted(plain - named))


def test_neighbouring_town_names_do_not_read_as_one(built_gpkg):
    """«Harnes» and «Courrières» side by side on one line are kept labels.TOWN_GAP apart (they
    read as one name 2 mm apart), on the sheets without symbols as where circles are."""
    from mbm_sig.maps.labels import TOWN_GAP
    for name in ("sante_age_0_19", "sante_densite_generalistes", "sante_generalistes"):
        info, _, _ = map_sheet_info(RECIPES / f"{name}.yaml", {}, built_gpkg)
        towns = [lab for lab in info.labels if lab["layer"] == "toponymes"]
        assert {"Harnes", "Courrières"} <= {t["text"] for t in towns}, name
        for a in towns:
            for b in towns:
                ax0, ay0, ax1, ay1 = a["bbox"]
                bx0, by0, bx1, by1 = b["bbox"]
                if a is not b and ay0 < by1 and by0 < ay1 and ax1 <= bx0:     # b right of a, on its line
                    assert bx0 - ax1 >= TOWN_GAP - 1e-6, (name, a["text"], b["text"], bx0 - ax1)
