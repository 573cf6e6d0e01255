"""``mbm-sig check``: every check fails on a page made wrong on purpose and passes on the
same page made right; the checker runs on the three real atlases.

The three atlases are checked by :func:`test_check_on_the_atlas`: any finding fails it (CI
included). ``MBM_SIG_CHECK_STRICT=0`` (the one switch) turns a failure into a warning that
lists the findings, for work in progress on a sheet.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mbm_sig.check import (
    ALL_CHECKS,
    CHECKS,
    SERIES_CHECKS,
    Sheet,
    check_atlas,
    check_sheets,
    cli_check,
    format_report,
    map_sheet_info,
)
from mbm_sig.check.pdf import read_pdf, text_only
from mbm_sig.check.text import OfficialNames, collation_key, misordered
from mbm_sig.maps.labels import LabelArtist
from mbm_sig.maps.output import save_figure

STRICT = os.environ.get("MBM_SIG_CHECK_STRICT", "1") != "0"
A4 = (297 / 25.4, 210 / 25.4)
RECIPES = Path("atlases/maps")


def _page(tmp_path, texts, name="p.pdf", labels=()):
    """A one-page A4 landscape PDF written as the sheets are: texts (x mm, y mm from the
    top, text, size pt[, ha]) and map labels (x, y centre mm, text, size, weight, colour,
    halo) drawn by the label artist, with their halos."""
    fig = Figure(figsize=A4)
    for x, y, t, size, *ha in texts:
        fig.text(x / 297, 1 - y / 210, t, size=size, ha=(ha[0] if ha else "left"), va="baseline")
    if labels:
        fig.add_artist(LabelArtist(297, 210, list(labels)))
    path = tmp_path / name
    save_figure(fig, path)
    return read_pdf(path)[0]


def _sheet(page, kind="map", **kw):
    return Sheet(1, "feuille d'essai", kind, page, **kw)


def _label(x, y, text, size=8.0, halo=True):
    return (x, y, text, size, "normal", "#1a1a1a", halo)


def test_pdf_reader_gives_each_text_with_its_size_ink_and_halo(tmp_path):
    p = _page(tmp_path, [(20, 30, "Lens", 8.0), (20, 60, "Douai", 6.5)], labels=[_label(100, 100, "Liévin")])
    assert [(r.text, r.size) for r in p.runs] == [("Lens", 8.0), ("Douai", 6.5), ("Liévin", 8.0)]
    lens, _, lievin = p.runs
    # ink from the glyph outlines: «Lens» has no descender, its base is the baseline
    assert lens.bbox[0] == pytest.approx(20, abs=0.8) and lens.bbox[3] == pytest.approx(30, abs=0.05)
    assert lens.bbox[1] == pytest.approx(30 - 0.729 * 8 * 25.4 / 72, abs=0.1)      # cap height of DejaVu
    assert lens.halo == 0
    # the label's halo is read as its halo (0.8 pt each side), not as a second text
    assert lievin.halo == pytest.approx(0.8 * 25.4 / 72, abs=0.01)
    assert lievin.cx == pytest.approx(100, abs=0.3) and lievin.cy == pytest.approx(100, abs=0.6)
    assert text_only(b"q 1 0 0 1 5 5 cm 0 0 m 10 10 l S 1.6 w BT /F1 8 Tf (a) Tj ET Q") == \
        b"q\n1 0 0 1 5 5 cm\n1.6 w\nBT /F1 8 Tf (a) Tj ET\nQ"
    assert text_only(b"q 0 0 m 5 5 l S Q q /MbmOverlay Do Q") == b"q\nQ\nq\n/MbmOverlay Do\nQ"


def test_small_text(tmp_path):
    bad = _sheet(_page(tmp_path, [(20, 30, "T042", 5.0)]))
    good = _sheet(_page(tmp_path, [(20, 30, "T042", 6.0)], "g.pdf"))
    assert CHECKS["small-text"](bad) and "5 pt" in CHECKS["small-text"](bad)[0]
    assert CHECKS["small-text"](good) == []


def test_overlap(tmp_path):
    bad = _sheet(_page(tmp_path, [(20, 30, "Liévin", 8.0), (24, 30.5, "Cité 9", 7.0)]))
    good = _sheet(_page(tmp_path, [(20, 30, "Liévin", 8.0), (20, 36, "Cité 9", 7.0)], "g.pdf"))
    assert "overlaps" in CHECKS["overlap"](bad)[0]
    assert CHECKS["overlap"](good) == []


def test_overlap_counts_the_halo_and_measures_glyphs(tmp_path):
    # inks 0.3 mm apart: the white halo of one (0.28 mm) bites into the other
    lens = _page(tmp_path, [], labels=[_label(100, 50, "Lens")])
    h = lens.runs[0].bbox[3] - lens.runs[0].bbox[1]
    close = _page(tmp_path, [], "c.pdf", labels=[_label(100, 50, "Lens"), _label(100, 50 + h + 0.2, "Lens")])
    assert CHECKS["overlap"](_sheet(close))
    apart = _page(tmp_path, [], "a.pdf", labels=[_label(100, 50, "Lens"), _label(100, 50 + h + 0.8, "Lens")])
    assert CHECKS["overlap"](_sheet(apart)) == []
    # no halo: the same 0.2 mm gap is two texts close, not overlapping
    plain = _page(tmp_path, [], "n.pdf", labels=[_label(100, 50, "Lens", halo=False),
                                                 _label(100, 50 + h + 0.2, "Lens", halo=False)])
    assert CHECKS["overlap"](_sheet(plain)) == []
    # glyph boxes, not line boxes: «Ta» under «Ty»'s right part without touching a glyph
    # of it would overlap as boxes; here the line boxes overlap but no ink does
    inter = _page(tmp_path, [(20, 30, "oooo", 8.0), (20, 31.3, "____", 8.0)], "i.pdf")
    boxes = [r.bbox for r in inter.runs]
    assert boxes[0][3] < boxes[1][1] + 1.0                  # close lines
    assert CHECKS["overlap"](_sheet(inter)) == []


def test_frame(tmp_path):
    page = _page(tmp_path, [(48, 60, "Valenciennes", 8.0), (100, 60, "Anzin", 8.0)])
    frame = (50.0, 20.0, 150.0, 100.0)
    assert [d.split("»")[0] for d in CHECKS["frame"](_sheet(page, frame_mm=frame))] == ["«Valenciennes"]


def test_frame_line_touched_by_a_label(tmp_path):
    """«Lille» set against the top of the frame: its capitals reach the frame line."""
    frame = (50.0, 20.0, 150.0, 100.0)
    p = _page(tmp_path, [], labels=[_label(120, 21.6, "Lille", 9.0)])
    assert p.runs[0].bbox[1] > 20                            # inside the frame, not across it
    found = CHECKS["frame"](_sheet(p, frame_mm=frame))
    assert found and "top edge" in found[0] and "«Lille»" in found[0]
    # 0.4 mm under the line: the halo clears it, the name still reads as glued to the frame
    h = 21.6 - p.runs[0].bbox[1]                            # from the label's centre to its ink's top
    p = _page(tmp_path, [], "c.pdf", labels=[_label(120, 20.4 + h, "Lille", 9.0)])
    found = CHECKS["frame"](_sheet(p, frame_mm=frame))
    assert found and "glued to the frame line" in found[0]
    p = _page(tmp_path, [], "g.pdf", labels=[_label(120, 20.7 + h, "Lille", 9.0)])
    assert CHECKS["frame"](_sheet(p, frame_mm=frame)) == []


def test_page_edge(tmp_path):
    bad = _sheet(_page(tmp_path, [(1.0, 100, "Source : INSEE", 7.0), (150, 210.5, "Réalisation", 7.0)]))
    found = CHECKS["page-edge"](bad)
    assert len(found) == 2 and "«Source : INSEE»" in found[0] and "cut at the page edge" in found[1]
    assert CHECKS["page-edge"](_sheet(_page(tmp_path, [(10, 100, "Source : INSEE", 7.0)], "g.pdf"))) == []


def _legend(entries, kind="typo", title="Forme du terril"):
    return dict(kind=kind, title=title, labels=[e[0] for e in entries], entries=entries)


def test_legend_colours(tmp_path):
    page = _page(tmp_path, [])
    old = [("Arasé construit", "#c7b299", "o"), ("Arasé route", "#c7b299", "o"), ("Conique", "#3f2d20", "o")]
    new = [("Arasé", "#bdbdbd", "o"), ("Conique", "#3f2d20", "o")]
    assert "Arasé route" in CHECKS["legend-colours"](_sheet(page, legends=[_legend(old)]))[0]
    assert CHECKS["legend-colours"](_sheet(page, legends=[_legend(new)])) == []
    # red and green told apart in normal vision, not under deuteranopia
    cvd = [("CH", "#d62728", None), ("CHR", "#2ca02c", None)]
    assert CHECKS["legend-colours"](_sheet(page, legends=[_legend(cvd)]))
    many = [(f"Compagnie {i}", c, None) for i, c in enumerate(
        "#8c510a #d73027 #fddaec #4575b4 #003c30 #f0e442 #e7298a #08306b #bdbdbd #56b4e9 #662506".split())]
    assert any("11 categories" in d for d in CHECKS["legend-colours"](_sheet(page, legends=[_legend(many)])))


def test_count_decimals(tmp_path):
    page = _page(tmp_path, [])
    bad = dict(kind="prop", title="Établissements", labels=["94,0", "20,0", "10,0"])
    good = dict(kind="prop", title="Établissements", labels=["94", "20", "10"])
    rates = dict(kind="choro", title="Part (%)", labels=["9,0", "13,9", "16,6"])
    assert "94,0" in CHECKS["count-decimals"](_sheet(page, legends=[bad]))[0]
    assert CHECKS["count-decimals"](_sheet(page, legends=[good, rates])) == []
    # a choropleth of a count (every value whole) with class bounds 2,5 / 7,5
    counts = dict(kind="choro", title="Établissements", labels=["0", "2,5", "7,5", "20"], extremes={"integers": True})
    assert "bounded by decimals" in CHECKS["count-decimals"](_sheet(page, legends=[counts]))[0]
    assert CHECKS["count-decimals"](_sheet(page, legends=[dict(counts, extremes={"integers": False})])) == []


def test_count_decimals_read_on_the_page(tmp_path):
    """What the legend's box prints counts, not what the renderer meant to print."""
    page = _page(tmp_path, [(22, 40, "94,0", 6.5), (22, 45, "20,0", 6.5), (22, 50, "10,0", 6.5)])
    lg = dict(kind="prop", title="Établissements", labels=["94", "20", "10"], bbox=(20, 35, 40, 52))
    assert "94,0 / 20,0 / 10,0" in CHECKS["count-decimals"](_sheet(page, legends=[lg]))[0]
    page = _page(tmp_path, [(22, 40, "94", 6.5), (22, 45, "20", 6.5), (22, 50, "10", 6.5)], "g.pdf")
    assert CHECKS["count-decimals"](_sheet(page, legends=[lg])) == []


