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


def test_near_empty_table_last_part_by_rows(tmp_path):
    """A table cut 45 + 5 rows: its last part, however tall its rows, is found; 26 + 24: not."""
    half = _page(tmp_path, [(20, 20 + 5 * i, f"Commune {i}", 7.0) for i in range(28)], "h.pdf")
    check = CHECKS["near-empty-table"]
    found = check(_sheet(half, "table", part=(2, 2), part_rows=[45, 5], prev_kind="table", prev_fill=0.95))
    assert found and "45 + 5 rows" in found[0]
    assert check(_sheet(half, "table", part=(2, 2), part_rows=[26, 24], prev_kind="table", prev_fill=0.95)) == []
    assert check(_sheet(half, "table", part=(1, 2), part_rows=[45, 5], next_kind="table", next_fill=0.2)) == []


def _header_page(tmp_path, columns):
    """A table page whose column headers are printed as the table pages print them (bold
    6.6 pt), each column a list of lines at x mm."""
    from mbm_sig.atlas import pages
    c = pages.Canvas()
    for x, lines in columns:
        for j, line in enumerate(lines):
            c.text(x, 40 + 3.2 * j, line, size=6.6, weight="bold")
    c.text(20, 60, "Auchel", size=6.8)
    pages.save_pdf([c.fig], tmp_path / "t.pdf", {"Title": "t"})
    return read_pdf(tmp_path / "t.pdf")[0]


def test_table_headers(tmp_path):
    heads = ["Part des 65 ans et plus (%)", "Établissements de médecine générale"]
    wrong = _header_page(tmp_path, [(20, ["Part", "des 65", "ans et", "plus (%)"]),
                                    (60, ["Établisse-", "ments de", "médecine", "générale"][:1] + ["ments de médecine générale"])])
    found = CHECKS["table-headers"](_sheet(wrong, "table", headers=heads))
    assert any("«Part des 65 ans et plus (%)» wrapped on 4 lines" in d for d in found), found
    assert any("word broken" in d and "«Établisse-»" in d for d in found), found
    right = _header_page(tmp_path, [(20, ["Part des 65", "ans et plus (%)"]),
                                    (60, ["Établissements de", "médecine générale"])])
    assert CHECKS["table-headers"](_sheet(right, "table", headers=heads)) == []


def test_table_headers_of_the_real_tables(built_gpkg, tmp_path):
    """The health atlas's communes table: every header on at most three lines, no word
    broken (the width of a column from its header's longest word and its cells)."""
    from mbm_sig.atlas import pages
    from mbm_sig.atlas.engine import load_atlas, plan
    atlas = load_atlas("sante")
    body, _ = plan(atlas, built_gpkg)
    p = next(q for q in body if q.kind == "table" and q.part == 1 and q.parts > 1)
    pages.save_pdf([pages.table_page(atlas, p.title, p.columns, p.rows, p.part, p.parts)], tmp_path / "t.pdf",
                   {"Title": "t"})
    page = read_pdf(tmp_path / "t.pdf")[0]
    sheet = _sheet(page, "table", headers=list(p.columns.values()))
    from mbm_sig.check import header_columns
    assert len(header_columns(sheet)) == len(p.columns)
    assert CHECKS["table-headers"](sheet) == []


def test_table_columns(tmp_path):
    ids = _page(tmp_path, [(20, 30, "Cité de l’Hôpital", 7.0), (120, 30, "BI-0095", 7.0), (120, 35, "ZT-0130", 7.0)])
    found = CHECKS["table-columns"](_sheet(ids, "table"))
    assert found == ["2 internal identifier(s) printed in the table: BI-0095, ZT-0130"]
    clean = _page(tmp_path, [(20, 30, "Cité de l’Hôpital", 7.0), (120, 30, "bien inscrit", 7.0)], "c.pdf")
    cells = [("Concession", ["Aniche", "Anzin", "Douchy"]), ("Situation fin 2005", ["non renseigné"] * 3)]
    found = CHECKS["table-columns"](_sheet(clean, "table", cells=cells))
    assert len(found) == 1 and "«Situation fin 2005» holds «non renseigné» on every row" in found[0]
    assert CHECKS["table-columns"](_sheet(clean, "table", cells=cells[:1])) == []


