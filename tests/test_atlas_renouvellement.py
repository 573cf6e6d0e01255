"""The renewal atlas (atlases/renouvellement.yaml, issue 6) rendered from the real-data
catalogue: page plan, bookmarks, the document's own summary figures on the séquelles chart
page, every concession of data/concessions.csv in the tables with its status, «emprise
approchée» on every page showing concessions, fonts embedded.

The figures of the document are written here again by hand (Chantier Séquelles minières,
«Bilan global et perspectives 2006»), independently of data/sequelles_bilan.csv."""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import pandas as pd
import pytest
from pypdf import PdfReader

from mbm_sig.config import FACTS_DIR

pytestmark = pytest.mark.skipif(not (shutil.which("pdftotext") and shutil.which("pdffonts")),
                                reason="poppler-utils (pdftotext, pdffonts) not installed")

ATLAS = "renouvellement"
CHART_TITLE = "Procédures de sortie des concessions, 2000–2006 : les chiffres du document"
SITUATION_TABLE = "Concessions du rapport : situation (emprise approchée)"
PROCEDURES_TABLE = "Concessions du rapport : procédures (emprise approchée)"
PUITS_TABLE = "Concessions des seuls puits (emprise approchée)"
CONCESSIONS_MAP = "Séquelles minières : sortie des concessions de charbon, situation fin 2005"


