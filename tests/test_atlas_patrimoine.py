"""Atlas patrimoine (issue 5): the book rendered from the real-data catalogue, and the
«carte d'identité» of a cité (``mbm-sig fiche cite ID``)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("pdffonts"),
                                reason="poppler-utils (pdftotext, pdffonts) not installed")



def _text(pdf, page=None) -> str:
    args = ["pdftotext", "-layout"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run(args + [str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _basin_epcis(cat) -> list[tuple[str, str]]:
    """(siren, name) of the EPCI of the basin: the sections the covered section must make."""
    e = cat.read("epci", where={"bassin_minier": True})
    holding = set(cat.read("cites_minieres")["epci_siren"].dropna()) | set(cat.read("terrils")["epci_siren"].dropna())
    e = e[e["siren"].isin(holding)]                                           # with cités or terrils
    e = e.assign(x=e.geometry.representative_point().x).sort_values("x")      # west to east
    return list(zip(e["siren"], e["nom"]))


@pytest.fixture(scope="module")
def atlas(built_gpkg, tmp_path_factory):
    from mbm_sig.atlas.engine import load_atlas, plan, render_atlas
    out = tmp_path_factory.mktemp("atlas-patrimoine")
    res = render_atlas("patrimoine", out_dir=out, catalogue=built_gpkg, progress=False, workers=2)
    body, pending = plan(load_atlas("patrimoine"), built_gpkg)
    return res, body, pending


def test_page_count_toc_and_bookmarks(atlas):
    from pypdf import PdfReader
    res, body, pending = atlas
    # only the trame verte sheets wait (the layer is filled by import)
    assert {i["title"] for i in pending} == {"La trame verte du bassin minier",
                                             "Véloroutes et voies vertes du bassin minier", "Le GRP « Bassin minier »"}
    reader = PdfReader(res.pdf)
    from mbm_sig.atlas import pages
    n_toc = len(pages.toc_chunks([e.level for e in res.toc]))
    n_sources = len(reader.pages) - (1 + n_toc + len(body) + 1)          # + the pending page
    assert len(reader.pages) == res.pages and 1 <= n_sources <= 3      # sources continue when long
    outline = reader.outline
    top = [o.title for o in outline if not isinstance(o, list)]
    assert "Le bassin minier, patrimoine mondial" in top
    assert "Sources et méthodes" in top
    toc = _text(res.pdf, 2)
    assert "Sommaire" in toc and "Les cités minières par type" in toc


def test_one_section_per_basin_epci(atlas, built_gpkg):
    from pypdf import PdfReader
    res, body, _ = atlas
    epcis = _basin_epcis(built_gpkg)
    cites = built_gpkg.read("cites_minieres")
    # one section per basin EPCI (every EPCI holding cités among them), named as in the catalogue
    holding = set(cites["epci_siren"].dropna())
    assert holding <= {s for s, _ in epcis} and len(epcis) >= len(holding)
    reader = PdfReader(res.pdf)
    outline = reader.outline
    top = [o.title for o in outline if not isinstance(o, list)]
    for siren, title in epcis:
        assert title in top
        pages = [p for p in body if p.section == title]
        assert pages[0].kind == "chart" and pages[0].title == f"{title} : carte du patrimoine minier"
        tables = [p for p in pages[1:] if p.kind == "table" and p.title == f"{title} : fiche des cités"]
        assert tables and all(p.kind == "table" for p in pages[1:])
        # then the fiche des terrils (the «T…» numbers the maps print), on its page or sharing the last
        # page of the cités' fiche
        terrils = [q for p in pages[1:] for q in [p, *p.shared] if q.title == f"{title} : fiche des terrils"]
        got = sorted(r["no_terril"] for q in terrils for r in q.rows)
        assert got == sorted(built_gpkg.read("terrils", where={"epci_siren": siren})["no_terril"]), title
        # listed in the contents and the bookmarks, also when it shares a longer table's last page
        assert f"{title} : fiche des terrils" in [e.title for e in res.toc]
        marks = [o.title for o in outline[outline.index(next(o for o in outline if getattr(o, "title", None) == title)) + 1]]
        assert f"{title} : fiche des terrils" in marks, marks
        # the table holds exactly the cités of the EPCI in the catalogue
        rows = [r for p in tables for r in p.rows]
        expected = cites[cites["epci_siren"] == siren]
        # (a name repeated with nothing to tell the rows apart is numbered: «(1 sur 2)»)
        assert sorted(re.sub(r" \(\d+ sur \d+\)$", "", r["nom"]) for r in rows) == sorted(expected["nom"])
        from mbm_sig.atlas import pages as book
        # pages cut by wrapped height, as few as the page holds, shared evenly
        assert len(tables) == len(book.paginate(tables[0].spec.table["columns"], rows))
        fills = [book._page_fill(tables[0].spec.table["columns"], p.rows) for p in tables]
        # (a table that fits one page with closer lines stays on one page: TIGHT_LINES)
        assert max(fills) <= (book.TIGHT_LINES if len(fills) == 1 else book.TABLE_LINES) and (
            len(fills) == 1 or min(fills) >= 0.6 * max(fills)), fills


def test_counts_printed_match_catalogue(atlas, built_gpkg):
    res, body, _ = atlas
    for siren, title in _basin_epcis(built_gpkg):
        page = next(p for p in body if p.section == title and p.kind == "chart")
        text = re.sub(r"\s+", " ", _text(res.pdf, page.number))
        n = {layer: len(built_gpkg.read(layer, where={"epci_siren": siren}))
             for layer in ("cites_minieres", "terrils", "puits", "patrimoine_bati")}
        assert f"{n['cites_minieres']} cités minières et {n['terrils']} terrils" in text, text[:400]
        assert f"{n['puits']} anciens puits de mines, {n['patrimoine_bati']} éléments de bâti" in text
        # the first table page of the section names cités of the EPCI (or says there are none)
        table = next(p for p in body if p.section == title and p.kind == "table")
        first = str(table.rows[0]["nom"])[:20] if table.rows else "Aucune entrée."
        assert re.sub(r"\s+", " ", first) in re.sub(r"\s+", " ", _text(res.pdf, table.number))


def test_fiches_of_protected_cites_and_fonts(atlas, built_gpkg):
    res, body, _ = atlas
    protected = built_gpkg.read("cites_minieres", where={"inscrit_mh": True})
    fiches = [p for p in body if p.kind == "chart" and p.spec.table["name"] == "fiche_cite"]
    assert len(fiches) == len(protected) > 0
    text = _text(res.pdf, fiches[0].number)
    assert "CARTE D’IDENTITÉ" in text and "Inscrite monument historique" in text
    fonts = subprocess.run(["pdffonts", str(res.pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(re.search(r"\byes\s+yes\s+(yes|no)\s+\d+\s+\d+\s*$", r) for r in rows), fonts
    assert "Type 3" not in fonts


def test_fiche_cli_real_cite(built_gpkg, tmp_path, capsys):
    from mbm_sig.atlas.fiche import cli_fiche
    cites = built_gpkg.read("cites_minieres").sort_values("id")
    r = cites[cites["perimetre"] == "Bien inscrit"].iloc[0]
    out = tmp_path / "fiche.pdf"
    assert cli_fiche(["cite", r["id"], "-o", str(out), "--db", built_gpkg.url]) == 0
    text = re.sub(r"\s+", " ", _text(out))
    assert r["nom"] in text and r["id"] in text
    for label in ("Type de cité", "Compagnie minière", "Intérêt patrimonial", "Protection MH", "Périmètre UNESCO",
                  "Bailleur", "Cité ERBM", "État du bâti", "Forme urbaine", "Espaces publics",
                  "Typologie des logements", "Dates de rénovation", "Sources :", "Réalisation :"):
        assert label in text, label
    assert f"{r['type']}" in text and f"{r['compagnie']}" in text and "Bien inscrit" in text
    assert "non renseigné" in text            # the inventory fields are empty in the open data
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    assert "Type 3" not in fonts


def test_fiche_unknown_id_fails_clearly(built_gpkg, capsys):
    from mbm_sig.atlas.fiche import FicheError, cli_fiche, find_cite
    assert cli_fiche(["cite", "BI-9999", "--db", built_gpkg.url]) == 2
    err = capsys.readouterr().err
    assert "no cité with id 'BI-9999'" in err and "close:" in err and "BI-0" in err
    with pytest.raises(FicheError, match="close:"):
        find_cite(built_gpkg, "Cité imaginaire")


def test_table_cells_are_one_line():
    from mbm_sig.atlas.pages import _cell
    assert _cell("Cité des Fleurs\n(partie\tnord)") == "Cité des Fleurs (partie nord)"
    assert _cell(1234.5) == "1\u202f234,5" and _cell(True) == "oui" and _cell(None) == ""


def test_trame_verte_sheets_wait_for_the_import_then_render(atlas, built_gpkg, tmp_path):
    """Trame verte, véloroutes and GRP sheets: listed as waiting while the layer is empty
    (with who holds the data), rendered once a file is imported (issue 11, point 10)."""
    import json
    import shutil
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.maps.recipe import render_recipe
    res, body, pending = atlas
    waiting = {i["title"]: i for i in pending}
    for t in ("La trame verte du bassin minier", "Véloroutes et voies vertes du bassin minier",
              "Le GRP « Bassin minier »"):
        assert t in waiting and "Départements du Nord et du Pas-de-Calais" in waiting[t]["holder"]
    assert any(p.title == "Circuit découverte du patrimoine minier" for p in body)
    copy = tmp_path / "c.gpkg"
    shutil.copyfile(built_gpkg.backend.path, copy)
    cat = Catalogue.open(str(copy))
    feats = [("VV-1", "Véloroute Dourges–Artres", "Véloroute voie verte", "En projet",
              [(690000, 7035000), (730000, 7030000)]),
             ("GRP-1", "GRP Bassin minier", "GRP", "Existant", [(650000, 7040000), (690000, 7038000)]),
             ("C-1", "Corridor de la chaîne des terrils", "Corridor écologique", None,
              [(660000, 7045000), (700000, 7036000)])]
    gj = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:2154"}},
          "features": [{"type": "Feature", "properties": {"id": i, "nom": n, "type": t, "statut": s},
                        "geometry": {"type": "LineString", "coordinates": c}} for i, n, t, s, c in feats]}
    src = tmp_path / "trame.geojson"
    src.write_text(json.dumps(gj), encoding="utf-8")
    cat.import_file("trame_verte", str(src))
    expect = {"trame_verte.yaml": {"Véloroute voie verte", "GRP", "Corridor écologique"},
              "trame_veloroutes.yaml": {"En projet"}, "trame_grp.yaml": {"GRP"}}
    for recipe, entries in expect.items():
        info = render_recipe(f"atlases/maps/{recipe}", cat, tmp_path / f"{recipe}.pdf")
        shown = {e for lg in info.legends if lg["kind"] == "typo" for e in lg["entries"]}
        assert entries <= shown, (recipe, shown)


def test_cover_says_what_its_counts_are(built_gpkg):
    """The cover's «109 éléments» says what they are and is counted in the catalogue (the
    inscribed property's layer, the inventory's cités and terrils of the property); no cover
    speaks of «fiches de faits»; a count of a layer that does not exist names the atlas."""
    from dataclasses import replace

    from mbm_sig.atlas import pages
    from mbm_sig.atlas.engine import AtlasError, load_atlas
    atlas = load_atlas("patrimoine")
    text = " ".join(pages.with_counts(atlas, built_gpkg))
    n = len(built_gpkg.read("unesco_bien_inscrit"))
    cites = len(built_gpkg.read("cites_minieres", where={"perimetre": "Bien inscrit"}))
    assert f"se compose de {n} éléments, chacun un périmètre de la liste de l'UNESCO" in text
    assert f"y recense {cites} cités" in text and "{n:" not in text
    for name in ("sante", "patrimoine", "renouvellement"):
        assert not any("fiche de faits" in t for t in load_atlas(name).cover_notes), name
    wrong = replace(atlas, cover_notes=["{n:nosuchlayer} éléments"])
    with pytest.raises(AtlasError, match="cover_notes: {n:nosuchlayer}"):
        pages.with_counts(wrong, built_gpkg)