def test_count_decimals_of_a_real_sheet_made_wrong(built_gpkg, tmp_path):
    """GP establishments (a count) classed in equal intervals with one decimal: bounds
    «23,5 / 47,0…» for whole numbers; with the recipe's whole-number labels, clean."""
    import yaml
    doc = yaml.safe_load((RECIPES / "sante_densite_generalistes.yaml").read_text(encoding="utf-8"))
    for L in doc["layers"]:
        if L.get("type") == "choro":
            L.pop("breaks", None)
            L.pop("outliers", None)
            L.update(var="etab_generalistes", method="equal", k=4, legend_decimals=1)
    bad = tmp_path / "counts.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    _, legends, _ = map_sheet_info(bad, {}, built_gpkg)
    found = CHECKS["count-decimals"](Sheet(1, "x", "map", None, legends=legends))
    assert found and "decimals" in found[0]
    for L in doc["layers"]:
        if L.get("type") == "choro":
            L["legend_decimals"] = 0
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    _, legends, _ = map_sheet_info(bad, {}, built_gpkg)
    assert CHECKS["count-decimals"](Sheet(1, "x", "map", None, legends=legends)) == []


def test_legend_touch(tmp_path):
    """The labels of two reference circles set end to end touch; a millimetre apart they do not."""
    one = _page(tmp_path, [(22, 40, "94", 6.5)]).runs[0]
    w = one.bbox[2] - one.bbox[0]
    lg = dict(kind="prop", title="Établissements", labels=["94", "20"], bbox=(20, 35, 60, 52))
    touching = _page(tmp_path, [(22, 40, "94", 6.5), (22 + w + 0.3, 40, "20", 6.5)], "t.pdf")
    found = CHECKS["legend-touch"](_sheet(touching, legends=[lg]))
    assert found and "«94» and «20» touch" in found[0]
    apart = _page(tmp_path, [(22, 40, "94", 6.5), (22 + w + 1.5, 40, "20", 6.5)], "a.pdf")
    assert CHECKS["legend-touch"](_sheet(apart, legends=[lg])) == []


