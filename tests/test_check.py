"""``mbm-sig check``: every check fails on a page made wrong on purpose and passes on the
same page made right; the checker runs on the real atlases."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from mbm_sig.check import CHECKS, Sheet, check_atlas, check_sheets, cli_check, map_sheet_info
from mbm_sig.check.pdf import read_pdf, text_only
try:
    from mbm_sig.maps.output import print_settings
except ImportError:                 # before the maps/output room
    from mbm_sig.maps.render import print_settings

A4 = (297 / 25.4, 210 / 25.4)


def _page(tmp_path, texts, name="p.pdf"):
    """A one-page PDF with texts: (x mm, y mm from the top, text, size pt, ha)."""
    with print_settings():
        fig = Figure(figsize=A4)
        for x, y, t, size, *ha in texts:
            fig.text(x / 297, 1 - y / 210, t, size=size, ha=(ha[0] if ha else "left"), va="baseline")
        path = tmp_path / name
        fig.savefig(path, format="pdf")
    return read_pdf(path)[0]


def _sheet(page, kind="map", **kw):
    return Sheet(1, "feuille d'essai", kind, page, **kw)


def test_pdf_reader_gives_each_text_with_its_size_and_box(tmp_path):
    p = _page(tmp_path, [(20, 30, "Lens", 8.0), (20, 60, "Douai", 6.5)])
    assert [(r.text, r.size) for r in p.runs] == [("Lens", 8.0), ("Douai", 6.5)]
    lens = p.runs[0]
    assert lens.bbox[0] == pytest.approx(20, abs=0.6) and lens.bbox[3] == pytest.approx(30 + 0.2 * 8 * 25.4 / 72, abs=0.3)
    assert text_only(b"q 1 0 0 1 5 5 cm 0 0 m 10 10 l S BT /F1 8 Tf (a) Tj ET Q") == \
        b"q\n1 0 0 1 5 5 cm\nBT /F1 8 Tf (a) Tj ET\nQ"


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


def test_frame(tmp_path):
    page = _page(tmp_path, [(48, 60, "Valenciennes", 8.0), (100, 60, "Anzin", 8.0)])
    frame = (50.0, 20.0, 150.0, 100.0)
    assert [d.split("»")[0] for d in CHECKS["frame"](_sheet(page, frame_mm=frame))] == ["«Valenciennes"]


def _legend(entries, kind="typo", title="Forme du terril"):
    return dict(kind=kind, title=title, labels=[e[0] for e in entries], entries=entries)


def test_legend_colours(tmp_path):
    page = _page(tmp_path, [])
    old = [("Arasé construit", "#c7b299", "o"), ("Arasé route", "#c7b299", "o"), ("Conique", "#3f2d20", "o")]
    new = [("Arasé", "#bdbdbd", "o"), ("Conique", "#3f2d20", "o")]
    assert "Arasé route" in CHECKS["legend-colours"](_sheet(page, legends=[_legend(old)]))[0]
    assert CHECKS["legend-colours"](_sheet(page, legends=[_legend(new)])) == []
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
    assert CHECKS["near-empty-table"](_sheet(short, "table", next_kind="table"))
    assert CHECKS["near-empty-table"](_sheet(short, "table", next_kind="map")) == []
    assert CHECKS["near-empty-table"](_sheet(full, "table", next_kind="table")) == []


def test_reader_text(tmp_path):
    bad = _page(tmp_path, [(20, 30, "Importer : mbm-sig import ssm_dispensaires FICHIER", 7.0),
                           (20, 40, "Source : data/sequelles_bilan.csv", 7.0)])
    found = CHECKS["reader-text"](_sheet(bad, "pending"))
    assert {d.split(":")[0] for d in found} >= {"a command line", "a file path", "a command argument"}
    good = _page(tmp_path, [(20, 30, "Données détenues par la CARMI Nord-Est, à demander au service statistique.", 7.0)],
                 "g.pdf")
    assert CHECKS["reader-text"](_sheet(good, "pending")) == []


def test_check_sheets_names_page_sheet_and_check(tmp_path):
    p = _sheet(_page(tmp_path, [(20, 30, "T042", 5.0)]))
    probs = check_sheets([p])
    assert [(x.page, x.sheet, x.check) for x in probs] == [(1, "feuille d'essai", "small-text")]
    assert str(probs[0]).startswith("p. 1 «feuille d'essai» [small-text]")


def test_legend_colours_of_a_real_sheet_made_wrong(built_gpkg, tmp_path):
    """The terril sheet with the colours of the layer definition before issue 11."""
    import yaml
    from pathlib import Path
    doc = yaml.safe_load(Path("atlases/maps/patri_terrils.yaml").read_text(encoding="utf-8"))
    doc["layers"][1]["var"] = "forme"
    doc["layers"][1]["colors"] = {"Conique": "#3f2d20", "Plat": "#8c6d46", "Arasé construit": "#c7b299",
                                  "Arasé route": "#c7b299", "Cavalier": "#bf812d"}
    bad = tmp_path / "terrils.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    info, legends, _ = map_sheet_info(bad, {}, built_gpkg)
    s = Sheet(1, "terrils", "map", read_pdf(_blank(tmp_path))[0], frame_mm=info.frame_mm, extent=info.extent,
              legends=legends)
    assert any("Arasé route" in d for d in CHECKS["legend-colours"](s))
    info, legends, _ = map_sheet_info(Path("atlases/maps/patri_terrils.yaml"), {}, built_gpkg)
    s.legends = legends
    assert CHECKS["legend-colours"](s) == []


def _blank(tmp_path):
    with print_settings():
        fig = Figure(figsize=A4)
        fig.savefig(tmp_path / "blank.pdf", format="pdf")
    return tmp_path / "blank.pdf"


def test_check_command_on_an_atlas(built_gpkg, capsys, monkeypatch):
    rep = check_atlas("patrimoine", catalogue=built_gpkg)
    assert rep.pages > 20
    printed = {p.check for p in rep.problems}
    assert printed <= set(CHECKS)
    monkeypatch.setattr("mbm_sig.check.check_atlas", lambda *a, **k: rep)
    code = cli_check(["patrimoine"])
    out = capsys.readouterr().out
    assert code == (0 if rep.clean else 1)
    assert ("clean" in out) == rep.clean
