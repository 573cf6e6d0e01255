"""French typography on data strings (issue 11, point 9): one function, applied at build,
to labels and to table cells."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from mbm_sig.maps.fmt import french_text, typo

ROOT = Path(__file__).resolve().parents[1]
NBSP = "\u00a0"


@pytest.mark.parametrize("raw,expected", [
    ("CA Coeur d'Ostrevent", "CA Cœur d’Ostrevent"),
    ("NOEUX-LES-MINES", "NŒUX-LES-MINES"),
    ("Vicoigne-Noeux-Drocourt", "Vicoigne-Nœux-Drocourt"),
    ("Cité des Électriciens (n°2)", f"Cité des Électriciens (n°{NBSP}2)"),
    ("la fosse n° 14", f"la fosse n°{NBSP}14"),
    ("Mission Bassin Minier Nord-Pas de Calais", "Mission Bassin Minier Nord-Pas-de-Calais"),
    ("bassin du Nord Pas de Calais", "bassin du Nord-Pas-de-Calais"),
    ("coefficient de Noé", "coefficient de Noé"),              # words, not the letters «oe»
    ("l'œuvre d'une vie", "l’œuvre d’une vie"),
])
def test_french_text(raw, expected):
    assert french_text(raw) == expected
    assert french_text(expected) == expected                   # idempotent
    assert typo(raw).startswith(expected[:5])


def _free_text_fields(cat):
    from mbm_sig.catalogue.layerdef import load_layers
    for ld in load_layers().values():
        if not ld.build or not cat.has_data(ld.name):
            continue
        cols = [f.name for f in ld.fields if f.type == "str" and f.domain is None and f.name != ld.key]
        if cols:
            yield ld.name, cat.read(ld.name, columns=cols), cols


def test_built_catalogue_strings_are_french(built_gpkg):
    bad = []
    for name, df, cols in _free_text_fields(built_gpkg):
        for c in cols:
            for v in df[c].dropna().astype(str):
                if re.search(r"\w'\w|\bN[Oo]eux\b|\bCoeur\b|Nord-Pas de Calais|n°\d", v):
                    bad.append(f"{name}.{c}: {v!r}")
    assert not bad, bad[:10]
    com = built_gpkg.read("communes", where={"insee": "62617"})
    assert com["nom"].iloc[0] == "Nœux-les-Mines"
    epci = built_gpkg.read("epci")
    assert "CA Cœur d’Ostrevent" in set(epci["nom"])


def test_fact_files_use_one_spelling():
    for p in sorted((ROOT / "data").glob("*.csv")):
        with open(p, encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for i, r in enumerate(rows, start=2):
            for k, v in r.items():
                if k in ("nom_source", "variantes", "cite", "site_nom"):       # the report's own spellings
                    continue
                assert "Nord-Pas de Calais" not in v, f"{p.name}:{i} {k}"
                assert not re.search(r"n°\d", v), f"{p.name}:{i} {k}: {v}"


def test_labels_and_table_cells_are_set_in_french():
    from mbm_sig.atlas.pages import _cell
    from mbm_sig.maps import labels as lb
    res = lb.place_all([lb.LabelLayer(["Coeur d'Ostrevent"], [(50, 50)], size=7)], (0, 0, 100, 100))
    assert res.labels[0].text == "Cœur d’Ostrevent"
    assert _cell("Cité n°9 de Béthune") == f"Cité n°{NBSP}9 de Béthune"