def test_outlier_class(tmp_path):
    page = _page(tmp_path, [])
    labels = ["9,0", "13,9", "16,6", "20,0", "35,2"]
    bad = dict(kind="choro", title="Part des 65 ans et plus (%)", labels=labels, breaks=[9, 13.9, 16.6, 20, 35.2],
               counts=[20, 30, 25, 1], extremes={"top": "35,2", "top_gap": 15.4, "bottom_gap": 0.1, "rest_range": 10.7})
    found = CHECKS["outlier-class"](_sheet(page, legends=[bad]))
    assert len(found) == 1 and "top class (20,0 – 35,2)" in found[0] and "35,2" in found[0]
    # a lone commune in the top class of classes shared with the basin, close to the others
    near = dict(bad, extremes={"top": "20,4", "top_gap": 0.3, "bottom_gap": 0.1, "rest_range": 10.7})
    assert CHECKS["outlier-class"](_sheet(page, legends=[near])) == []
    good = dict(bad, counts=[20, 30, 25, 6])
    assert CHECKS["outlier-class"](_sheet(page, legends=[good])) == []


def test_outlier_class_of_a_real_sheet_made_wrong(built_gpkg, tmp_path):
    """GP establishments per 10 000 inhabitants in equal intervals: one commune at 226 alone
    in a top class far from the others; the atlas's given breaks do not leave it alone."""
    import yaml
    doc = yaml.safe_load((RECIPES / "sante_densite_generalistes.yaml").read_text(encoding="utf-8"))
    for L in doc["layers"]:
        if L.get("type") == "choro":
            L.pop("breaks", None)
            L.pop("outliers", None)                 # the atlas sets the outlier apart, named
            L.update(method="equal", k=5)
    bad = tmp_path / "equal.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    _, legends, _ = map_sheet_info(bad, {}, built_gpkg)
    found = CHECKS["outlier-class"](Sheet(1, "densité", "map", None, legends=legends))
    assert len(found) == 1 and "top class" in found[0] and "single feature" in found[0]
    _, legends, _ = map_sheet_info(RECIPES / "sante_densite_generalistes.yaml", {}, built_gpkg)
    assert CHECKS["outlier-class"](Sheet(1, "densité", "map", None, legends=legends)) == []


