"""Issue 11 on real sheets: town names, focus, symbols, legends, and ``mbm-sig check``
clean on the three atlases."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from mbm_sig.check import map_sheet_info
from mbm_sig.maps.recipe import load_recipe, render_recipe

RECIPES = Path(__file__).resolve().parents[1] / "atlases" / "maps"


def _pdftext(pdf) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_lens_lievin_map_names_its_towns(built_gpkg, tmp_path):
    """The «CA de Lens - Liévin» map of the issue: Lens, Liévin, Avion, Harnes named, town
    names before cité labels, nothing below 6 pt, only the EPCI's towns."""
    info = render_recipe(load_recipe(RECIPES / "cites_lens_lievin.yaml"), built_gpkg, tmp_path / "ll.pdf")
    towns = {lab["text"] for lab in info.labels if lab["layer"] == "toponymes"}
    assert {"Lens", "Liévin", "Avion", "Harnes"} <= towns
    assert "Douai" not in towns and "Béthune" not in towns                   # outside the focus
    assert all(lab["size"] >= 6 for lab in info.labels)
    assert not [u for u in info.unplaced_labels if u["required"]]
    text = _pdftext(tmp_path / "ll.pdf")
    assert text.count("Liévin") >= 1 and "\nLens\n" in text                   # once: the halo is an artifact


def test_basin_maps_name_seats_and_big_towns(built_gpkg, tmp_path):
    info, _, _ = map_sheet_info(RECIPES / "sante_population_65.yaml", {}, built_gpkg)
    towns = {lab["text"] for lab in info.labels if lab["layer"] == "toponymes"}
    assert {"Lens", "Douai", "Valenciennes", "Béthune", "Liévin", "Hénin-Beaumont"} <= towns
    assert not [u for u in info.unplaced_labels if u["required"]]


def test_toponyms_can_be_turned_off(built_gpkg, tmp_path):
    doc = yaml.safe_load((RECIPES / "sante_population_65.yaml").read_text(encoding="utf-8"))
    doc["toponyms"] = False
    p = tmp_path / "off.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    info = render_recipe(load_recipe(p), built_gpkg, tmp_path / "off.pdf")
    assert not [lab for lab in info.labels if lab["layer"] == "toponymes"]


def test_coverage_sheet_shows_only_its_feature(built_gpkg, tmp_path):
    """The Béthune renewal page: neighbours veiled, not labelled, not in the legends."""
    params = {"code": "622", "nom": "Béthune"}
    info, legends, _ = map_sheet_info(RECIPES / "renouv_arrondissement.yaml", params, built_gpkg)
    assert info.focus is not None
    lens_projects = built_gpkg.read("renouvellement_urbain", where={"origine": "rapport d'activité 2005"})
    lens_names = set(lens_projects.loc[lens_projects["insee"].astype(str).str.startswith("62498"), "nom"])
    placed = {lab["text"] for lab in info.labels}
    assert not (placed & lens_names)
    assert "Lens" not in placed and "Béthune" in placed
    # the same recipe without focus lists more programmes in its legends
    doc = yaml.safe_load((RECIPES / "renouv_arrondissement.yaml").read_text(encoding="utf-8"))
    doc.pop("focus")
    p = tmp_path / "nofocus.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    info2, legends2, _ = map_sheet_info(p, params, built_gpkg)
    n = sum(len(lg["entries"]) for lg in legends if lg["entries"])
    n2 = sum(len(lg["entries"]) for lg in legends2 if lg["entries"])
    assert n < n2


def test_point_categories_beyond_four_differ_by_shape(built_gpkg):
    info, legends, _ = map_sheet_info(RECIPES / "patri_terrils.yaml", {}, built_gpkg)
    (lg,) = [lg for lg in legends if lg["kind"] == "symbols"]
    shapes = {e[2] for e in lg["entries"]}
    assert len(lg["entries"]) > 4 and len(shapes) >= len(lg["entries"]) - 1


def test_count_legends_are_integers_and_labels_do_not_touch(built_gpkg):
    info, _, _ = map_sheet_info(RECIPES / "sante_generalistes.yaml", {}, built_gpkg)
    (prop,) = [lg for lg in info.legends if lg["kind"] == "prop"]
    assert all("," not in v for v in prop["entries"]), prop["entries"]
    tops = [2 * s["height_mm"] / 2 for s in prop.get("symbols", [])] or None
    if tops:
        assert all(a - b >= 2.5 for a, b in zip(tops, tops[1:])), tops


def test_circles_share_one_scale_across_the_series(built_gpkg, tmp_path):
    """94 GP establishments and 119 specialist establishments: the same value, the same
    circle, on both sheets of the health atlas."""
    from mbm_sig.atlas import series
    from mbm_sig.atlas.engine import load_atlas
    values = series.resolve(load_atlas("sante").series, built_gpkg)
    radii = {}
    for r in ("sante_generalistes.yaml", "sante_specialistes.yaml"):
        info, _, _ = map_sheet_info(RECIPES / r, {}, built_gpkg, values)
        (prop,) = [lg for lg in info.legends if lg["kind"] == "prop"]
        radii[r] = {e: s["width_mm"] for e, s in zip(prop["entries"], prop["symbols"])}
    gp, sp = radii["sante_generalistes.yaml"], radii["sante_specialistes.yaml"]
    assert max(gp.values()) < max(sp.values())          # 94 drawn smaller than 119
    common = set(gp) & set(sp)
    for v in common:
        assert gp[v] == pytest.approx(sp[v], rel=1e-6)

# the three atlases are checked by tests/test_check.py::test_check_on_the_atlas
