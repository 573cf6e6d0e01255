"""The text side of issue 11: names in their official spelling, French collation, table
pages (identifier where names repeat, short tables sharing a page, one page rather than two
half-empty ones), reader pages in a reader's words, the cover's count computed."""

from __future__ import annotations

import re

import pytest

from mbm_sig.maps.fmt import collation_key, french_text

TEXT_FIELDS = ("nom", "nom_2", "cite", "denomination", "compagnie", "commune", "commune_2", "commune_3",
               "nom_commune", "communes", "epci_nom", "proprietaire")


# ---------------------------------------------------------------------------------------
# French collation

def test_french_collation_folds_ligatures_accents_case_and_articles_stay():
    names = ["Noyelles-Godault", "Nœux-les-Mines", "Noeux-lès-Auxi", "Nomain", "Lallaing", "La Sentinelle",
             "Lecelles", "Éleu-dit-Leauwette", "Escaudain", "Écaillon", "Ecaillon", "Cité 16", "Cité 4", "Rœulx",
             "Roeux", "Gœulzin", "Goeulzin", "Guesnain", None]
    assert sorted(names, key=collation_key) == [
        "Cité 4", "Cité 16", "Ecaillon", "Écaillon", "Éleu-dit-Leauwette", "Escaudain", "Goeulzin", "Gœulzin",
        "Guesnain", "La Sentinelle", "Lallaing", "Lecelles", "Noeux-lès-Auxi", "Nœux-les-Mines", "Nomain",
        "Noyelles-Godault", "Rœulx", "Roeux", None]


def test_every_table_is_sorted_by_french_collation(built_gpkg):
    """The santé tables (p. 17, 23, 26 of the review): Nœux-les-Mines between Noeux… and
    Noyelles, Gœulzin among the Go…, La Sentinelle among the L."""
    from mbm_sig.atlas.engine import load_atlas, plan
    body, _ = plan(load_atlas("sante"), built_gpkg)
    by_arr: dict = {}
    for p in body:
        if p.kind == "table":
            by_arr.setdefault(p.section, []).extend(r["nom"] for r in p.rows if not r.get("__total__"))
    assert len(by_arr) == 4
    for names in by_arr.values():
        assert names == sorted(names, key=collation_key)
    bethune = by_arr["Arrondissement de Béthune"]
    assert bethune.index("Nœux-les-Mines") < bethune.index("Noyelles-lès-Vermelles")
    douai = by_arr["Arrondissement de Douai"]
    assert douai.index("Gœulzin") < douai.index("Guesnain")
    valenciennes = by_arr["Arrondissement de Valenciennes"]
    assert valenciennes.index("La Sentinelle") < valenciennes.index("Lecelles")


# ---------------------------------------------------------------------------------------
# names from the data

def test_commune_names_are_the_official_ones(built_gpkg):
    com = built_gpkg.read("communes").set_index("insee")["nom"]
    assert com["59564"] == "La Sentinelle" and com["59368"] == "La Madeleine" and com["59481"] == "Le Quesnoy"
    official = set(com) | {"Enquin-les-Mines"}           # a commune déléguée of the COG
    bad = []
    for layer in ("cites_minieres", "patrimoine_bati", "terrils", "renouvellement_urbain", "grands_projets"):
        df = built_gpkg.read(layer)
        for col in ("commune", "commune_2", "commune_3", "nom_commune", "communes"):
            if col not in df:
                continue
            for v in df[col].dropna():
                bad += [f"{layer}.{col}: {part!r}" for part in re.split(r"\s*,\s*", v) if part not in official]
    assert not bad, bad[:10]
    cites = built_gpkg.read("cites_minieres")
    assert {"Condé-sur-l’Escaut", "Vieux-Condé", "Écaillon", "La Sentinelle"} <= set(cites["commune"])