def test_unnamed_towns(tmp_path):
    towns = pd.DataFrame({"nom": ["Lens", "Liévin", "Avion", "Éleu-dit-Leauwette"],
                          "population": [32920, 30063, 17600, 2900], "seat": [True, False, False, False],
                          "x": [686000, 681000, 684000, 683000], "y": [7036000, 7035000, 7033000, 7034000]})
    frame, extent = (20.0, 20.0, 200.0, 150.0), (670000, 7020000, 700000, 7045000)     # 30 km wide
    named = _page(tmp_path, [(100, 80, "Lens", 8.5), (60, 90, "Liévin", 8.0)])
    res = CHECKS["unnamed-towns"](_sheet(named, frame_mm=frame, extent=extent, towns=towns))
    assert "Avion" in res[0] and "Liévin" not in res[0] and "Éleu" not in res[0]
    assert len(res) == 2 and "dropped in silence" in res[1]          # not listed as unplaced either
    listed = _sheet(named, frame_mm=frame, extent=extent, towns=towns,
                    unplaced=[dict(text="Avion", layer="toponymes", required=True, reason="no room")])
    assert len(CHECKS["unnamed-towns"](listed)) == 1                  # listed: not silent, still unnamed
    # outside the frame does not count as named
    outside = _page(tmp_path, [(100, 190, "Avion", 7.0), (100, 80, "Lens", 8.5), (60, 90, "Liévin", 8.0)], "o.pdf")
    assert CHECKS["unnamed-towns"](_sheet(outside, frame_mm=frame, extent=extent, towns=towns))
    all_named = _page(tmp_path, [(100, 80, "Lens", 8.5), (60, 90, "Liévin", 8.0), (120, 100, "Avion", 7.0)], "a.pdf")
    assert CHECKS["unnamed-towns"](_sheet(all_named, frame_mm=frame, extent=extent, towns=towns)) == []
    # basin-wide (120 km): seats and ≥ 20 000 only
    wide = (600000, 7000000, 720000, 7090000)
    assert CHECKS["unnamed-towns"](_sheet(named, frame_mm=frame, extent=wide, towns=towns)) == []


def test_near_empty_table(tmp_path):
    short = _page(tmp_path, [(20, 20 + 5 * i, f"Commune {i}", 7.0) for i in range(10)])
    full = _page(tmp_path, [(20, 20 + 5 * i, f"Commune {i}", 7.0) for i in range(36)], "f.pdf")
    check = CHECKS["near-empty-table"]
    assert check(_sheet(short, "table", next_kind="table", next_fill=0.3))
    assert check(_sheet(short, "table", prev_kind="table", prev_fill=0.3))
    assert check(_sheet(short, "table", next_kind="table", next_fill=0.9)) == []     # no room to share
    assert check(_sheet(short, "table", next_kind="map")) == []
    assert check(_sheet(full, "table", next_kind="table", next_fill=0.3)) == []
    # the short last part of a table whose first part is full: lines not shared evenly
    tiny = _page(tmp_path, [(20, 20 + 5 * i, f"Commune {i}", 7.0) for i in range(3)], "t.pdf")
    found = check(_sheet(tiny, "table", part=(2, 2), prev_kind="table", prev_fill=0.95))
    assert found and "not shared evenly" in found[0]
    alone = check(_sheet(tiny, "table", part=(1, 1), prev_kind="map", next_kind="map"))
    assert alone and "alone on its page" in alone[0]
    assert check(_sheet(short, "table", part=(1, 1), prev_kind="map", next_kind="map")) == []


