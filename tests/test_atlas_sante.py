"""The health atlas end to end: page count, bookmarks, TOC numbers, fonts, page sizes, the
per-arrondissement pages, figures against the catalogue, sheets waiting for data."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from pypdf import PdfReader

from mbm_sig.atlas.engine import AtlasError, load_atlas, plan, render_atlas
from mbm_sig.maps import fmt

A4_PT = sorted((595.28, 841.89))


@pytest.fixture(scope="module")
def atlas(built_gpkg, tmp_path_factory):
    out = tmp_path_factory.mktemp("atlas-sante")
    res = render_atlas("sante", out_dir=out, catalogue=built_gpkg, progress=False, workers=2, sheets=True)
    return res, PdfReader(res.pdf)


def page_text(pdf_path, n):
    return subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), "-layout", str(pdf_path), "-"],
                          capture_output=True, text=True, check=True).stdout


def test_page_count_matches_plan(atlas, built_gpkg):
    res, reader = atlas
    body, pending = plan(load_atlas("sante"), built_gpkg)
    n_toc = 1
    assert len(reader.pages) == res.pages == 1 + n_toc + len(body) + (1 if pending else 0) + 1
    # the sheets the issue asks for are all there
    titles = " | ".join(p.title for p in body)
    for expected in ("Population communale et part des 65 ans et plus", "Structure par âge",
                     "bâtiments de santé SSM du patrimoine minier", "Hôpitaux", "médecine générale", "médecine spécialisée",
                     "Distance au plus proche établissement de médecine générale",
                     "Distance au plus proche hôpital", "Arrondissement de Lens", "Arrondissement de Douai",
                     "Arrondissement de Béthune", "Arrondissement de Valenciennes"):
        assert expected in titles, expected


def test_every_page_is_a4_and_fonts_embedded(atlas):
    res, reader = atlas
    for k, page in enumerate(reader.pages):
        size = sorted((float(page.mediabox.width), float(page.mediabox.height)))
        assert size == pytest.approx(A4_PT, abs=0.5), (k + 1, size)
    fonts = subprocess.run(["pdffonts", str(res.pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows, fonts
    for row in rows:
        cols = row.split()
        assert cols[-5] == "yes", row        # the "emb" column
    # the pages embed the same print-font programs, stored once in the book (not one per page)
    programs = set()
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            desc = f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
            programs.add(desc.raw_get("/FontFile2").idnum)
    assert 2 <= len(programs) <= 8 < len(reader.pages), programs


def test_bookmarks_one_per_sheet(atlas, built_gpkg):
    res, reader = atlas
    body = res.body

    def flatten(items, out):
        for it in items:
            if isinstance(it, list):
                flatten(it, out)
            else:
                out.append((it.title, reader.get_destination_page_number(it) + 1))
        return out
    marks = flatten(reader.outline, [])
    titles = [t for t, _ in marks]
    for p in body:
        if p.part == 1:
            assert p.title in titles, p.title
    for p in body:
        if p.part == 1:
            assert (p.title, p.number) in marks
    assert "Sources et méthodes" in titles and "Sommaire" in titles


def test_toc_page_numbers_match(atlas):
    res, reader = atlas
    toc = page_text(res.pdf, 2)
    entries = re.findall(r"^\s*(Arrondissement de \w+|Distance au plus proche hôpital|Sources et méthodes)\s+(\d+)\s*$",
                         toc, flags=re.M)
    assert len(entries) >= 6, toc
    for title, number in entries:
        assert title in page_text(res.pdf, int(number)), (title, number)


def test_arrondissement_pages_show_the_right_communes(atlas, built_gpkg):
    res, reader = atlas
    body = res.body
    lens_table = [p for p in body if p.kind == "table" and p.title.startswith("Arrondissement de Lens")]
    douai_table = [p for p in body if p.kind == "table" and p.title.startswith("Arrondissement de Douai")]
    lens_text = "".join(page_text(res.pdf, p.number) for p in lens_table)
    douai_text = "".join(page_text(res.pdf, p.number) for p in douai_table)
    assert "62498" in lens_text and "59178" not in lens_text
    assert "59178" in douai_text and "62498" not in douai_text
    lens_map = next(p for p in body if p.kind == "map" and p.title.startswith("Arrondissement de Lens"))
    assert body[body.index(lens_map) + 1] is lens_table[0]           # the table follows its map
    text = page_text(res.pdf, lens_map.number)
    assert "Liévin" in text and "Hénin-Beaumont" in text        # labels of the arrondissement's communes
    assert "Sin-le-Noble" not in text                            # a commune of Douai's arrondissement


def test_figures_match_the_catalogue(atlas, built_gpkg):
    res, reader = atlas
    lens = built_gpkg.read("indicateurs_communes", where={"insee": "62498"}).iloc[0]
    body = res.body
    pages = [p for p in body if p.kind == "table" and p.title.startswith("Arrondissement de Lens")]
    text = "".join(page_text(res.pdf, p.number) for p in pages)
    line = next(ln for ln in text.splitlines() if "62498" in ln)

    def plain(s):   # pdftotext renders the narrow no-break space as a space
        return s.replace("\u202f", " ").replace("\u00a0", " ")
    assert plain(fmt.num(int(lens["pop_65p"]))) in line        # «6 438»
    assert plain(fmt.num(int(lens["population"]))) in line
    assert fmt.num(lens["part_65p"], 1) in line


def test_gp_sheets_say_establishments_not_doctors(atlas, built_gpkg):
    res, _ = atlas
    for p in res.body:
        if p.kind == "map" and ("générale" in p.title or "spécialisée" in p.title):
            text = " ".join(page_text(res.pdf, p.number).split())
            assert "pas des médecins" in text or "pas médecins" in text, p.title
            assert "SIRENE" in text


def test_pending_page_says_what_is_missing_and_who_holds_it(atlas):
    res, reader = atlas
    titles = [i["title"] for i in res.pending]
    assert "Part de la population bénéficiant de la CMU complémentaire" in titles
    # the commands go to the command's output, not to the reader
    assert all(i["command"].startswith("mbm-sig import ") for i in res.pending)
    n = next(k + 1 for k in range(len(reader.pages)) if "Cartes en attente de données" in page_text(res.pdf, k + 1)
             and k > 1)
    text = " ".join(page_text(res.pdf, n).split())
    assert "mbm-sig" not in text and "FICHIER" not in text and "sante_communes_import" not in text
    assert "CMU" in text and "Données manquantes" in text
    assert "Détenteur : Filieris" in text and "Assurance maladie" in text


def test_sources_page_lists_vintages_and_licences(atlas):
    res, reader = atlas
    text = page_text(res.pdf, len(reader.pages))
    assert "Sources et méthodes" in text
    assert "RP 2021" in text and "Licence Ouverte" in text and "SIRENE" in text
    full = " ".join(" ".join(page_text(res.pdf, k) for k in range(len(reader.pages) - 2, len(reader.pages) + 1)).split())
    assert "Méthodes de représentation" in full and "Q6" in full and "Quantiles" in full
    assert ".lzma" not in full and "pypi" not in full


def test_sheet_files_named_by_pattern(atlas):
    res, _ = atlas
    names = {f.name for f in res.sheet_files}
    assert {"sante-arrondissement-627.pdf", "sante-arrondissement-593.pdf"} <= names


def test_broken_sheet_names_sheet_and_leaves_no_atlas(built_gpkg, tmp_path):
    bad_recipe = tmp_path / "maps" / "bad.yaml"
    bad_recipe.parent.mkdir()
    bad_recipe.write_text("title: Carte cassée\nlayers:\n  - layer: communes\n    type: choro\n"
                          "    var: inexistant\n", encoding="utf-8")
    atlas = tmp_path / "casse.yaml"
    atlas.write_text("title: Atlas cassé\noutput: casse.pdf\nsections:\n  - title: S\n    sheets:\n"
                     "      - recipe: maps/bad.yaml\n", encoding="utf-8")
    with pytest.raises(AtlasError, match=r"sheet «Carte cassée» \(recipe .*bad.yaml\) failed"):
        render_atlas(atlas, out_dir=tmp_path / "out", catalogue=built_gpkg, progress=False, workers=1)
    assert not (tmp_path / "out" / "casse.pdf").exists()
    assert not list((tmp_path / "out").glob("*.part"))


def test_without_mirror_registry_sheets_still_render(tmp_path):
    """No data directory: the sheets from registry packages render, the rest wait for data."""
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.catalogue.build import build
    cat = Catalogue.open(str(tmp_path / "c.gpkg"))
    build(cat, data_dir=tmp_path / "no-mirror", progress=False)
    res = render_atlas("sante", out_dir=tmp_path / "out", catalogue=cat, progress=False, workers=2,
                       only=["Population communale et part des 65 ans et plus", "Arrondissement de Lens",
                             "Hôpitaux et établissements de santé"])
    assert res.pdf.exists() and res.sheets >= 2
    waiting = {i["title"] for i in res.pending}
    assert "Hôpitaux et établissements de santé" in waiting
    assert any("mbm-sig fetch" in i["command"] for i in res.pending)


def test_demo_fills_waiting_sheets_stamped_fictive(built_gpkg, tmp_path):
    res = render_atlas("sante", out_dir=tmp_path, catalogue=built_gpkg, progress=False, workers=2, demo=True,
                       only=["Part de la population bénéficiant de la CMU complémentaire",
                             "Centres de santé, antennes et lieux de consultation des SSM",
                             "Population communale et part des 65 ans et plus"])
    assert res.pdf.name == "atlas-sante-demo.pdf" and res.pending == []
    by_title = {p.title: p.number for p in res.body}
    cmu = page_text(res.pdf, by_title["Part de la population bénéficiant de la CMU complémentaire"])
    ssm = page_text(res.pdf, by_title["Centres de santé, antennes et lieux de consultation des SSM"])
    real = page_text(res.pdf, by_title["Population communale et part des 65 ans et plus"])
    for text in (cmu, ssm):
        assert "FICTIVES" in text.upper()          # the stamp and the credits note
    assert "FICTIVES" not in real.upper()           # real data are never stamped
    assert not built_gpkg.has_data("sante_communes_import")   # the real catalogue is untouched


def test_importing_the_toolkit_leaves_matplotlib_settings_alone():
    """Analysts import mbm_sig in notebooks: their matplotlib backend and defaults stay theirs."""
    code = ("import matplotlib; before = dict(matplotlib.rcParams); b = matplotlib.get_backend(); "
            "import mbm_sig.atlas.engine, mbm_sig.atlas.fiche, mbm_sig.maps; "
            "changed = [k for k, v in matplotlib.rcParams.items() if before[k] != v]; "
            "print(changed, b == matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "MPLBACKEND": "svg"}).stdout.strip()
    assert out == "[] True", out


def test_the_65_plus_series_shares_one_set_of_classes(built_gpkg):
    """Issue 11, point 3: the share of people aged 65+ is classed once on the basin (Q6) and
    every sheet of the atlas uses those classes (the top one ends at each sheet's maximum)."""
    from mbm_sig.atlas import series
    from mbm_sig.check import map_sheet_info
    atlas = load_atlas("sante")
    values = series.resolve(atlas.series, built_gpkg)
    body, _ = plan(atlas, built_gpkg)
    seen = {}
    for p in body:
        if p.kind != "map":
            continue
        info, _, _ = map_sheet_info(p.spec.recipe, p.params, built_gpkg, values)
        for lg in info.legends:
            if lg["kind"] == "choro" and "65 ans" in (lg["title"] or ""):
                seen[p.title] = lg
    assert len(seen) >= 7, list(seen)
    basin = values["part_65p"]["breaks"]
    for title, lg in seen.items():
        assert lg["breaks"] == pytest.approx(basin), title
        assert len(lg["colors"]) == len(basin) - 1
    arr = [lg["colors"] for t, lg in seen.items() if t.startswith("Arrondissement")]
    assert len(arr) == 4 and all(c == arr[0] for c in arr)
    # the GP and specialist circles share one scale: the largest count of either
    assert values["etab_generalistes"]["val_max"] == values["etab_specialistes"]["val_max"]

