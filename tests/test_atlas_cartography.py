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


@pytest.mark.parametrize("recipe, layer", [("sante_arrondissement.yaml", "arrondissements"),
                                           ("renouv_arrondissement.yaml", "arrondissements")])
def test_a_coverage_series_has_one_orientation_and_one_legend_position(built_gpkg, recipe, layer):
    """The four arrondissement sheets of a series share orientation and layout (decided
    over all of them, whichever is drawn first), and the 65+ share one palette and breaks
    with the basin sheets of the atlas."""
    from mbm_sig.atlas import series
    from mbm_sig.atlas.engine import load_atlas
    from mbm_sig.maps.recipe import build as rbuild
    values = series.resolve(load_atlas("sante").series, built_gpkg)
    feats = built_gpkg.read(layer, where={"bassin_minier": True})
    seen = set()
    for order in (1, -1):                        # the same whichever sheet comes first
        rbuild.forget_series_layouts()
        for _, row in feats.iloc[::order].iterrows():
            params = {"code": row["code"], "nom": row["nom"]}
            info, legends, _ = map_sheet_info(RECIPES / recipe, params, built_gpkg, values)
            seen.add((info.orientation, info.layout))
            if recipe.startswith("sante"):
                (ch,) = [lg for lg in info.legends if lg["kind"] == "choro"]
                assert ch["breaks"][:-1] == pytest.approx(values["part_65p"]["breaks"][:-1])
    assert len(seen) == 1, seen
    # the basin sheets of the 65+ use the series' palette
    for r in ("sante_generalistes.yaml", "sante_65_ssm.yaml", "sante_arrondissement.yaml"):
        m_info, _, _ = map_sheet_info(RECIPES / r, {"code": "627", "nom": "Lens"}, built_gpkg, values)
        (ch,) = [lg for lg in m_info.legends if lg["kind"] == "choro"]
        from mbm_sig.maps.palettes import colors
        assert ch["colors"] == colors("OrRd", 6), r


def test_renewal_map_one_variable_per_legend_state_in_an_ordered_palette(built_gpkg):
    """The renewal basin map: colour = state of the project (grouped in ordered stages, an
    ordered palette), shape = programme in its own block; every report project drawn."""
    from mbm_sig.maps import colorcheck
    info, legends, r = map_sheet_info(RECIPES / "renouv_bassin.yaml", {}, built_gpkg)
    by_title = {lg["title"]: lg for lg in info.legends}
    state = by_title["État du projet en 2005 (rapport)"]
    shapes = by_title["Programme"]
    assert len(state["entries"]) == 3 and not state["nodata"]
    colours = [e[1] for lg in legends if lg["title"] == state["title"] for e in lg["entries"]]
    assert len(colours) == 3 and colorcheck.is_ordered(colours)
    assert not colorcheck.clashes(list(zip(state["entries"], colours, strict=True)))
    # one variable per block: the state block draws colour swatches (no marker), the
    # programme block hollow shapes (no colour)
    assert not state.get("symbols")
    assert [s["marker"] for s in shapes["symbols"]] == ["o", "s", "D"]
    assert not [lg for lg in legends if lg["title"] == shapes["title"] and lg["entries"]]
    report = built_gpkg.read("renouvellement_urbain", where={"origine": "rapport d'activité 2005"})
    sym_layers = [i for i, s in info.symbols.items()]
    assert sum(info.features[i] for i in sym_layers) >= len(report)


def test_hatched_extents_are_hatched_in_the_legend_and_the_chart_shares_the_map_colours(built_gpkg):
    """Approximate concession extents: hatched on the map and in every swatch of the state
    legend; the procedures chart of the same atlas uses the map's colour of each state."""
    import matplotlib.figure

    from mbm_sig.atlas.charts import CHARTS
    from mbm_sig.atlas.engine import load_atlas
    from mbm_sig.maps.recipe import build_map
    m, _ = build_map(load_recipe(RECIPES / "renouv_concessions.yaml"), built_gpkg)
    typo = [L for L in m._layers if L.type == "typo"]      # «non renseigné» (quiet), then the states
    assert len(typo) == 2
    for L in typo:
        assert L.hatched is not None and L.hatched.all()
        (block,) = L.legend
        assert block.entries and all(st.get("hatch") == "////" for _, st in block.entries)
    style = built_gpkg.layer_def("concessions").style["categories"]["colors"]
    fig = CHARTS["sequelles_bilan"](built_gpkg, load_atlas("renouvellement"), "t",
                                    {"name": "sequelles_bilan", "csv": "sequelles_bilan.csv"})
    from matplotlib.colors import to_hex
    fills = {to_hex(p.get_facecolor()) for p in fig.findobj(matplotlib.patches.Rectangle)}
    for state in ("sortie complète avant 2000", "renonciation directe instruite en 2005",
                  "renonciation après arrêt instruite en 2005", "arrêt instruit, renonciation à instruire"):
        assert style[state].lower() in fills, state
    assert not ({"#1a9850", "#66bd63", "#fdae61"} & fills)         # the chart's own colours are gone
    assert isinstance(fig, matplotlib.figure.Figure)


def test_scale_bars_measure_the_frame_and_stay_above_the_focus_veil(built_gpkg):
    """Every EPCI sheet of the heritage atlas (Porte du Hainaut among them): the scale bar's
    length on paper is its label at the frame's scale, the bar lies inside the frame, and
    it is drawn above the veil that greys the neighbours (not greyed itself)."""
    from matplotlib.patches import PathPatch, Polygon, Rectangle

    from mbm_sig.maps.recipe import build_map
    epci = built_gpkg.read("epci", where={"bassin_minier": True})
    for _, row in epci.iterrows():
        params = {"siren": row["siren"], "nom": row["nom"], "nb_cites": "1", "nb_terrils": "1", "nb_puits": "1",
                  "nb_bati": "1"}
        m, _ = build_map(load_recipe(RECIPES / "patri_epci.yaml", params), built_gpkg)
        info = m.draw()
        x0, _, x1, _ = info.extent
        fx, fy, fw, fh = info.frame_mm
        sb = info.texts["scalebar"]
        assert sb["bar_mm"] * (x1 - x0) / fw == pytest.approx(sb["length_m"], rel=1e-6), row["nom"]
        km = sb["length_m"] / 1000
        assert sb["label"].replace("\u00a0", " ") == (f"{km:g} km" if km >= 1 else f"{sb['length_m']:g} m")
        bx, by, bw, bh = info.boxes["scalebar"]
        assert fx <= bx and bx + bw <= fx + fw and fy <= by and by + bh <= fy + fh
        veil = [a for a in info.figure.artists if isinstance(a, PathPatch) and a.get_zorder() == 2.5]
        assert veil, row["nom"]
        furniture = [a for a in info.figure.artists if isinstance(a, (Rectangle, Polygon))
                     and a.get_zorder() > 2.5 and a.get_zorder() < 5]
        assert len(furniture) >= 5        # the bar's box and segments, the arrow's halves