def test_table_order():
    rows = ["Noyelles-lès-Vermelles", "Nœux-les-Mines", "Oignies"]           # œ filed after z
    sheet = Sheet(1, "t", "table", None, rows=rows, sort=("nom",))
    found = CHECKS["table-order"](sheet)
    assert found and "«Nœux-les-Mines» after «Noyelles-lès-Vermelles»" in found[0]
    sheet.rows = ["Éleu-dit-Leauwette", "Estevelles", "Nœux-les-Mines", "Noyelles-lès-Vermelles",
                  "Cité de l’Hôpital", "Cité de la Voie", "Cité n° 3", "Cité n° 15"]
    assert misordered(sheet.rows[:4]) == [] and misordered(sheet.rows[4:]) == []
    assert collation_key("Cité des Musiciens (n° 33)") < collation_key("Cité des Musiciens bis")
    assert CHECKS["table-order"](Sheet(1, "t", "table", None, rows=sheet.rows[:4], sort=("nom",))) == []


def test_reader_text(tmp_path):
    bad = _page(tmp_path, [(20, 30, "Importer : mbm-sig import ssm_dispensaires FICHIER", 7.0),
                           (20, 40, "Source : data/sequelles_bilan.csv", 7.0)])
    found = CHECKS["reader-text"](_sheet(bad, "pending"))
    assert {d.split(":")[0] for d in found} >= {"a command line", "a file path", "a command argument"}
    good = _page(tmp_path, [(20, 30, "Données détenues par la CARMI Nord-Est, à demander au service statistique.",
                             7.0)], "g.pdf")
    assert CHECKS["reader-text"](_sheet(good, "pending")) == []


def test_reader_text_internal_words(tmp_path):
    bad = _page(tmp_path, [(20, 30, "Calcul en Lambert-93 dans le catalogue.", 6.0),
                           (20, 40, "Données manquantes : le champ « Part » de la couche « Santé ».", 7.0)])
    found = " ".join(CHECKS["reader-text"](_sheet(bad)))
    for w in ("«Lambert-93»", "«catalogue»", "«champ»", "«couche»"):
        assert f"internal word {w}" in found
    good = _page(tmp_path, [(20, 30, "Distances à vol d’oiseau. Cité du Champ Fleuri, Couches (commune).", 6.0)],
                 "g.pdf")
    assert CHECKS["reader-text"](_sheet(good)) == []


def test_typography(tmp_path):
    bad = _page(tmp_path, [(20, 30, "CARTE D'IDENTITÉ — CITÉ MINIÈRE", 7.5), (20, 40, "CA de Lens - Liévin", 10.5),
                           (20, 50, "Fosse n°14 de Noeux", 7.0)])
    found = " ".join(CHECKS["typography"](_sheet(bad)))
    for what in ("straight apostrophe", "spaced hyphen", "«n°» stuck", "«oe» for «œ»"):
        assert what in found
    good = _page(tmp_path, [(20, 30, "CARTE D’IDENTITÉ — CITÉ MINIÈRE", 7.5), (20, 40, "CA de Lens-Liévin", 10.5),
                            (20, 50, "Fosse n\u00a014 de Nœux, 2000–2006 : « Autre »", 7.0)], "g.pdf")
    assert CHECKS["typography"](_sheet(good)) == []


def test_official_names(built_gpkg, tmp_path):
    """The official spellings are those of the catalogue's communes (COG, registry)."""
    from mbm_sig.maps.labels import towns
    official = OfficialNames(towns(built_gpkg)["nom"])
    bad = _page(tmp_path, [(20, 30, "Cité Taffin, Conde-sur-l’Escaut", 7.0), (20, 40, "ECAILLON", 7.0),
                           (20, 50, "Fosse Sabatier (Raismes), Noeux-les-Mines", 7.0)])
    found = CHECKS["official-names"](_sheet(bad, official=official))
    assert {f.split("»")[0] for f in found} == {"«Conde-sur-l’Escaut", "«ECAILLON", "«Noeux-les-Mines"}
    assert "«Condé-sur-l’Escaut» (official name)" in " ".join(found)
    good = _page(tmp_path, [(20, 30, "Cité Taffin, Condé-sur-l’Escaut", 7.0), (20, 40, "ÉCAILLON", 7.0),
                            (20, 50, "Fosse Sabatier (Raismes), Nœux-les-Mines, Lens", 7.0),
                            # a commune's name inside a longer hyphenated name is not that commune
                            (20, 60, "Concession de Flines-les-Raches", 7.0)], "g.pdf")
    assert CHECKS["official-names"](_sheet(good, official=official)) == []
    alone = _page(tmp_path, [(20, 30, "Concession de Raches", 7.0)], "r.pdf")
    assert CHECKS["official-names"](_sheet(alone, official=official)) == [
        "«Raches» printed for the commune «Râches» (official name)"]


