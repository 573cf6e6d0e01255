"""Colour distinctness: CIEDE2000 against Sharma et al. (2005), deuteranopia, and every
categorical legend of the layer definitions and map recipes."""

from pathlib import Path

import pytest
import yaml

from mbm_sig.maps import colorcheck as cc

ROOT = Path(__file__).resolve().parents[1]

# Sharma, Wu, Dalal (2005), Table 1: L1 a1 b1  L2 a2 b2  ΔE00
SHARMA = """
50.0000 2.6772 -79.7751 50.0000 0.0000 -82.7485 2.0425
50.0000 3.1571 -77.2803 50.0000 0.0000 -82.7485 2.8615
50.0000 2.8361 -74.0200 50.0000 0.0000 -82.7485 3.4412
50.0000 -1.3802 -84.2814 50.0000 0.0000 -82.7485 1.0000
50.0000 -1.1848 -84.8006 50.0000 0.0000 -82.7485 1.0000
50.0000 -0.9009 -85.5211 50.0000 0.0000 -82.7485 1.0000
50.0000 0.0000 0.0000 50.0000 -1.0000 2.0000 2.3669
50.0000 -1.0000 2.0000 50.0000 0.0000 0.0000 2.3669
50.0000 2.4900 -0.0010 50.0000 -2.4900 0.0009 7.1792
50.0000 2.4900 -0.0010 50.0000 -2.4900 0.0010 7.1792
50.0000 2.4900 -0.0010 50.0000 -2.4900 0.0011 7.2195
50.0000 2.4900 -0.0010 50.0000 -2.4900 0.0012 7.2195
50.0000 -0.0010 2.4900 50.0000 0.0009 -2.4900 4.8045
50.0000 -0.0010 2.4900 50.0000 0.0010 -2.4900 4.8045
50.0000 -0.0010 2.4900 50.0000 0.0011 -2.4900 4.7461
50.0000 2.5000 0.0000 50.0000 0.0000 -2.5000 4.3065
50.0000 2.5000 0.0000 73.0000 25.0000 -18.0000 27.1492
50.0000 2.5000 0.0000 61.0000 -5.0000 29.0000 22.8977
50.0000 2.5000 0.0000 56.0000 -27.0000 -3.0000 31.9030
50.0000 2.5000 0.0000 58.0000 24.0000 15.0000 19.4535
50.0000 2.5000 0.0000 50.0000 3.1736 0.5854 1.0000
50.0000 2.5000 0.0000 50.0000 3.2972 0.0000 1.0000
50.0000 2.5000 0.0000 50.0000 1.8634 0.5757 1.0000
50.0000 2.5000 0.0000 50.0000 3.2592 0.3350 1.0000
60.2574 -34.0099 36.2677 60.4626 -34.1751 39.4387 1.2644
63.0109 -31.0961 -5.8663 62.8187 -29.7946 -4.0864 1.2630
61.2901 3.7196 -5.3901 61.4292 2.2480 -4.9620 1.8731
35.0831 -44.1164 3.7933 35.0232 -40.0716 1.5901 1.8645
22.7233 20.0904 -46.6940 23.0331 14.9730 -42.5619 2.0373
36.4612 47.8580 18.3852 36.2715 50.5065 21.2231 1.4146
90.8027 -2.0831 1.4410 91.1528 -1.6435 0.0447 1.4441
90.9257 -0.5406 -0.9208 88.6381 -0.8985 -0.7239 1.5381
6.7747 -0.2908 -2.4247 5.8714 -0.0985 -2.2286 0.6377
2.0776 0.0795 -1.1350 0.9033 -0.0636 -0.5514 0.9082
"""
PAIRS = [tuple(map(float, line.split())) for line in SHARMA.strip().splitlines()]


@pytest.mark.parametrize("row", PAIRS, ids=[f"pair{i + 1}" for i in range(len(PAIRS))])
def test_ciede2000_matches_sharma_2005(row):
    lab1, lab2, expected = row[:3], row[3:6], row[6]
    assert cc.ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
    assert cc.ciede2000(lab2, lab1) == pytest.approx(expected, abs=1e-4)     # symmetric


