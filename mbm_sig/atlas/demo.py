"""Demonstration data for the atlas sheets whose data exist in no open source.

``mbm-sig atlas sante --demo`` renders those sheets from generated values instead of
listing them as waiting for data. The values are written into a temporary copy of the
catalogue (the real one is never touched), every generated row carries ``fictif = true``,
and every sheet that maps them is stamped «Données fictives».
Only layers that hold no data are filled: imported user data always wins.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from mbm_sig.catalogue import Catalogue

BASIN = ["622", "627", "593", "596"]
SEED = 2005        # reproducible: the same demo atlas on every run


def _basin_communes(cat: Catalogue) -> gpd.GeoDataFrame:
    return cat.read("indicateurs_communes", where={"arrondissement": BASIN})


def demo_sante_communes(cat: Catalogue, rng) -> pd.DataFrame:
    com = _basin_communes(cat)
    pop = com["population"].fillna(0).astype(float).to_numpy()
    mbm = com["bassin_minier"].fillna(False).astype(bool).to_numpy()
    n = len(com)
    return pd.DataFrame({
        "insee": com["insee"],
        "annee": 2004,
        "generalistes_liberaux": rng.poisson(pop / 1100.0),
        "generalistes_miniers": np.where(mbm, rng.poisson(pop / 5000.0), 0),
        "specialistes_liberaux": rng.poisson(pop / 1600.0),
        "actes_moyens": np.round(rng.normal(4.9, 0.6, n).clip(2.5, 8.0), 1),
        "actes_generaliste_liberal": np.round(rng.normal(5200, 700, n).clip(2500, 9000)),
        "actes_generaliste_minier": np.where(mbm, np.round(rng.normal(4600, 900, n).clip(2000, 9000)), np.nan),
        "part_regime_minier": np.round(np.where(mbm, rng.beta(2.2, 6.0, n) * 60, rng.beta(1.2, 20, n) * 20), 1),
        "part_cmuc": np.round(rng.normal(9.0, 3.0, n).clip(1.0, 25.0), 1),
        "fictif": True,
    })


def _points_in(com: gpd.GeoDataFrame, k: int, rng) -> gpd.GeoSeries:
    weights = com["population"].fillna(0).astype(float).to_numpy()
    idx = rng.choice(len(com), size=k, replace=False, p=weights / weights.sum())
    return gpd.GeoSeries(com.geometry.iloc[idx].representative_point().values, crs=com.crs), com.iloc[idx]


def demo_ssm(cat: Catalogue, rng) -> gpd.GeoDataFrame:
    com = _basin_communes(cat)
    com = com[com["bassin_minier"].fillna(False).astype(bool)]
    pts, rows = _points_in(com, 36, rng)
    cats = rng.choice(["Centre de santé médical polyvalent", "Antenne", "Lieu de consultation non agréé",
                       "Pharmacie minière"], size=len(pts), p=[0.35, 0.3, 0.2, 0.15])
    return gpd.GeoDataFrame({
        "id": [f"DEMO-SSM-{i + 1:03d}" for i in range(len(pts))],
        "nom": [f"Établissement fictif n° {i + 1}" for i in range(len(pts))],
        "commune": rows["nom"].to_numpy(), "insee": rows["insee"].to_numpy(),
        "categorie": cats, "agree": cats == "Centre de santé médical polyvalent",
        "ssm": np.where(rows["insee"].str[:2].to_numpy() == "62", "SSM Pas-de-Calais", "SSM Nord"),
        "annee": 2005, "fictif": True,
    }, geometry=pts.values, crs=com.crs)


def demo_pts(cat: Catalogue, rng) -> gpd.GeoDataFrame:
    com = _basin_communes(cat)
    pts, rows = _points_in(com, 30, rng)
    n = len(pts)
    return gpd.GeoDataFrame({
        "id": [f"DEMO-PTS-{i + 1:03d}" for i in range(n)],
        "intitule": [f"Projet fictif n° {i + 1}" for i in range(n)],
        "commune": rows["nom"].to_numpy(), "insee": rows["insee"].to_numpy(),
        "porteur": rng.choice(["Association", "Collectivité locale", "Éducation nationale",
                               "Établissement de soins", "Organisme professionnel"], size=n),
        "thematique": rng.choice(["SCV", "SEJ", "PRASE", "PRAPS", "CC", "CCAR"], size=n),
        "type_action": rng.choice(["Dépistage", "Information", "Prévention", "Accompagnement"], size=n),
        "echelle": rng.choice(["Communale", "Intercommunale", "Arrondissement"], size=n),
        "accepte": rng.random(n) < 0.7, "annee": 2005, "fictif": True,
    }, geometry=pts.values, crs=com.crs)


GENERATORS = {"sante_communes_import": demo_sante_communes, "ssm_dispensaires": demo_ssm,
              "pts_projets": demo_pts}


def demo_catalogue(cat: Catalogue, workdir: Path) -> tuple[Catalogue, list[str]]:
    """A temporary copy of ``cat`` whose empty user-data layers hold fictive values."""
    if cat.backend.kind != "gpkg":
        raise ValueError("--demo works on a GeoPackage catalogue (it fills a temporary copy); "
                         "export the layers to a GeoPackage first")
    copy = Path(workdir) / "demo-catalogue.gpkg"
    shutil.copyfile(cat.backend.path, copy)
    demo = Catalogue.open(str(copy))
    rng = np.random.default_rng(SEED)
    frames, filled = {}, []
    for name, gen in GENERATORS.items():
        if demo.has_data(name):
            continue
        frames[name] = demo.prepare(name, gen(demo, rng), source="demo (données fictives)")
        filled.append(name)
    if frames:
        demo.write_many(frames, {n: "données fictives (démonstration)" for n in frames}, action="demo")
    return demo, filled