def test_official_names_from_the_registry(built_gpkg, tmp_path):
    """The registry's names are the reference: the catalogue's «Madeleine» (the article
    lost) printed as a label is La Madeleine misnamed."""
    from mbm_sig.check.text import official_names, registry_names
    from mbm_sig.maps.labels import towns
    reg = registry_names()
    assert reg["59368"] == "La Madeleine" and reg["59153"].startswith("Condé-sur-l")
    t = towns(built_gpkg).copy()
    t.loc[t["insee"] == "59368", "nom"] = "Madeleine"            # a name as a faulty build gives it
    official = official_names(t)
    bad = _page(tmp_path, [], labels=[_label(100, 50, "Madeleine"), _label(100, 70, "Lens")])
    found = CHECKS["official-names"](_sheet(bad, official=official))
    assert found == ["«Madeleine» printed for the commune «La Madeleine» (official name)"]
    good = _page(tmp_path, [], "g.pdf", labels=[_label(100, 50, "La Madeleine"), _label(100, 70, "Lens")])
    assert CHECKS["official-names"](_sheet(good, official=official)) == []


def test_label_symbols(tmp_path):
    """A town label set over puits symbols hides them."""
    p = _page(tmp_path, [], labels=[_label(100, 50, "Valenciennes"), _label(100, 80, "Denain")])
    names = ["puits"] * 3
    over = np.array([[95.0, 50.0, 0.8], [104.0, 50.5, 0.8], [100.0, 90.0, 0.8]])
    found = CHECKS["label-symbols"](_sheet(p, frame_mm=(20, 20, 200, 150), symbols=(over, names)))
    assert len(found) == 1 and "«Valenciennes» covers 2 point symbol(s) (puits)" in found[0]
    beside = np.array([[85.0, 50.0, 0.8], [100.0, 55.0, 0.8], [100.0, 90.0, 0.8]])     # clear of the ink and halo
    assert CHECKS["label-symbols"](_sheet(p, frame_mm=(20, 20, 200, 150), symbols=(beside, names))) == []


def _map_sheet(n, legends=(), orientation="portrait", series="Arrondissement de {nom}", frame=(10, 25, 190, 200)):
    return Sheet(n, f"feuille {n}", "map", None, legends=list(legends), orientation=orientation, series=series,
                 frame_mm=frame)


def test_series_classes():
    red = ["#fef0d9", "#fdcc8a", "#fc8d59", "#d7301f"]
    grey = ["#f7f7f7", "#cccccc", "#969696", "#525252"]
    lg = dict(kind="choro", title="Part des 65 ans et plus (%)", breaks=[9, 14, 17, 20, 29], colors=red,
              labels=[], entries=[])
    sheets = [_map_sheet(3, [lg]), _map_sheet(6, [lg]), _map_sheet(8, [dict(lg, colors=grey)]),
              _map_sheet(9, [dict(lg, breaks=[9, 15, 18, 21, 29])])]
    found = SERIES_CHECKS["series-classes"](sheets)
    assert [(s.number, "colours" in d, "breaks" in d) for s, d in found] == [(8, True, False), (9, False, True)]
    assert "as on p. 3, p. 6" in found[0][1]
    assert SERIES_CHECKS["series-classes"](sheets[:2]) == []
    typo = [_map_sheet(k, [dict(kind="typo", title="Type", entries=[("Cité", c, None)], labels=["Cité"])])
            for k, c in ((4, "#e31a1c"), (5, "#e31a1c"), (6, "#1f78b4"))]
    found = SERIES_CHECKS["series-classes"](typo)
    assert [s.number for s, _ in found] == [6]