def test_names_have_one_spelling(built_gpkg):
    from mbm_sig.catalogue.layerdef import load_layers
    bad = []
    for ld in load_layers().values():
        if not ld.build or not built_gpkg.has_data(ld.name):
            continue
        cols = [f.name for f in ld.fields if f.name in TEXT_FIELDS and f.domain is None]
        if not cols:
            continue
        df = built_gpkg.read(ld.name, columns=cols)
        for c in cols:
            for v in df[c].dropna().astype(str):
                if re.search(r"\bRés\.|\bSt-|\bSte-|CIté|\bCompagne\b|\bCompagnies des\b|  |\w - \w", v):
                    bad.append(f"{ld.name}.{c}: {v!r}")
    assert not bad, bad[:10]
    puits = set(built_gpkg.read("puits")["compagnie"].dropna())
    assert "Compagnie de Vicoigne-Nœux" in puits and "Société de Camblain-Châtelain" in puits
    assert "CA de Lens-Liévin" in set(built_gpkg.read("epci")["nom"])
    assert "CA de Lens-Liévin" in set(built_gpkg.read("cites_minieres")["epci_nom"])
    renouv = set(built_gpkg.read("renouvellement_urbain")["nom"])
    cites = set(built_gpkg.read("cites_minieres")["nom"])
    assert {"Cité Saint-Pierre", "Résidence du Parc", "Cité Piérard"} <= renouv & cites


def test_reviewed_spellings_of_the_visual_review(built_gpkg):
    """Issue 11: the names printed with two spellings or a typo, one spelling each
    (data/graphies.csv, each row with its reason); no old form left in any name field."""
    nb = "\u00a0"
    cites = built_gpkg.read("cites_minieres").set_index("id")
    names = set(cites["nom"])
    assert {"Cité Darcy", "Cité des Hauts-Prés", "Cité des Éclusettes", "Cité Ledru-Rollin"} <= names
    assert cites.at["BI-0121", "nom"] == "Cité Darcy"           # the cité of the fosse Darcy (puits)
    assert "Darcy" in set(built_gpkg.read("puits")["fosse"])
    assert built_gpkg.read("patrimoine_bati").query("typologie == 'Fosse'")["nom"].str.contains(f"Fosse 9-9{nb}bis").any()
    assert any(f"9-9{nb}bis et n°" in n for n in built_gpkg.read("unesco_bien_inscrit")["nom"])     # «n°9-9bis»
    gp = built_gpkg.read("grands_projets").set_index("nom")
    assert gp.at[f"9-9{nb}bis", "precision"] == "polygone du site"        # its site still found in the source
    old = re.compile(r"Darçy|Hauts Près|\bEclusettes|Ledru Rollin|9-9bis")
    bad = []
    for layer in ("cites_minieres", "patrimoine_bati", "unesco_bien_inscrit", "grands_projets", "renouvellement_urbain"):
        df = built_gpkg.read(layer)
        for c in (c for c in df.columns if c in TEXT_FIELDS):
            bad += [f"{layer}.{c}: {v!r}" for v in df[c].dropna().astype(str) if old.search(v)]
    assert not bad, bad[:10]