def test_lab_of_srgb_reference_colours():
    assert cc.lab("#ffffff") == pytest.approx((100.0, 0.0, 0.0), abs=1e-3)
    assert cc.lab("#000000") == pytest.approx((0.0, 0.0, 0.0), abs=1e-6)
    # sRGB red, D65: L* 53.24, a* 80.09, b* 67.20 (Lindbloom)
    assert cc.lab("#ff0000") == pytest.approx((53.24, 80.09, 67.20), abs=0.02)
    with pytest.raises(cc.ColourError, match="#12"):
        cc.lab("#12")


def test_deuteranopia_merges_red_and_green():
    # ColorBrewer's RdYlGn ends: far apart in normal vision, close for a deuteranope
    assert cc.delta_e("#d73027", "#1a9850") > 40
    assert cc.delta_e("#d73027", "#1a9850", deutan=True) < 15
    # greys are unchanged by the simulation
    assert cc.deuteranopia_lab("#808080") == pytest.approx(cc.lab("#808080"), abs=0.2)


def test_clashes_reports_close_pairs_unless_shapes_differ():
    entries = [("Arasé construit", "#c7b299"), ("Arasé route", "#c7b299"), ("Conique", "#3f2d20")]
    found = cc.clashes(entries)
    assert [(c.a, c.b) for c in found] == [("Arasé construit", "Arasé route")]
    assert "CIEDE2000 0.0" in str(found[0])
    assert cc.clashes([("a", "#c7b299", "o"), ("b", "#c7b299", "s")]) == []
    # a deuteranopia-only clash is a clash
    assert cc.clashes([("rouge", "#d73027"), ("vert", "#1a9850")])


def test_is_ordered():
    assert cc.is_ordered(["#fee5d9", "#fcae91", "#fb6a4a", "#cb181d"])
    assert not cc.is_ordered(["#fee5d9", "#cb181d", "#fcae91"])


PT_MM = 25.4 / 72


def _mark(geometry, size_pt):
    """(geometry, size mm) of a legend's symbols as the sheets print them: points at their
    marker size (4 pt by default), lines and areas."""
    g = str(geometry or "")
    if "Point" in g:
        return "point", float(size_pt or 4.0) * PT_MM
    if "Line" in g:
        return "line", None
    return "area", None


def _legends():
    """Every categorical legend the project defines: (where, entries, ordered colours or
    None, geometry, symbol size in mm).

    Recipe legends include their «other / no data» entry when they set its colour; a
    recipe's point symbols (``symbols`` layers, or a layer of points) at its ``size``."""
    out = []
    geometry = {}
    for p in sorted((ROOT / "layers").glob("*.yaml")):
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
        geometry[(d or {}).get("name") or p.stem] = (d or {}).get("geometry")
        st = (d or {}).get("style") or {}
        cats = st.get("categories")
        if cats and cats.get("colors"):
            mk = cats.get("markers") or {}
            ordered = None
            if cats.get("ordinal"):
                dom = (d["fields"][cats["field"]].get("domain") or list(cats["colors"]))
                ordered = [cats["colors"][v] for v in dom if v in cats["colors"] and v != "non renseigné"]
            out.append((f"layers/{p.name}", [(k, v, mk.get(k)) for k, v in cats["colors"].items()], ordered,
                        *_mark(d.get("geometry"), st.get("size"))))
    for p in sorted((ROOT / "atlases" / "maps").glob("*.yaml")):
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
        for i, spec in enumerate(d.get("layers") or []):
            if spec.get("colors") and len(spec["colors"]) > 1:
                mk = spec.get("markers") or {}
                entries = [(k, v, mk.get(k)) for k, v in spec["colors"].items()]
                if spec.get("nodata"):
                    entries.append(("Autre ou non renseigné", spec["nodata"], None))
                geom = "Point" if spec.get("type") == "symbols" else geometry.get(spec.get("layer"))
                out.append((f"atlases/maps/{p.name}: layers[{i}] ({spec.get('type')})", entries, None,
                            *_mark(geom, spec.get("size"))))
    return out