def test_series_classes_of_real_sheets_drawn_without_the_atlas_series(built_gpkg):
    """The basin 65+ sheet with the atlas's series, and the arrondissement sheet drawn with
    its own Q6 (the health atlas before its series): other breaks, found."""
    from mbm_sig.atlas import series
    from mbm_sig.atlas.engine import load_atlas
    atlas = load_atlas("sante")
    values = series.resolve(atlas.series, built_gpkg, str(atlas.path))
    sec = next(sec for sec in atlas.sections if sec.coverage)
    spec = next(s for s in sec.sheets if s.kind == "map")           # the 65+ share of one arrondissement
    params = {"code": "627", "nom": "Lens"}
    sheets = []
    for k, vals in ((1, values), (2, values), (3, {})):
        info, legends, _ = map_sheet_info(spec.recipe, params, built_gpkg, vals)
        sheets.append(Sheet(k, spec.title, "map", None, legends=legends, frame_mm=info.frame_mm))
    found = SERIES_CHECKS["series-classes"](sheets)
    assert [s.number for s, _ in found] == [3] and "breaks" in found[0][1]


def test_series_layout():
    right = dict(kind="choro", title="t", bbox=(205, 30, 240, 80))
    below = dict(kind="choro", title="t", bbox=(20, 230, 60, 260))
    sheets = [_map_sheet(4, [right]), _map_sheet(5, [right]), _map_sheet(6, [below], orientation="landscape"),
              _map_sheet(7, [right])]
    found = SERIES_CHECKS["series-layout"](sheets)
    assert [(s.number, d.split(":")[1].split()[0]) for s, d in found] == [(6, "orientation"), (6, "legend")]
    assert "below where the other pages (p. 4, p. 5, p. 7) are right" in found[1][1]
    assert SERIES_CHECKS["series-layout"]([sheets[0], sheets[1], sheets[3]]) == []


def test_check_sheets_names_page_sheet_and_check(tmp_path):
    p = _sheet(_page(tmp_path, [(20, 30, "T042", 5.0)]))
    probs = check_sheets([p])
    assert [(x.page, x.sheet, x.check) for x in probs] == [(1, "feuille d'essai", "small-text")]
    assert str(probs[0]).startswith("p. 1 «feuille d'essai» [small-text]")
    assert set(ALL_CHECKS) == set(CHECKS) | set(SERIES_CHECKS)


def test_legend_colours_of_a_real_sheet_made_wrong(built_gpkg, tmp_path):
    """The terril sheet with the colours of the layer definition before issue 11."""
    import yaml
    doc = yaml.safe_load((RECIPES / "patri_terrils.yaml").read_text(encoding="utf-8"))
    doc["layers"][1]["var"] = "forme"
    doc["layers"][1]["colors"] = {"Conique": "#3f2d20", "Plat": "#8c6d46", "Arasé construit": "#c7b299",
                                  "Arasé route": "#c7b299", "Cavalier": "#bf812d"}
    bad = tmp_path / "terrils.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    info, legends, _ = map_sheet_info(bad, {}, built_gpkg)
    s = Sheet(1, "terrils", "map", _page(tmp_path, []), frame_mm=info.frame_mm, extent=info.extent, legends=legends)
    assert any("Arasé route" in d for d in CHECKS["legend-colours"](s))
    info, legends, _ = map_sheet_info(RECIPES / "patri_terrils.yaml", {}, built_gpkg)
    s.legends = legends
    assert CHECKS["legend-colours"](s) == []


def _made_wrong(tmp_path, recipe, name, change):
    """The legends of a real sheet whose recipe ``change(doc)`` altered."""
    import yaml
    doc = yaml.safe_load((RECIPES / recipe).read_text(encoding="utf-8"))
    change(doc)
    bad = tmp_path / name
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return bad