def test_table_columns_of_a_real_table_made_wrong(built_gpkg):
    """The renewal atlas's ERBM table as its recipe lists it (identifiers, a constant
    origin), before what the reader reads is made of it: found; as the atlas prints it: clean."""
    from mbm_sig.atlas import pages
    from mbm_sig.atlas.engine import load_atlas, plan
    body, _ = plan(load_atlas("renouvellement"), built_gpkg)
    p = next(q for q in body if q.kind == "table" and "ERBM" in q.title)
    spec_cols = p.spec.table["columns"]
    assert "origine" in spec_cols and "origine" not in p.columns       # said in the subtitle instead
    assert "Origine : données ouvertes" in pages.table_subtitle(spec_cols, p.columns, p.rows)
    raw = built_gpkg.read(p.spec.table["layer"], where=p.spec.table["where"])
    wrong = [(t, [pages._cell(v) for v in raw[k]]) for k, t in spec_cols.items()]
    made = [(t, [pages._cell(r.get(k)) for r in p.rows]) for k, t in p.columns.items()]
    found = CHECKS["table-columns"](Sheet(1, p.title, "table", _empty_text(), cells=wrong))
    assert any("«Origine» holds «données ouvertes»" in d for d in found), found
    assert not any(pages.ID_PATTERN.search(v) for _, vals in made for v in vals)
    assert CHECKS["table-columns"](Sheet(1, p.title, "table", _empty_text(), cells=made)) == []


def _empty_text():
    from mbm_sig.check.pdf import PageText
    return PageText(1, (210.0, 297.0), [])


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
    assert [s.number for s, d in found if "legend corner" in d] == [6]       # its legend elsewhere too
    found = [(s, d) for s, d in found if "legend corner" not in d]
    assert [(s.number, d.split(":")[1].split()[0]) for s, d in found] == [(6, "orientation"), (6, "legend")]
    assert "below where the other pages (p. 4, p. 5, p. 7) are right" in found[1][1]
    assert SERIES_CHECKS["series-layout"]([sheets[0], sheets[1], sheets[3]]) == []


def test_series_layout_frames_credits_and_legends():
    """A series page whose frame size or place, credits or legend corner lie more than 1 mm
    from the first page's: found; 0.5 mm apart (rounding): clean."""
    lg = dict(kind="choro", title="t", bbox=(205, 30, 240, 80))

    def page(n, frame=(10, 25, 190, 170), credits=(205, 150, 60, 20), legend=lg):
        s = _map_sheet(n, [legend], orientation="landscape", frame=frame)
        s.credits_box = credits
        return s

    ok = [page(4), page(5, frame=(10.5, 25, 190.5, 170), credits=(205.5, 150.4, 62, 14))]
    assert SERIES_CHECKS["series-layout"](ok) == []
    wrong = ok + [page(6, frame=(10, 25, 190, 110)), page(7, credits=(205, 120, 60, 20)),
                  page(8, frame=(12, 25, 190, 170)), page(9, legend=dict(lg, bbox=(205, 40, 240, 90)))]
    found = SERIES_CHECKS["series-layout"](wrong)
    what = ("frame size", "frame position", "credits position", "legend corner")
    assert sorted((s.number, next(w for w in what if w in d)) for s, d in found) == [
        (6, "frame size"), (7, "credits position"), (8, "frame position"), (9, "legend corner")]
    assert "frame size 190.0 × 110.0 mm where p. 4 has 190.0 × 170.0 mm (60.0 mm apart" in found[0][1]


def _without(tmp_path, recipe: str, key: str) -> Path:
    """A copy of an atlas recipe without one of its top-level keys (a sheet made wrong)."""
    import yaml
    doc = yaml.safe_load((RECIPES / recipe).read_text(encoding="utf-8"))
    doc.pop(key)
    out = tmp_path / recipe
    out.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return out


def _series_sheet(n, info, legends, series):
    s = Sheet(n, f"feuille {n}", "map", None, legends=legends, orientation=info.orientation, series=series,
              frame_mm=info.frame_mm)
    s.credits_box = info.boxes.get("credits")
    return s


def test_series_layout_of_real_arrondissement_sheets(built_gpkg, tmp_path):
    """The health atlas's arrondissement sheets share one frame, legend and credits place
    (Lens, wide, and Béthune, tall, included); the Lens sheet laid out alone (its recipe
    without ``series_of``) has a frame of its own: found."""
    recipe = RECIPES / "sante_arrondissement.yaml"
    feats = built_gpkg.read("arrondissements", where={"bassin_minier": True})
    sheets = []
    for k, (_, f) in enumerate(feats.iterrows()):
        info, legends, _ = map_sheet_info(recipe, {"code": f["code"], "nom": f["nom"]}, built_gpkg)
        sheets.append(_series_sheet(k + 1, info, legends, "arrondissements"))
    assert len(sheets) == 4 and SERIES_CHECKS["series-layout"](sheets) == []
    fw, fh = sheets[0].frame_mm[2:]
    assert fw > 200 and fh > 170            # the room the widest and the tallest need, filled
    lens = feats[feats["code"] == "627"].iloc[0]
    info, legends, _ = map_sheet_info(_without(tmp_path, "sante_arrondissement.yaml", "series_of"),
                                      {"code": "627", "nom": lens["nom"]}, built_gpkg)
    found = SERIES_CHECKS["series-layout"](sheets + [_series_sheet(9, info, legends, "arrondissements")])
    assert {s.number for s, _ in found} == {9} and any("frame size" in d for _, d in found)