def test_commune_of_location_rule(tmp_path):
    """One rule for the commune printed: where the feature lies; the source's kept. Three
    cités: in their source commune; in the source's second commune (the two trade places);
    in another commune (listed in the build report)."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import Point

    import mbm_sig.catalogue.builders as b
    from mbm_sig.config import settings
    ctx = b.BuildContext(settings=settings())
    ctx.current = "cites_minieres"
    gdf = gpd.GeoDataFrame({"id": ["BI-1", "BI-2", "ZT-3"], "nom": ["Cité A", "Cité B", "Cité C"],
                            "commune": ["Lens", "Liévin", "Bruay-sur-l’Escaut"], "commune_2": [None, "Lens", None]},
                           geometry=[Point(0, 0)] * 3)
    located = pd.Series(["Lens", "Lens", "Condé-sur-l’Escaut"], index=gdf.index)
    spec = {"field": "commune", "source": "commune_source", "others": ["commune_2"], "what": "cités"}
    out = b._commune_of_location(ctx, gdf, located, spec, "id")
    assert list(out["commune"]) == ["Lens", "Lens", "Condé-sur-l’Escaut"]
    assert list(out["commune_2"].fillna("")) == ["", "Liévin", ""]          # the same two communes
    assert list(out["commune_source"]) == ["Lens", "Liévin", "Bruay-sur-l’Escaut"]
    assert ctx.notes["cites_minieres"] == [
        "1 cités whose source commune differs from their location (the location is printed, the source's "
        "commune kept in commune_source): ZT-3 Cité C (source: Bruay-sur-l’Escaut; located in Condé-sur-l’Escaut)"]
    ctx.notes.clear()
    b._commune_of_location(ctx, gdf.iloc[:2], located.iloc[:2], spec, "id")
    assert not ctx.notes                                        # nothing to report: no line


def test_cites_are_in_the_commune_they_lie_in(built_gpkg, tmp_path, data_dir):
    """The cités whose source commune is none of those they lie in are reported by the
    build; the catalogue and the atlas's tables print where each cité lies (the commune
    of its EPCI section), the source's commune kept in ``commune_source``."""
    import io

    from mbm_sig.atlas.engine import load_atlas, plan
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.catalogue.build import build, report
    cat = Catalogue.open(str(tmp_path / "c.gpkg"))
    res = {r.layer: r for r in build(cat, names=["cites_minieres"], data_dir=data_dir, progress=False)}
    buf = io.StringIO()
    report([res["cites_minieres"]], out=buf)
    line = buf.getvalue()
    assert "2 cités whose source commune differs from their location" in line
    assert "BI-0073 Cité des Acacias (source: Bruay-sur-l'Escaut; located in Condé-sur-l’Escaut)" in line
    assert "ZT-0025 Cité des Fontinettes" in line

    com = built_gpkg.read("communes").set_index("insee")
    cites = built_gpkg.read("cites_minieres").set_index("id")
    assert (cites["commune"] == cites["insee"].map(com["nom"])).all()          # one rule: the location
    assert cites.at["BI-0073", "commune"] == "Condé-sur-l’Escaut"
    assert cites.at["BI-0073", "commune_source"] == "Bruay-sur-l’Escaut"
    assert (cites.at["BI-0068", "commune"], cites.at["BI-0068", "commune_2"]) == ("Divion", "Bruay-la-Buissière")
    # every row of an EPCI's table of cités names a commune of that EPCI
    epci_of = dict(zip(com["nom"], com["epci_siren"], strict=True))
    tables = [p for p in plan(load_atlas("patrimoine"), built_gpkg)[0] if p.kind == "table" and p.params.get("siren")]
    assert len(tables) >= 7
    for p in tables:
        bad = [r["commune"] for r in p.rows if r.get("commune") and epci_of.get(r["commune"]) != p.params["siren"]]
        assert not bad, (p.title, bad)


def test_name_key_reads_bis_apart():
    from mbm_sig.catalogue.builders_renouvellement import name_key
    assert name_key("Fosse 9-9bis") == name_key("Fosse 9-9\u00a0bis") == "fosse 9 9 bis"
    assert name_key("Fosse 6 ter") == name_key("Fosse 6ter") and name_key("Cité Bisson") == "cite bisson"


def test_spelling_rules():
    from mbm_sig.catalogue.builders import Spellings
    sp = Spellings(["Saint-Amand-les-Eaux", "La Sentinelle", "Condé-sur-l’Escaut", "Vieux-Condé", "Écaillon",
                    "Camblain-Châtelain", "Liévin", "Montigny-en-Ostrevent"])
    assert sp.communes("ST AMAND LES EAUX") == "Saint-Amand-les-Eaux"
    assert sp.communes("Sentinelle") == "La Sentinelle"
    assert sp.communes("Conde-sur-l’Escaut, Vieux-Conde") == "Condé-sur-l’Escaut, Vieux-Condé"
    assert sp.communes("ECAILLON") == "Écaillon"
    assert sp.communes("Bruay") == "Bruay"                  # no commune of that name: kept
    assert sp.name("société de Camblain-Chatelain", "compagnie") == "Société de Camblain-Châtelain"
    assert sp.name("Lievin", "compagnie") == "Liévin"
    assert sp.name("Rés. du Parc") == "Résidence du Parc" and sp.name("Cité St-Pierre") == "Cité Saint-Pierre"
    assert sp.name("C.H. DE SAINT-AMAND-LES-EAUX") == "C.H. DE SAINT-AMAND-LES-EAUX"     # capitals stay


