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


def _legends():
    """Every categorical legend the project defines: (where, entries, ordered colours or None).

    Recipe legends include their «other / no data» entry when they set its colour."""
    out = []
    for p in sorted((ROOT / "layers").glob("*.yaml")):
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
        cats = ((d or {}).get("style") or {}).get("categories")
        if cats and cats.get("colors"):
            mk = cats.get("markers") or {}
            ordered = None
            if cats.get("ordinal"):
                dom = (d["fields"][cats["field"]].get("domain") or list(cats["colors"]))
                ordered = [cats["colors"][v] for v in dom if v in cats["colors"] and v != "non renseigné"]
            out.append((f"layers/{p.name}", [(k, v, mk.get(k)) for k, v in cats["colors"].items()], ordered))
    for p in sorted((ROOT / "atlases" / "maps").glob("*.yaml")):
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
        for i, spec in enumerate(d.get("layers") or []):
            if spec.get("colors") and len(spec["colors"]) > 1:
                mk = spec.get("markers") or {}
                entries = [(k, v, mk.get(k)) for k, v in spec["colors"].items()]
                if spec.get("nodata"):
                    entries.append(("Autre ou non renseigné", spec["nodata"], None))
                out.append((f"atlases/maps/{p.name}: layers[{i}] ({spec.get('type')})", entries, None))
    return out


LEGENDS = _legends()


def test_every_legend_source_is_seen():
    where = [w for w, _, _ in LEGENDS]
    assert "layers/terrils.yaml" in where and any("patri_cites_compagnie" in w for w in where)


@pytest.mark.parametrize("where,entries,ordered", LEGENDS, ids=[w for w, _, _ in LEGENDS])
def test_every_categorical_legend_is_readable(where, entries, ordered):
    assert len(entries) <= cc.MAX_CATEGORIES, f"{where}: {len(entries)} categories on one legend"
    bad = cc.clashes(entries)
    assert not bad, f"{where}: " + "; ".join(map(str, bad))
    if ordered:
        assert cc.is_ordered(ordered), f"{where}: ordinal categories with unordered colours"


def test_the_legend_check_fails_on_the_old_terril_colours():
    # the layer definition before issue 11: two forms shared #c7b299, 13 entries
    old = {"Conique": "#3f2d20", "Plat": "#8c6d46", "Tronqué": "#a6761d", "Arasé construit": "#c7b299",
           "Arasé route": "#c7b299"}
    assert [(c.a, c.b) for c in cc.clashes(list(old.items()))] == [("Arasé construit", "Arasé route")]