def test_series_layout_of_the_basin_maps(built_gpkg):
    """The basin maps of the health atlas share one layout decided over them (the atlas's
    series applied): two sheets of different legends, one frame and credits place; each laid
    out alone, their frames differ: found."""
    from mbm_sig.atlas import series
    from mbm_sig.atlas.engine import load_atlas
    atlas = load_atlas("sante")
    values = series.resolve(atlas.series, built_gpkg, str(atlas.path))
    from mbm_sig.atlas.engine import _check_requires
    shared = series.with_layouts(atlas, built_gpkg, lambda spec: _check_requires(built_gpkg, spec), values)
    assert len(shared[series.LAYOUTS]) >= 8
    names = ("sante_population_65.yaml", "sante_generalistes.yaml", "sante_distance_hopital.yaml")
    for vals, clean in ((shared, True), (values, False)):
        sheets = []
        for k, name in enumerate(names):
            info, legends, _ = map_sheet_info(RECIPES / name, {}, built_gpkg, vals)
            sheets.append(_series_sheet(k + 1, info, legends, "basin"))
        found = SERIES_CHECKS["series-layout"](sheets)
        assert (found == []) is clean, found


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

    def concessions(doc):       # the three blues, at 75 % under the hatching (layer 2: the states)
        doc["layers"][2]["alpha"] = 0.75
        doc["layers"][2]["colors"] = {"sortie complète avant 2000": "#253494",
                                      "renonciation directe instruite en 2005": "#2c7fb8",
                                      "renonciation après arrêt instruite en 2005": "#41b6c4",
                                      "arrêt instruit, renonciation à instruire": "#a1dab4",
                                      "renonciation directe à instruire": "#ffffcc", "non renseigné": "#969696"}
    found = check(_made_wrong(tmp_path, "renouv_concessions.yaml", "c.yaml", concessions))
    assert any("«renonciation directe instruite en 2005 (" in d and "«renonciation après arrêt instruite en 2005 (" in d
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


# ------------------------------------------------------------------------------ labels (issue 11, place names)

LENS_AREA = (670000, 7020000, 700000, 7045000)          # 30 km wide, in the frame below
LABEL_FRAME = (20.0, 20.0, 200.0, 150.0)


def _towns_table():
    return pd.DataFrame({"nom": ["Lens", "Liévin", "Lille", "Avion"], "population": [32920, 30063, 236000, 17600],
                         "seat": [True, False, True, False],
                         "x": [686000, 681000, 690000, 684000], "y": [7036000, 7035000, 7044000, 7033000]})


def _anchor_mm(x, y, extent=LENS_AREA, frame=LABEL_FRAME):
    k = frame[2] / (extent[2] - extent[0])
    return frame[0] + (x - extent[0]) * k, frame[1] + (extent[3] - y) * k


def test_town_distance(tmp_path):
    """A town name drifted away from its commune (Bruay at the frame's edge) is found;
    at its place, or within TOWN_MAX_MM, it is not."""
    from mbm_sig.maps.labels import TOWN_MAX_MM
    lx, ly = _anchor_mm(686000, 7036000)
    far = _page(tmp_path, [], labels=[_label(lx + 15, ly, "Lens")])
    found = CHECKS["town-distance"](_sheet(far, frame_mm=LABEL_FRAME, extent=LENS_AREA, towns=_towns_table()))
    assert len(found) == 1 and found[0].startswith("«Lens» printed") and f"at most {TOWN_MAX_MM:g} mm" in found[0]
    at = _page(tmp_path, [], "a.pdf", labels=[_label(lx, ly, "Lens"), _label(lx + 9, ly - 5, "Cité 12")])
    assert CHECKS["town-distance"](_sheet(at, frame_mm=LABEL_FRAME, extent=LENS_AREA, towns=_towns_table())) == []
    beside = _page(tmp_path, [], "b.pdf", labels=[_label(lx, ly - 3.0, "Lens")])     # just above its anchor
    assert CHECKS["town-distance"](_sheet(beside, frame_mm=LABEL_FRAME, extent=LENS_AREA,
                                          towns=_towns_table())) == []


def test_town_context(tmp_path):
    """Lille outside the subject (the Lens area) printed bold at a seat's size: found;
    regular and one point smaller: clean. Inside, Lens stays bold."""
    import shapely
    subject = shapely.box(675000, 7025000, 688000, 7040000)
    towns = _towns_table()
    lx, ly = _anchor_mm(690000, 7044000)
    nx, ny = _anchor_mm(686000, 7036000)
    bold = _page(tmp_path, [], labels=[(lx, ly, "Lille", 9.0, "bold", "#1a1a1a", True),
                                       (nx, ny, "Lens", 7.5, "bold", "#1a1a1a", True)])
    found = CHECKS["town-context"](_sheet(bold, frame_mm=LABEL_FRAME, extent=LENS_AREA, towns=towns, subject=subject))
    assert len(found) == 1 and "«Lille», outside the map's subject, printed bold and 9 pt" in found[0]
    grey = _page(tmp_path, [], "g.pdf", labels=[(lx, ly, "Lille", 8.0, "normal", "#6b6b6b", True),
                                                (nx, ny, "Lens", 7.5, "bold", "#1a1a1a", True)])
    assert CHECKS["town-context"](_sheet(grey, frame_mm=LABEL_FRAME, extent=LENS_AREA, towns=towns,
                                         subject=subject)) == []
    # without a subject (a map of a bbox), no town is context
    assert CHECKS["town-context"](_sheet(bold, frame_mm=LABEL_FRAME, extent=LENS_AREA, towns=towns)) == []


def test_label_ambiguity(tmp_path):
    """A terril's number set nearer another terril than its own reads as the other's."""
    syms = np.array([[100.0, 50.0, 1.0], [112.0, 50.0, 1.0]])
    p = _page(tmp_path, [], labels=[_label(108.5, 50, "T042", 6.0)])          # beside the second terril
    s = _sheet(p, frame_mm=LABEL_FRAME, symbols=(syms, ["terrils"] * 2), point_labels=[("T042", 100.0, 50.0, 1.0)])
    found = CHECKS["label-ambiguity"](s)
    assert len(found) == 1 and found[0].startswith("«T042» nearer another symbol (x 112 mm")
    p = _page(tmp_path, [], "g.pdf", labels=[_label(103.6, 50, "T042", 6.0)])       # beside its own
    s.text = p
    assert CHECKS["label-ambiguity"](s) == []


def test_label_covered_by_a_symbol_drawn_after_it(tmp_path):
    """A circle painted after the label (z-order) hides its glyphs even though the label
    was placed there first; the same circle drawn under the label is fine."""
    from matplotlib.patches import Circle

    def page(zorder, name):
        fig = Figure(figsize=A4)
        fig.add_artist(LabelArtist(297, 210, [_label(100, 50, "Douai")]))
        fig.add_artist(Circle((100 / 297, 1 - 50 / 210), 0.012, transform=fig.transFigure, facecolor="#2166ac",
                              zorder=zorder))
        save_figure(fig, tmp_path / name)
        return read_pdf(tmp_path / name)[0]

    over = page(6, "o.pdf")
    assert over.paints
    found = CHECKS["label-covered"](_sheet(over, frame_mm=LABEL_FRAME))
    assert len(found) == 1 and found[0].startswith("«Douai» covered by a symbol drawn after it")
    under = page(1, "u.pdf")
    assert CHECKS["label-covered"](_sheet(under, frame_mm=LABEL_FRAME)) == []


def test_label_symbols_accepts_a_town_with_no_clear_place(tmp_path):
    """A town over puits when a clear place next to its commune exists is found (and the
    place named); over puits that leave no clear place within reach, it is accepted."""
    lx, ly = _anchor_mm(686000, 7036000)
    p = _page(tmp_path, [], labels=[_label(lx, ly, "Lens")])
    one = np.array([[lx, ly, 0.8]])
    s = _sheet(p, frame_mm=LABEL_FRAME, extent=LENS_AREA, towns=_towns_table(), symbols=(one, ["puits"]))
    found = CHECKS["label-symbols"](s)
    assert len(found) == 1 and "although a clear place next to its commune exists" in found[0]
    crowd = np.array([[lx + dx, ly + dy, 0.8] for dx in np.arange(-14, 14.1, 1.5) for dy in np.arange(-7, 7.1, 1.5)])
    s.symbols = (crowd, ["puits"] * len(crowd))
    assert CHECKS["label-symbols"](s) == []
    s.towns = None                                   # a thematic label over the puits: always found
    assert CHECKS["label-symbols"](s)


def test_series_town_positions(tmp_path):
    """Two sheets of one frame with Lens 6 mm apart and nothing in the way: found on the
    second; a symbol of the second sheet at the first one's position is the reason."""
    lx, ly = _anchor_mm(686000, 7036000)
    towns = _towns_table()
    a = _page(tmp_path, [], "a.pdf", labels=[_label(lx, ly, "Lens")])
    b = _page(tmp_path, [], "b.pdf", labels=[_label(lx, ly - 6, "Lens")])
    kw = dict(frame_mm=LABEL_FRAME, extent=LENS_AREA, towns=towns, symbols=(np.zeros((0, 3)), []))
    sa, sb = Sheet(3, "a", "map", a, **kw), Sheet(4, "b", "map", b, **kw)
    found = SERIES_CHECKS["series-town-positions"]([sa, sb])
    assert [(s.number, d.split(" at ")[0]) for s, d in found] == [(4, "«Lens»")]
    assert "where p. 3 (same frame) prints it" in found[0][1]
    sb.circles = (np.array([[lx, ly, 3.0]]), ["généralistes"])          # its circle took Lens's place
    assert SERIES_CHECKS["series-town-positions"]([sa, sb]) == []
    sb.circles = None
    other = Sheet(4, "b", "map", b, **dict(kw, frame_mm=(20.0, 20.0, 190.0, 150.0)))     # another frame
    assert SERIES_CHECKS["series-town-positions"]([sa, other]) == []


def test_town_checks_on_a_real_sheet_made_wrong(built_gpkg, tmp_path, monkeypatch):
    """The GP sheet of the health atlas (p. 8) drawn by an engine made wrong on purpose —
    town names pushed 8 mm off their commune, no map subject (Lille bold like a seat of
    the basin) —: town-distance and town-context find it; as the atlas draws it, clean."""
    from mbm_sig.maps import labels as lb
    from mbm_sig.maps.recipe import load_recipe, render_recipe
    recipe = RECIPES / "sante_generalistes.yaml"
    town_table = lb.towns(built_gpkg)

    def sheet(name):
        info = render_recipe(load_recipe(recipe), built_gpkg, tmp_path / name)
        subject = map_sheet_info(recipe, {}, built_gpkg)[0].subject
        return Sheet(8, "généralistes", "map", read_pdf(tmp_path / name)[0], frame_mm=info.frame_mm,
                     extent=info.extent, towns=town_table, subject=subject)

    good = sheet("good.pdf")
    assert CHECKS["town-distance"](good) == [] and CHECKS["town-context"](good) == []
    near, layer_for = lb.near_candidates, lb.town_layer_for

    def drifting(*a, **k):
        k["subject"] = None
        layer = layer_for(*a, **k)
        layer.max_mm = 30.0
        return layer
    monkeypatch.setattr(lb, "_FRAME_TOWNS", {})
    monkeypatch.setattr(lb, "near_candidates", lambda x, y, ink, max_mm=3.0: near(x + 8.0, y, ink, 30.0))
    monkeypatch.setattr(lb, "town_layer_for", drifting)
    bad = sheet("bad.pdf")
    far = CHECKS["town-distance"](bad)
    assert any(d.startswith("«Lens» printed") for d in far), far
    bold = CHECKS["town-context"](bad)
    assert any(d.startswith("«Lille», outside the map's subject, printed bold") for d in bold), bold


def test_label_covered_on_a_real_sheet_made_wrong(built_gpkg, tmp_path, monkeypatch):
    """The GP sheet with its labels drawn under the map layers (z-order made wrong on
    purpose): the circles and fills painted after them cover Douai and Valenciennes; as
    the atlas draws it (labels above every symbol), clean."""
    from mbm_sig.maps import labels as lb
    from mbm_sig.maps.recipe import load_recipe, render_recipe
    recipe = RECIPES / "sante_generalistes.yaml"

    def sheet(name):
        info = render_recipe(load_recipe(recipe), built_gpkg, tmp_path / name)
        return Sheet(8, "généralistes", "map", read_pdf(tmp_path / name)[0], frame_mm=info.frame_mm,
                     extent=info.extent)

    assert CHECKS["label-covered"](sheet("good.pdf")) == []
    init = lb.LabelArtist.__init__

    def under(self, *a, **k):
        init(self, *a, **k)
        self.set_zorder(0.5)
    monkeypatch.setattr(lb.LabelArtist, "__init__", under)
    found = CHECKS["label-covered"](sheet("bad.pdf"))
    covered = {d.split("»")[0].lstrip("«") for d in found}
    assert {"Douai", "Valenciennes"} <= covered, found