def test_spelling_table_rows_are_checked(tmp_path, monkeypatch):
    import mbm_sig.catalogue.builders as b
    from mbm_sig.config import settings
    from mbm_sig.errors import InvalidInput
    ctx = b.BuildContext(settings=settings())
    (tmp_path / b.SPELLINGS).write_text("champ,graphie,correction,motif\ncommune,Lievin,Liévin,accent\n"
                                        "commune,Conde,Condé,\n", encoding="utf-8")
    monkeypatch.setattr(b, "FACTS_DIR", tmp_path)
    with pytest.raises(InvalidInput, match=r"graphies\.csv:3: empty 'motif'"):
        b.spelling_table(ctx)
    (tmp_path / b.SPELLINGS).write_text("champ,graphie,correction,motif\nville,Lievin,Liévin,accent\n",
                                        encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"graphies\.csv:2: champ 'ville'"):
        b.spelling_table(ctx)


# ---------------------------------------------------------------------------------------
# table pages

def test_identifier_where_names_repeat_and_short_tables_share_a_page(built_gpkg):
    from mbm_sig.atlas import pages
    from mbm_sig.atlas.engine import load_atlas, plan
    body, _ = plan(load_atlas("patrimoine"), built_gpkg)
    lens = [p for p in body if p.kind == "table" and p.section == "CA de Lens-Liévin"]
    rows = [r for p in lens for r in p.rows]
    parc = sorted(r["nom"] for r in rows if r["nom"].startswith("Résidence du Parc") and r["perimetre"] == "Bien inscrit")
    # numbered, not named by their internal identifiers (BI-0112: nothing to a reader)
    assert parc == ["Résidence du Parc (1 sur 2)", "Résidence du Parc (2 sur 2)"], parc
    for p in body:                       # every other row of every table keeps its name alone
        if p.kind == "table":
            texts = [tuple(v for v in r.values() if isinstance(v, str)) for r in p.rows]
            assert len(set(texts)) == len(texts), p.title
    # a table that fits one page with closer lines is not cut into two half-empty pages
    for p in body:
        if p.kind == "table" and p.parts > 1:
            assert pages._page_fill(p.columns, [r for q in body if q.title == p.title for r in q.rows]) \
                > pages.TIGHT_LINES
    body, _ = plan(load_atlas("renouvellement"), built_gpkg)
    shared = {p.title: [q.title for q in p.shared] for p in body if p.shared}
    assert shared == {"Grands projets : type, état en 2005 et surface":
                      ["Grands projets : pilotes et action de la Mission en 2005"]}
    shared = next(p for p in body if p.title == "Grands projets : type, état en 2005 et surface")
    assert not any(p.title == shared.shared[0].title for p in body)
    names = [r["nom"] for r in shared.rows]
    assert names == sorted(names, key=collation_key)
    # the report's projects in one table (programme, state and place), not twice the same rows
    (projets,) = [p for p in body if p.title.startswith("Projets nommés par le rapport 2005")]
    assert {"id", "programme", "statut", "commune", "localisation"} <= set(projets.columns)
    names, ids = [r["nom"] for r in projets.rows], [r["id"] for r in projets.rows]
    # in the order of the numbers the maps print (RU-01, RU-02…: the first column), one row each
    assert ids == sorted(ids) and len(set(names)) == len(names)
    puits = next(p for p in body if p.title == "Concessions des seuls puits (emprise approchée)")
    total = puits.rows[-1]
    assert total.get("__total__") and total["nb_puits"] == sum(r["nb_puits"] for r in puits.rows[:-1])