LEGENDS = _legends()


def test_every_legend_source_is_seen():
    where = {w: g for w, _, _, g, _ in LEGENDS}
    assert "layers/terrils.yaml" in where and any("patri_cites_compagnie" in w for w in where)
    assert any(g == "point" for w, g in where.items() if "patri_bati_typologie" in w)


@pytest.mark.parametrize("where,entries,ordered,geometry,size_mm", LEGENDS, ids=[w for w, *_ in LEGENDS])
def test_every_categorical_legend_is_readable(where, entries, ordered, geometry, size_mm):
    """Each legend the definitions make, at the size the sheets print it (small point
    symbols: the stricter rule, one near-black at most)."""
    bad = cc.legend_problems(entries, geometry, size_mm)
    assert not bad, f"{where}: " + "; ".join(bad)
    if ordered:
        assert cc.is_ordered(ordered), f"{where}: ordinal categories with unordered colours"


def test_the_legend_check_fails_on_the_old_terril_colours():
    # the layer definition before issue 11: two forms shared #c7b299, 13 entries
    old = {"Conique": "#3f2d20", "Plat": "#8c6d46", "Tronqué": "#a6761d", "Arasé construit": "#c7b299",
           "Arasé route": "#c7b299"}
    assert [(c.a, c.b) for c in cc.clashes(list(old.items()))] == [("Arasé construit", "Arasé route")]


# ------------------------------------------------------------------ print size (issue 11)

OLD_TERRILS = [("Conique", "#3f2d20", "^"), ("Tronqué", "#8c510a", "p"), ("Plat", "#dfc27d", "s"),
               ("Terrasses", "#88ccee", "h"), ("Grand terril moderne", "#737373", "D"), ("Cavalier", "#e6550d", "d"),
               ("Bassin de décantation", "#4393c3", "o"), ("Typologie particulière", "#0c2c84", "X"),
               ("Arasé", "#bdbdbd", "v")]


def test_small_symbols_need_more_contrast_and_shapes_of_one_family_do_not_count():
    """«Terrasses» and «Bassin de décantation» (terrils, before the review): CIEDE2000 17, a
    hexagon and a circle. As areas (or large symbols of different shapes) they pass; as
    symbols of 1.5 mm, where a hexagon reads as a circle, they clash."""
    pair = [OLD_TERRILS[3], OLD_TERRILS[6]]
    assert cc.clashes(pair) == []                                        # shapes differ
    assert cc.clashes([(a, c) for a, c, _ in pair]) == []                # as areas: 16.9 ≥ 10
    assert cc.legend_problems(pair, "point", 4.0) == []                  # 4 mm symbols
    found = cc.legend_problems(pair, "point", 4.2 * PT_MM)
    assert len(found) == 1 and "«Terrasses» #88ccee and «Bassin de décantation» #4393c3" in found[0]
    assert "symbols of 1.5 mm: at least 20" in found[0]
    # a triangle and a square stay two shapes at that size
    assert cc.legend_problems([("a", "#88ccee", "^"), ("b", "#4393c3", "s")], "point", 1.5) == []
    assert cc.shape_family("h") == cc.shape_family("o") == cc.shape_family("p")
    assert cc.shape_family("s") != cc.shape_family("D")
    # thin lines too
    assert cc.legend_problems(pair, "line", 0.2) and not cc.legend_problems(pair, "line", 1.0)
    assert cc.is_small("hatched", None) and not cc.is_small("area", None)


