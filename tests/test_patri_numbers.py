"""The cités' numbers of the EPCI maps (build option ``number``) and the one name of a cité
split between the bien inscrit and the zone tampon (clean rule ``drop_part_suffix``)."""

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from mbm_sig.catalogue.builders import _clean, number_within


def test_numbers_follow_french_order_within_each_group_and_split_cites_share_one():
    gdf = gpd.GeoDataFrame({
        "nom": ["Cité des Œillets", "Cité de l’Abbaye", "Cité n° 12", "Cité n° 4", "Cité de l’Abbaye", "Cité Zola"],
        "epci": ["A", "A", "A", "A", "A", "B"],
    }, geometry=[Point(i, 0) for i in range(6)])
    out = number_within(gdf, {"field": "no", "within": "epci", "by": "nom"})
    assert list(out["no"]) == [2, 1, 4, 3, 1, 1]       # «de l’» < «des Œ» < «n° 4» < «n° 12», one number per name
    assert str(out["no"].dtype) == "Int64"


def test_drop_part_suffix_names_both_parts_alike():
    s = pd.Series(["Cité des Fleurs  (partie en zone-tampon)", "Cité n° 1 de Lens (partie en zone tampon)",
                   "Cité des Fleurs (n° 24-25-25b)", None])
    out = _clean(s, "drop_part_suffix")
    assert list(out[:3]) == ["Cité des Fleurs", "Cité n° 1 de Lens", "Cité des Fleurs (n° 24-25-25b)"]
    assert pd.isna(out[3])


def test_split_cites_share_their_number_on_the_printed_names(built_gpkg):
    """Numbered after the spellings: «Rés. du Parc (partie en zone-tampon)» of the zone tampon
    is «Résidence du Parc», with the number of the two bien-inscrit rows of that name."""
    c = built_gpkg.read("cites_minieres", columns=["nom", "epci_siren", "no_epci", "perimetre"])
    parc = c[c["nom"] == "Résidence du Parc"]
    assert set(parc["perimetre"]) == {"Bien inscrit", "Zone tampon"} and parc["no_epci"].nunique() == 1
    per = c.groupby("epci_siren").agg(n=("no_epci", "nunique"), top=("no_epci", "max"), low=("no_epci", "min"))
    assert (per["n"] == per["top"]).all() and (per["low"] == 1).all()     # 1…n, no gap
    assert c["no_epci"].notna().all()


def test_two_cites_of_one_name_in_two_communes_have_two_numbers(built_gpkg):
    """«Cité de la Gare» of Auchel and of Nœux-les-Mines (14 km apart, two companies) are two
    places: two numbers, Auchel's first (French order of the communes); the two parts of
    «Cité Deblock» (bien inscrit in Sallaumines, zone tampon in Noyelles-sous-Lens, touching)
    are one cité: one number. The EPCI's table lists its rows in the order of their numbers."""
    c = built_gpkg.read("cites_minieres", columns=["nom", "epci_siren", "no_epci", "commune"])
    gare = c[(c["nom"] == "Cité de la Gare") & (c["epci_siren"] == "200072460")].set_index("commune")["no_epci"]
    assert gare["Auchel"] + 1 == gare["Nœux-les-Mines"]
    deblock = c[c["nom"] == "Cité Deblock"]
    assert set(deblock["commune"]) == {"Sallaumines", "Noyelles-sous-Lens"} and deblock["no_epci"].nunique() == 1
    for _, g in c.groupby("epci_siren"):
        names = g.sort_values("no_epci")["nom"].tolist()
        from mbm_sig.maps.fmt import collation_key
        assert names == sorted(names, key=collation_key)               # numbers follow the names


def test_numbers_of_one_name_split_by_distance_then_ordered_by_commune():
    gdf = gpd.GeoDataFrame({
        "nom": ["Cité de la Gare", "Cité de la Gare", "Cité de la Gare", "Cité Zola"],
        "commune": ["Nœux-les-Mines", "Auchel", "Auchel", "Auchel"], "epci": ["A"] * 4,
    }, geometry=[Point(0, 0), Point(14_000, 0), Point(14_050, 0), Point(5, 5)], crs="EPSG:2154")
    out = number_within(gdf, {"field": "no", "within": "epci", "by": "nom", "then": "commune", "near_m": 100})
    assert list(out["no"]) == [2, 1, 1, 3]       # Auchel's two touching parts one number, before Nœux's
    # in degrees (a source's CRS during the build): distances are taken in metres all the same
    deg = gdf.to_crs("EPSG:4326")
    assert list(number_within(deg, {"field": "no", "within": "epci", "by": "nom", "then": "commune"})["no"]) == [2, 1, 1, 3]


def test_puits_grouped_as_the_cites_with_a_small_other(built_gpkg):
    """p7: the companies in their 1946 groups (build step ``group`` with ``other: null``), the
    companies named in the tables each in a group, «Autre» the small companies only."""
    puits = built_gpkg.read("puits", columns=["compagnie", "groupe"])
    groups = set(puits["groupe"].dropna())
    assert len(groups) == 8 and all(g.startswith("Groupe ") for g in groups)
    assert puits["groupe"].isna().mean() < 0.15          # was 43 % «Autre ou non renseigné»
    by = dict(zip(puits["compagnie"], puits["groupe"], strict=True))
    courrieres = next(c for c in by if "Courrières" in str(c))
    assert by[courrieres] == "Groupe d'Hénin-Liétard"
    assert by["Compagnie de Vicoigne-Nœux"] == "Groupe de Béthune"
    assert by["Compagnie d’Anzin"] == by["Compagnie Désandrouin et Taffin"] == "Groupe de Valenciennes"
    assert pd.isna(by["Compagnie de Saint-Saulve"])