def test_shared_page_renders_both_tables_and_their_contents_entries(built_gpkg, tmp_path):
    from pypdf import PdfReader

    from mbm_sig.atlas.engine import render_atlas
    res = render_atlas("renouvellement", out_dir=tmp_path, catalogue=built_gpkg, progress=False,
                       only=["Grands projets :"])
    reader = PdfReader(res.pdf)
    body_text = " ".join(reader.pages[2].extract_text().split())     # no-break spaces as spaces
    assert "type, état en 2005 et surface" in body_text and "pilotes et action" in body_text
    assert body_text.count("Sources :") == 1                    # one note for the two tables
    toc = " ".join(reader.pages[1].extract_text().split())
    assert "surface 3" in toc and "en 2005 3" in toc


# ---------------------------------------------------------------------------------------
# reader pages

INTERNAL = re.compile(r"\bcouches?\b|\bchamps?\b|\bcatalogue\b|\bimport\b|mbm-sig|FICHIER|EPSG|\.csv\b|\.gpkg\b")


def _fig_text(fig) -> str:
    return " ".join(" ".join(t.get_text() for t in fig.texts).split())      # no-break spaces as spaces


def test_pending_sheets_and_sources_flow_on_the_back_pages(built_gpkg):
    from mbm_sig.atlas import pages
    from mbm_sig.atlas.engine import _sources, _used_layers, load_atlas, plan
    atlas = load_atlas("sante")
    body, pending = plan(atlas, built_gpkg)
    assert len(pending) == 12
    figs, at = pages.back_pages(atlas, pending, _sources(built_gpkg, _used_layers(body)))
    text = " ".join(_fig_text(f) for f in figs)
    for it in pending:                                        # every waiting sheet listed, none cut
        assert french_text(it["title"]).split(" — ")[0] in text, it["title"]
    assert "autres cartes" not in text
    assert not INTERNAL.search(" ".join(_fig_text(f) for f in figs[:at + 1] if "attente" in _fig_text(f))), text
    assert "Détenteur : Filieris" in text and "part du régime minier, par commune" in text
    assert "Sources et méthodes" in _fig_text(figs[at])
    # three waiting sheets share their page with the sources
    atlas = load_atlas("patrimoine")
    body, pending = plan(atlas, built_gpkg)
    assert len(pending) == 3
    figs, at = pages.back_pages(atlas, pending, _sources(built_gpkg, _used_layers(body)))
    assert at == 0 and "Cartes en attente de données" in _fig_text(figs[0])


def test_atlas_notes_speak_to_readers():
    from mbm_sig.atlas.engine import load_atlas
    for name in ("sante", "patrimoine", "renouvellement"):
        atlas = load_atlas(name)
        for note in list(atlas.cover_notes) + list(atlas.method_notes):
            assert not INTERNAL.search(note), (name, note)


def test_cover_counts_every_map_page(built_gpkg):
    from mbm_sig.atlas.charts import is_map_page
    from mbm_sig.atlas.engine import load_atlas, plan
    body, _ = plan(load_atlas("patrimoine"), built_gpkg)
    maps = sum(p.kind == "map" for p in body)
    epci = sum(p.kind == "chart" and p.title.endswith("carte du patrimoine minier") for p in body)
    mh = int(built_gpkg.read("cites_minieres")["inscrit_mh"].fillna(False).astype(bool).sum())
    assert sum(map(is_map_page, body)) == maps + epci + mh
    assert epci == 7 and mh == 3 and maps == 8


def test_table_headers_and_identity_cards_in_french_typography(built_gpkg):
    from mbm_sig.atlas import fiche, pages
    from mbm_sig.atlas.engine import load_atlas
    atlas = load_atlas("sante")
    fig = pages.table_page(atlas, "Essai", {"nom": "Commune", "d": "Distance à l'hôpital (km)"},
                           [{"nom": "Lens", "d": 1.5}], 1, 1)
    text = _fig_text(fig)
    assert "l’hôpital" in text and "'" not in text
    text = _fig_text(fiche.fiche_cite_figure(built_gpkg, "BI-0001"))
    assert "CARTE D’IDENTITÉ" in text and "'" not in text and not INTERNAL.search(text), text