def test_legend_colours_at_print_size_of_real_sheets_made_wrong(built_gpkg, tmp_path):
    """The colours the visual review of issue 11 found weak at print size, put back on the
    real sheets: each is found, with the rule it breaks; the sheets as they are pass."""
    from mbm_sig.maps import palettes

    def check(recipe):
        _, legends, _ = map_sheet_info(recipe, {}, built_gpkg)
        return CHECKS["legend-colours"](Sheet(1, "x", "map", None, legends=legends))

    def terrils(doc):           # Terrasses / Bassin de décantation, and a second near-black
        L = doc["layers"][1]
        L["colors"] = {"Conique": "#3f2d20", "Tronqué": "#8c510a", "Plat": "#dfc27d", "Terrasses": "#88ccee",
                       "Grand terril moderne": "#737373", "Cavalier": "#e6550d", "Bassin de décantation": "#4393c3",
                       "Typologie particulière": "#0c2c84", "Arasé": "#bdbdbd"}
        L["markers"] = {"Conique": "^", "Tronqué": "p", "Plat": "s", "Terrasses": "h", "Grand terril moderne": "D",
                        "Cavalier": "d", "Bassin de décantation": "o", "Typologie particulière": "X", "Arasé": "v"}
    found = check(_made_wrong(tmp_path, "patri_terrils.yaml", "t.yaml", terrils))
    assert len(found) == 2
    assert "«Terrasses» #88ccee and «Bassin de décantation» #4393c3" in found[0] and "symbols of 1.5 mm" in found[0]
    assert "2 entries read as black" in found[1] and "«Typologie particulière»" in found[1]

    def protection(doc):        # «Inscrit MH» and «abords» before the review
        doc["layers"][2]["colors"] = {"Classé MH": "#67000d", "Inscrit MH et AVAP": "#cb181d", "Inscrit MH": "#fb6a4a",
                                      "Situé en abords MH": "#fcbba1", "Non protégé": "#ffffff"}
    found = check(_made_wrong(tmp_path, "patri_bati_protection.yaml", "p.yaml", protection))
    assert any("«Inscrit MH» #fb6a4a and «Situé en abords MH» #fcbba1" in d for d in found)

    def concessions(doc):       # the three blues, at 75 % under the hatching
        doc["layers"][1]["alpha"] = 0.75
        doc["layers"][1]["colors"] = {"sortie complète avant 2000": "#253494",
                                      "renonciation directe instruite en 2005": "#2c7fb8",
                                      "renonciation après arrêt instruite en 2005": "#41b6c4",
                                      "arrêt instruit, renonciation à instruire": "#a1dab4",
                                      "renonciation directe à instruire": "#ffffcc", "non renseigné": "#969696"}
    found = check(_made_wrong(tmp_path, "renouv_concessions.yaml", "c.yaml", concessions))
    assert any("«renonciation directe instruite en 2005»" in d and "«renonciation après arrêt instruite en 2005»" in d
               and "hatched areas" in d for d in found)

    def purples(doc):           # ColorBrewer's exact Purples 6 on the density classes
        doc["layers"][0]["palette"] = ["#" + c for c in palettes._CB["Purples"][6].split()]
    found = check(_made_wrong(tmp_path, "sante_densite_specialistes.yaml", "d.yaml", purples))
    assert len(found) == 1 and "classes 1 and 2 (#f2f0f7, #dadaeb) 7.6 apart in L*" in found[0]

    for recipe in ("patri_terrils.yaml", "patri_bati_protection.yaml", "patri_bati_typologie.yaml",
                   "patri_cites_compagnie.yaml", "renouv_concessions.yaml", "sante_densite_specialistes.yaml"):
        assert check(RECIPES / recipe) == [], recipe


def test_check_command_bad_input(built_gpkg, tmp_path, capsys):
    from mbm_sig.errors import InvalidInput
    with pytest.raises(InvalidInput, match="nosuch"):
        check_atlas("nosuch", catalogue=built_gpkg)
    with pytest.raises(InvalidInput, match="no such PDF"):
        check_atlas("sante", catalogue=built_gpkg, pdf=tmp_path / "absent.pdf")
    with pytest.raises(InvalidInput, match="not a book of atlas 'sante'"):
        check_atlas("sante", catalogue=built_gpkg, pdf=_page(tmp_path, []) and tmp_path / "p.pdf")


@pytest.mark.parametrize("name", ["sante", "patrimoine", "renouvellement"])
def test_check_on_the_atlas(built_gpkg, name, capsys, monkeypatch, tmp_path):
    """Every page of the atlas checked: any finding fails (a warning with
    MBM_SIG_CHECK_STRICT=0)."""
    rep = check_atlas(name, catalogue=built_gpkg, out_dir=tmp_path)
    assert rep.pages > 15
    # the page numbers the book writer sets in a form over each page are read too
    last = read_pdf(rep.pdf, pages={rep.pages})[0]
    assert f"{rep.pages} / {rep.pages}" in [r.text for r in last.runs]
    assert {p.check for p in rep.problems} <= set(ALL_CHECKS)
    assert all(1 <= p.page <= rep.pages for p in rep.problems)
    monkeypatch.setattr("mbm_sig.check.check_atlas", lambda *a, **k: rep)
    code = cli_check([name])
    out = capsys.readouterr().out
    assert code == (0 if rep.clean else 1)
    assert out.strip().endswith("clean" if rep.clean else "page(s)")
    if rep.clean:
        return
    text = format_report(rep)
    if STRICT:
        pytest.fail(f"mbm-sig check {name}:\n{text}")
    warnings.warn(f"mbm-sig check {name} is not clean yet ({len(rep.problems)} finding(s)):\n{text}", stacklevel=1)