def test_at_most_one_near_black_per_legend():
    companies = [("Groupe d'Hénin-Liétard", "#003c30"), ("Groupe de Valenciennes", "#08306b"),
                 ("Groupe de Douai", "#e7298a")]
    assert cc.clashes(companies) == []                  # distinct on screen…
    found = cc.legend_problems(companies)               # …both black on paper
    assert len(found) == 1 and "2 entries read as black" in found[0] and "#003c30" in found[0]
    assert cc.legend_problems([("Groupe d'Hénin-Liétard", "#01665e"), *companies[1:]]) == []
    # whatever the shapes: three dark families of buildings on the typology sheet
    dark = [("Fosse", "#000000", "s"), ("Édifice religieux", "#662506", "D"), ("Demeure patronale", "#053061", "h")]
    assert "3 entries read as black" in cc.legend_problems(dark, "point", 1.4)[0]
    assert [n for n, _, _ in cc.near_blacks(dark)] == ["Fosse", "Édifice religieux", "Demeure patronale"]


def test_weak_steps_of_a_sequential_ramp():
    orrd6 = ["#fef0d9", "#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"]     # ColorBrewer OrRd 6
    steps = cc.weak_steps(orrd6)
    assert [(s.index, s.colour_a, s.colour_b) for s in steps] == [(1, "#fdd49e", "#fdbb84")]
    assert "6.4 apart in L*" in str(steps[0])
    assert cc.weak_steps(orrd6[::-1])[0].index == 3                    # the same pair, reversed order
    assert cc.weak_steps(["#fee5d9", "#fcae91", "#fb6a4a", "#cb181d"]) == []
    # a diverging ramp: the two classes either side of its centre are not a step
    assert cc.weak_steps(["#ca0020", "#f4a582", "#f7f7f7", "#92c5de", "#0571b0"]) == []
    assert cc.weak_steps(["#ca0020", "#c41a20", "#f4a582", "#f7f7f7", "#92c5de", "#0571b0"])


def test_sequential_palettes_have_even_lightness_steps():
    from mbm_sig.maps import palettes
    for name in palettes.SEQUENTIAL:
        for k in range(3, 10):
            cols = palettes.colors(name, k)
            assert len(cols) == k and not cc.weak_steps(cols), (name, k, cols)
            exact = ["#" + c for c in palettes._CB[name][k].split()]
            if not cc.weak_steps(exact):
                assert cols == exact, (name, k)                         # ColorBrewer's own, when they print
            else:           # the ends of ColorBrewer's scheme, in between even steps along its path
                assert cc.lab(cols[0])[0] == pytest.approx(cc.lab(exact[0])[0], abs=0.5)
                assert cc.lab(cols[-1])[0] == pytest.approx(cc.lab(exact[-1])[0], abs=0.5)
    assert palettes.colors("Purples", 6)[-1] == "#54278f"
    assert palettes.colors("OrRd_r", 6) == palettes.colors("OrRd", 6)[::-1]


def test_lab_round_trip_and_hatched_swatches():
    for c in ("#54278f", "#fdd49e", "#000000", "#ffffff", "#08306b", "#1b9e77"):
        assert cc.lab_to_hex(cc.lab(c)) == c
    # a swatch hatched //// in 0.4 pt lines of #5a5a5a: 19 % of it is ink
    assert cc._hatch_coverage("////", 0.4) == pytest.approx(0.189, abs=0.001)
    assert cc.hatched("#ffffff", "////", "#5a5a5a", 0.4) != "#ffffff"
    assert cc.hatched("#ffffff", None, "#5a5a5a", 0.4) == "#ffffff"
    # the concession blues before the review, as they read hatched: too close for hatched areas
    old = [("sortie complète avant 2000", "#5c67af"), ("renonciation directe instruite en 2005", "#619fca"),
           ("renonciation après arrêt instruite en 2005", "#70c8d3")]
    assert cc.legend_problems(old) == []                                 # plain areas: ≥ 10
    read = [(n, cc.hatched(c, "////", "#5a5a5a", 0.4), "////") for n, c in old]
    found = cc.legend_problems(read, "hatched")
    assert found and all("hatched areas: at least 20" in d for d in found)