def test_narrow_tables_keep_their_own_width_and_long_cells_get_the_room():
    """A table of two short columns is not stretched across the page (each column at most a
    quarter wider than its natural width); spare width goes first to a column whose cells
    are longer than its natural width (they wrap less); widths never exceed the page's."""
    from mbm_sig.atlas import pages
    page = pages.A4[0] - 2 * pages.MARGIN
    rows = [{"nom": f"Cité n° {i} de Lens", "commune": "Lens"} for i in range(12)]
    _, w = pages._columns({"nom": "Cité", "commune": "Commune"}, rows, page)
    assert sum(w) < 0.6 * page
    natural = [40.0, 20.0]
    assert pages._share(natural, page) == [50.0, 25.0]                 # a quarter wider at most
    grown = pages._share([62.6, 20.0, 12.0], page, want=[140.0, 20.0, 12.0])
    assert grown[0] > 120 and sum(grown) <= page + 1e-9                # the long text column takes the room
    assert pages._share([90.0, 70.0], page) == pytest.approx([90.0 + 14 * 90 / 160, 70.0 + 14 * 70 / 160])   # spread in proportion
    assert sum(pages._share([120.0, 90.0, 60.0], page)) == pytest.approx(page)       # too wide: capped to the page


def test_a_total_line_gives_the_share_and_density_of_the_whole(built_gpkg, tmp_path):
    """The health tables' total line: the sums, and the share of the 65+ and the density of GP
    establishments of the whole arrondissement (from the sums, not a sum or mean of the rows);
    a ratio that names a column the line does not sum is refused, naming the table."""
    from conftest import ROOT

    from mbm_sig.atlas.engine import AtlasError, load_atlas, plan
    body, _ = plan(load_atlas("sante"), built_gpkg)
    tables = [p for p in body if p.kind == "table" and p.part == p.parts and p.title.startswith("Arrondissement")]
    assert len(tables) == 4
    for p in tables:
        tot = p.rows[-1]
        assert tot.get("__total__")
        assert tot["part_65p"] == pytest.approx(100 * tot["pop_65p"] / tot["pop_rp2021"])
        assert tot["dens_generalistes"] == pytest.approx(1e4 * tot["etab_generalistes"] / tot["population"])
        assert tot.get("dist_hopital_km") is None                    # a distance has no total
    text = (ROOT / "atlases" / "sante.yaml").read_text(encoding="utf-8")
    bad = text.replace('part_65p: "100 * pop_65p / pop_rp2021"', 'part_65p: "100 * pop_65p / superficie"', 1)
    bad = bad.replace("recipe: maps/", f"recipe: {ROOT / 'atlases' / 'maps'}/")
    (tmp_path / "sante.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(AtlasError, match=r"total\.ratio\.part_65p: .* uses superficie, which total\.sum does not sum"):
        plan(load_atlas(tmp_path / "sante.yaml"), built_gpkg)


def test_contents_pages_hold_their_lines_above_the_footer_shared_evenly():
    """The contents are cut by the height of their lines (a section's title takes more than a
    sheet's): every page's last line above the running footer, as few pages as needed, the
    lines shared evenly (no second page of five lines), no section title alone at a page's foot;
    the book numbers its pages with the same count of contents pages."""
    from mbm_sig.atlas import pages
    levels = ([0] + [1] * 3) * 12 + [0, 0]                 # the heritage atlas: 12 sections of 3 sheets
    chunks = pages.toc_chunks(levels)
    assert [i for r in chunks for i in r] == list(range(len(levels)))
    for r in chunks:
        h = sum(pages.TOC_STEP[levels[i]] for i in r)
        assert pages.TOC_TOP + h - pages.TOC_STEP[levels[r.stop - 1]] <= pages.TOC_BOTTOM + 1e-9
        assert levels[r.stop - 1] == 1 or r.stop == len(levels)          # a section title goes with its sheet
    assert len(chunks) == 2 and abs(len(chunks[0]) - len(chunks[1])) <= 6
    assert len(pages.toc_chunks([0] + [1] * 20 + [0])) == 1
    fifty = [0] + [1] * 52 + [0]                                         # one page and a few lines more
    assert min(len(r) for r in pages.toc_chunks(fifty)) > 20