def norm(text: str) -> str:
    """One line of text: no-break spaces as spaces, whitespace collapsed."""
    # typographic apostrophes and no-break spaces compared as their plain forms
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def atlas(built_gpkg, tmp_path_factory):
    from mbm_sig.atlas.engine import render_atlas
    out = tmp_path_factory.mktemp("atlas-renouvellement")
    res = render_atlas(ATLAS, out_dir=out, catalogue=built_gpkg, progress=False, workers=2)
    text = subprocess.run(["pdftotext", "-layout", str(res.pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    pages = text.split("\f")[: res.pages]
    return res, PdfReader(res.pdf), pages


def pages_titled(pages, title):
    """Indices of the pages whose text carries ``title`` (not the table of contents)."""
    return [i for i, t in enumerate(pages) if title in norm(t) and "Sommaire" not in t]


def test_output_name_and_page_count_follow_the_plan(atlas, built_gpkg):
    from mbm_sig.atlas.engine import load_atlas, plan
    res, reader, _ = atlas
    assert res.pdf.name == "atlas-renouvellement.pdf"
    body, pending = plan(load_atlas(ATLAS), built_gpkg)
    assert not pending, pending
    n_toc = len(reader.pages) - len(body) - 2          # cover + … + sources
    assert n_toc == 1
    assert len(reader.pages) == res.pages == 1 + n_toc + len(body) + 1
    # the plan, counted independently from the catalogue
    ru = built_gpkg.read("renouvellement_urbain")
    n_erbm = int((ru["programme"] == "ERBM").sum())
    n_arr = len(built_gpkg.read("arrondissements", where={"bassin_minier": True}))
    assert n_arr == 4
    expected = (1 + n_arr + 1 + math.ceil(n_erbm / 46)      # basin map, arrondissements, tables (the
                #  two short tables of the projects named by the report share a page)
                + 2                                      # grands projets: map, table
                + 2 + 3)                                 # séquelles: map, chart, 3 tables
    assert len(body) == expected
    assert sum(p.kind == "map" for p in body) == res.sheets == 7
    assert sum(p.kind == "chart" for p in body) == 1


def test_bookmarks_name_sections_and_sheets(atlas):
    _, reader, _ = atlas

    def titles(items):
        for it in items:
            if isinstance(it, list):
                yield from titles(it)
            else:
                yield it.title
    found = list(titles(reader.outline))
    for t in ("Sommaire", "Renouvellement urbain", "Grands projets", "Séquelles minières",
              "Renouvellement urbain et rénovation des cités minières",
              "Arrondissement de Béthune : projets de renouvellement urbain",
              "Arrondissement de Douai : projets de renouvellement urbain",
              "Arrondissement de Lens : projets de renouvellement urbain",
              "Arrondissement de Valenciennes : projets de renouvellement urbain",
              "Grands projets du bassin minier (situation 2005)", CONCESSIONS_MAP, CHART_TITLE,
              SITUATION_TABLE, PROCEDURES_TABLE, PUITS_TABLE, "Sources et méthodes"):
        assert t in found, f"bookmark {t!r} missing ({found})"


def test_sequelles_chart_prints_the_documents_own_figures(atlas):
    _, _, pages = atlas
    (i,) = pages_titled(pages, "les chiffres du document")
    t = norm(pages[i])
    # situation in 2000, 2000–2005, left for 2006: the document's figures, labelled as such
    assert ("Chiffres du document : 2 concessions en procédure complète, 15 en arrêt seul, "
            "27 sans procédure (+ Dourges, arrêt en cours d'instruction)") in t
    assert ("Chiffres du document : de fin 2000 à 2005, 28 arrêts de travaux, 13 renonciations "
            "directes, 16 renonciations après arrêt") in t
    assert "Chiffres du document : 2 + 12 dossiers nommés pour 2006" in t
    assert "rapport d'activité 2005 de la Mission Bassin Minier" in t
    # the source section of each panel
    assert t.count("Source : rapport d'activité 2005, Chantier Séquelles minières, Bilan global et perspectives 2006") >= 3
    assert "2] Bilan 2005 des sorties de concessions" in t
    # the bars carry the same numbers
    for label, value in (("procédure complète", 2), ("arrêt de travaux seul", 15), ("aucune procédure", 27),
                         ("arrêts de travaux", 28), ("renonciations directes", 13),
                         ("renonciations après arrêt", 16)):
        assert re.search(rf"{re.escape(label)} {value}\b", t), (label, value)
    for n in ("dont 7 en 2005", "dont 4 en 2005", "dont 9 en 2005"):
        assert n in t
    # the 14 files named for 2006
    for name in ("Fergues", "Hardinghen", "Anzin", "Bruay-Labuissière", "Cauchy-la-Tour", "Ferfay",
                 "Fresnes-sur-Escaut", "Grenay", "Marles", "Nœux-les-Mines", "Odomez", "Raismes",
                 "Thivencelle", "Vieux-Condé"):
        assert name in t


def _table_lines(pages, title):
    idx = pages_titled(pages, title)
    assert idx, f"no page titled {title!r}"
    return [norm(line) for i in idx for line in pages[i].splitlines()]


def test_every_named_concession_is_in_the_tables_with_its_status(atlas, built_gpkg):
    _, _, pages = atlas
    facts = pd.read_csv(FACTS_DIR / "concessions.csv", dtype=str, keep_default_na=False)
    numero = dict(zip(built_gpkg.read("concessions")["nom"], built_gpkg.read("concessions")["numero"],
                      strict=True))
    situation = _table_lines(pages, SITUATION_TABLE)
    procedures = _table_lines(pages, PROCEDURES_TABLE)
    for r in facts.itertuples():
        nom = f"{numero[r.nom]} {norm(r.nom)}"      # each row opens with the map's number
        rows = [ln for ln in situation if ln.startswith(nom + " ")]
        assert len(rows) == 1, (r.nom, rows)
        assert f" {norm(r.statut_2000)} " in rows[0] + " " and f" {norm(r.statut_2005)} " in rows[0] + " ", rows[0]
        rows = [ln for ln in procedures if ln.startswith(nom + " ")]
        assert len(rows) == 1, (r.nom, rows)
        assert rows[0] == norm(f"{numero[r.nom]} {r.nom} {r.arret_travaux} {r.renonciation}"), rows[0]
    assert not any("…" in ln for ln in situation + procedures)      # nothing cut


def test_concessions_named_only_by_the_shafts_are_non_renseigne(atlas, built_gpkg):
    _, _, pages = atlas
    con = built_gpkg.read("concessions", where={"dans_rapport": False})
    assert len(con)
    lines = _table_lines(pages, PUITS_TABLE)
    # every one «non renseigné»: said once under the title, not on each row (a constant column)
    assert set(con["statut_2005"]) == {"non renseigné"}
    assert any(ln.startswith("Situation fin 2005 : non renseigné") for ln in lines), lines[:5]
    for nom, num in zip(con["nom"], con["numero"], strict=True):
        rows = [ln for ln in lines if ln.startswith(f"{num} {norm(nom)} ")]
        assert len(rows) == 1 and not rows[0].endswith("non renseigné"), (nom, rows)


def test_emprise_approchee_on_every_page_showing_concessions(atlas):
    _, _, pages = atlas
    (m,) = pages_titled(pages, CONCESSIONS_MAP)
    t = norm(pages[m])
    assert "Fin 2005 (emprise approchée) — hachures : emprise non" in t    # legend title (wrapped)
    assert "emprise approchée d'après les puits de mines" in t    # subtitle
    assert "Emprise approchée, non réglementaire" in t            # credits
    # pages that show concessions: the map, the tables (columns «N°», «Concession»), any other page
    # drawing the layer's legend
    showing = {m} | {i for i, p in enumerate(pages)
                     if i > 1 and (re.search(r"^\s*(N°\s+)?Concession\s", p, re.M) or "hachures : emprise" in norm(p))}
    assert showing >= {m, *pages_titled(pages, SITUATION_TABLE), *pages_titled(pages, PROCEDURES_TABLE),
                       *pages_titled(pages, PUITS_TABLE)}
    assert len(showing) >= 4
    for i in showing:
        assert "emprise approchée" in norm(pages[i]).lower(), f"page {i + 1} shows concessions without the flag"


def test_credits_trace_facts_to_the_report_sections(atlas):
    """Facts cite the report's section; readers get no file path (issue 11, point 8)."""
    _, _, pages = atlas
    for title in ("Renouvellement urbain et rénovation des cités minières",
                  "Grands projets du bassin minier (situation 2005)", CONCESSIONS_MAP):
        (i,) = pages_titled(pages, title)
        t = norm(pages[i]).replace("- ", "-")
        assert "rapport d’activité 2005" in t or "rapport d'activité 2005" in t, title
        assert "section du rapport qui" in t            # each fact with the section of the report naming it
        assert "data/" not in t and ".csv" not in t, title


def test_fonts_are_embedded(atlas):
    res, _, _ = atlas
    out = subprocess.run(["pdffonts", str(res.pdf)], capture_output=True, text=True, check=True).stdout
    rows = out.splitlines()[2:]
    assert rows
    for row in rows:
        cols = row.split()
        # columns: name, type (may be two words), encoding, emb, sub, uni, object ID
        assert cols[-5] == "yes", row


def test_concessions_map_numbers_its_concessions_and_keeps_missing_values_quiet(built_gpkg):
    """p13: each concession's number (the tables' «N°» column) printed on the map through the
    label engine, most of those inside the frame placed; «non renseigné» a light class with its
    count, a neutral light grey against the coloured states; no concession cut by the frame."""
    from pathlib import Path

    import shapely
    from mbm_sig.check import map_sheet_info
    recipe = Path(__file__).resolve().parents[1] / "atlases" / "maps" / "renouv_concessions.yaml"
    info, _, _ = map_sheet_info(recipe, {}, built_gpkg)
    con = built_gpkg.read("concessions")
    assert sorted(con["numero"]) == list(range(1, len(con) + 1))            # one number each
    in_report = con.sort_values("numero")["dans_rapport"].astype(bool).tolist()
    assert in_report == sorted(in_report, reverse=True)                       # report's first, as the tables
    numbers = [lab for lab in info.labels if lab["layer"] != "toponymes"]
    assert numbers and all(lab["text"].isdigit() and lab["size"] >= 6 for lab in numbers)
    assert len({lab["text"] for lab in numbers}) == len(numbers)             # each once
    x0, y0, x1, y1 = info.extent
    inside = con[shapely.intersects(con.geometry.values, shapely.box(x0, y0, x1, y1))]
    assert len(numbers) >= 0.8 * len(inside), (len(numbers), len(inside))
    # nothing of a concession cut by the frame (the two of the Boulonnais lie wholly outside)
    assert all(shapely.within(g, shapely.box(x0, y0, x1, y1)) for g in inside.geometry.values)
    entries = [e for lg in info.legends for e in lg["entries"]]
    on_map = con[shapely.intersects(con.geometry.values, shapely.box(x0, y0, x1, y1))]
    n_missing = int((on_map["statut_2005"] == "non renseigné").sum())
    assert n_missing and f"non renseigné ({n_missing})" in entries, entries
    for state, n in on_map["statut_2005"].value_counts().items():
        assert f"{state} ({n})" in entries                                   # every class counted
    # the missing class quiet: a neutral light grey (CIE L* above 90, no hue), the states in colour
    import yaml
    from mbm_sig.maps.colorcheck import lab as cielab
    doc = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    quiet = next(lay["colors"]["non renseigné"] for lay in doc["layers"] if "non renseigné" in (lay.get("colors") or {}))
    states = yaml.safe_load((Path(__file__).resolve().parents[1] / "layers" / "concessions.yaml")
                            .read_text(encoding="utf-8"))["style"]["categories"]["colors"]
    L, a, b = cielab(quiet)
    assert L > 90 and math.hypot(a, b) < 3, (quiet, L, a, b)
    assert all(math.hypot(*cielab(states[st])[1:]) > 10 for st in set(on_map["statut_2005"]) - {"non renseigné"})


def test_displaced_points_spread_on_a_ring_and_lone_points_stay():
    import numpy as np

    from mbm_sig.maps.types.symbols import displaced
    xy = np.array([[0.0, 0.0], [0.0, 0.0], [1000.0, 0.0], [10.0, 0.0], [5000.0, 5000.0]])
    out = displaced(xy, symbol_mm=2.5, ring_mm=3.0, m_per_mm=100.0)   # 2.5 mm = 250 m apart
    assert (out[4] == xy[4]).all() and (out[2] == xy[2]).all()          # alone: unmoved
    ring = out[[0, 1, 3]]
    centre = xy[[0, 1, 3]].mean(axis=0)
    r = np.hypot(*(ring - centre).T)
    assert np.allclose(r, r[0]) and r[0] >= 300 - 1e-6                   # one ring, ≥ 3 mm
    d = np.hypot(*(ring[:, None] - ring[None]).transpose(2, 0, 1))
    assert d[np.triu_indices(3, 1)].min() > 250                           # the symbols no longer touch
    assert out[0, 1] > centre[1]                                          # the first at the top


def test_projects_at_one_place_all_show_with_their_numbers(built_gpkg):
    """p3/p6: RU-03 (ANRU) and RU-14 both at Annay's centre, RU-10/11/12 in Lens–Noyelles: each
    symbol drawn apart from the others on the Lens sheet, each with its number (the N° column
    of the projects' table), labels beside their own symbol."""
    from pathlib import Path

    import numpy as np

    from mbm_sig.check import map_sheet_info
    from mbm_sig.maps.draw import render
    from mbm_sig.maps.recipe import build_map, load_recipe
    recipe = Path(__file__).resolve().parents[1] / "atlases" / "maps" / "renouv_arrondissement.yaml"
    info, _, _ = map_sheet_info(recipe, {"code": "627", "nom": "Lens"}, built_gpkg)
    numbers = {lab["text"] for lab in info.labels if lab["text"].startswith("RU-")}
    assert {"RU-03", "RU-14", "RU-10", "RU-11", "RU-12"} <= numbers, numbers
    assert not [u for u in info.unplaced_labels if u["text"].startswith("RU-")]
    m, _ = build_map(load_recipe(recipe, {"code": "627", "nom": "Lens"}), built_gpkg)
    render(m)
    (L,) = [L for L in m._layers if L.type == "symbols"]
    ids = list(L.source["id"])
    mm = info.scale / 1000                                                # m per mm on paper
    pts = {i: L.displace[1][ids.index(i)] for i in ("RU-03", "RU-14", "RU-10", "RU-11", "RU-12")}
    orig = {i: L.anchors[ids.index(i)] for i in pts}
    assert np.allclose(orig["RU-03"], orig["RU-14"])                      # the data: one place
    size_mm = 7.0 * 25.4 / 72
    for a in pts:
        for b in pts:
            if a < b:
                assert np.hypot(*(pts[a] - pts[b])) / mm > size_mm, (a, b)   # drawn apart


def test_grands_projets_map_names_its_sites_with_symbols_of_one_size(built_gpkg):
    """p11: each of the six projects named on the map, drawn as one symbol of one size (no
    proportional disc for a single surface), and the legend lists what is drawn: no «sans
    symbole» entry, a shape for each way of locating a site."""
    from pathlib import Path

    from mbm_sig.check import map_sheet_info
    recipe = Path(__file__).resolve().parents[1] / "atlases" / "maps" / "renouv_grands_projets.yaml"
    info, _, _ = map_sheet_info(recipe, {}, built_gpkg)
    gp = built_gpkg.read("grands_projets")
    names = {norm(lab["text"]) for lab in info.labels if lab["layer"] != "toponymes"}
    assert names == {norm(n) for n in gp["nom"]}, names
    assert not [lg for lg in info.legends if lg["kind"] == "prop"]
    entries = [e for lg in info.legends for e in lg.get("entries", [])]
    assert not [e for e in entries if "sans symbole" in e or "Pas de données" in e], entries
    (shapes,) = [lg for lg in info.legends if lg["title"] == "Localisation"]
    assert len(shapes["entries"]) == gp["precision"].nunique()
    sizes = {round(s["width_mm"], 2) for s in info.symbols.values()}
    assert len(sizes) <= 2                          # one size (a star and a circle of it)
    assert str(gp.set_index("nom").at["Cokerie de Drocourt", "surface_ha"]) == "160"    # no «160,0»
