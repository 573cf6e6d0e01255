"""``mbm-sig pack``: a territory's pack checked file by file on the real catalogue — its atlas
sections (books with their own contents and bookmarks, sheets as PDF and PNG), the GeoPackage
(every feature in the territory, nothing of it missing, QGIS styles when the export writes them),
the CSV tables (French dialect), the web map, the README, the manifest, the zip; two packs made
in parallel give the same bytes as one made alone (reproducible)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import sqlite3
import zipfile

import pytest
from pypdf import PdfReader

LENS = "246200364"          # CA de Lens-Liévin
PEVELE = "200041960"        # CC Pévèle-Carembault: at the basin's edge, no renewal project
OSTREVENT = "245901152"     # CA Cœur d'Ostrevent


@pytest.fixture(scope="module")
def lens(built_gpkg, tmp_path_factory):
    from mbm_sig.pack import build_pack, territories
    (t,) = territories(built_gpkg, "epci", LENS)
    out = tmp_path_factory.mktemp("packs")
    return t, build_pack(built_gpkg, t, out)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_folder_and_manifest(lens):
    t, res = lens
    folder = res.folder
    assert folder.name == "epci-246200364-CA_de_Lens-Lievin" and res.zip.name == folder.name + ".zip"
    assert not list(folder.parent.glob(".*part*"))                       # nothing half-written left
    umask = os.umask(0)
    os.umask(umask)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask                # readable by others, as the zip
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == res.files
    for rel in ("README.md", "MANIFEST.sha256", "carte/index.html", "carte/lib/leaflet/leaflet.js",
                "carte/lib/markercluster/leaflet.markercluster.js", f"donnees/{folder.name}.gpkg",
                "tableaux/puits.csv", "tableaux/communes.csv"):
        assert rel in files, rel
    # the manifest: every other file once, with its SHA-256 (sha256sum -c format)
    lines = (folder / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines()
    listed = {}
    for line in lines:
        m = re.fullmatch(r"([0-9a-f]{64})  (\S.*)", line)
        assert m, line
        listed[m.group(2)] = m.group(1)
    assert sorted(listed) == [f for f in files if f != "MANIFEST.sha256"]
    for rel, digest in listed.items():
        assert _sha(folder / rel) == digest, rel
    # file names are safe: no spaces, accents or separators from the data
    assert all(re.fullmatch(r"[A-Za-z0-9._/-]+", f) for f in files), [f for f in files if " " in f]


def _marks(r: PdfReader) -> list[tuple[str, int]]:
    """(title, 0-based page) of every bookmark, in order."""
    out = []

    def walk(items):
        for it in items:
            walk(it) if isinstance(it, list) else out.append((it.title, r.get_destination_page_number(it)))
    walk(r.outline)
    return out


def _pdf_text(pdf, first=1, last=None) -> str:
    import subprocess
    return subprocess.run(["pdftotext", "-layout", "-f", str(first), "-l", str(last or first), str(pdf), "-"],
                          capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL).stdout


def test_sheets_are_the_territorys_sections(lens, built_gpkg):
    """The santé and renouvellement books of an EPCI pack hold its own sections (the EPCI
    coverage, not its arrondissement's), the patrimoine book its EPCI section."""
    t, res = lens
    folder = res.folder
    arr = built_gpkg.read("communes", where={"epci_siren": LENS})["arrondissement_nom"].unique()
    assert list(arr) == ["Lens"]
    expected = {"sante": [t.name, f"{t.name} : part des 65 ans et plus", f"{t.name} : indicateurs communaux"],
                "patrimoine": [t.name, f"{t.name} : carte du patrimoine minier", f"{t.name} : fiche des cités",
                               f"{t.name} : fiche des terrils"],
                "renouvellement": [t.name, f"{t.name} : projets de renouvellement urbain",
                                   f"{t.name} : projets de renouvellement urbain, programme et état"]}
    assert set(res.books) == set(expected)
    for name, wanted in expected.items():
        book = folder / "cartes" / f"atlas-{name}-{LENS}.pdf"
        r = PdfReader(book)
        assert len(r.pages) == res.books[name]
        assert r.metadata.title.endswith(f" — {t.name}")
        marks = _marks(r)
        titles = [m[0] for m in marks]
        assert titles[0] == "Sommaire" and titles[-1] == "Sources et méthodes"
        assert titles[1:-1] == wanted, (name, titles)          # its section and sheets, nothing else
        for other in ("Arrondissement", "Béthune", "Douai", "Valenciennes", "CA Douaisis", "Porte du Hainaut"):
            assert not any(other in x for x in titles), (name, other, titles)
        # the separate sheets: one PDF and one PNG per body page, named by the atlas' patterns
        sheets = sorted((folder / "cartes" / name).glob("*.pdf"))
        assert sheets and all(s.with_suffix(".png").is_file() for s in sheets)
        body = marks[-1][1] - marks[1][1]          # from the first section to the sources page
        assert len(sheets) == body, (name, len(sheets), body)
        png = sheets[0].with_suffix(".png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "cartes/patrimoine" / f"patrimoine-epci-{LENS}.pdf").is_file()
    assert sorted(p.name for p in (folder / "cartes/sante").glob("*.pdf")) == \
        [f"sante-epci-{LENS}.pdf", f"sante-tableau-epci-{LENS}.pdf"]
    assert sorted(p.name for p in (folder / "cartes/renouvellement").glob("*.pdf")) == \
        [f"renouvellement-epci-{LENS}.pdf", f"renouvellement-tableau-epci-{LENS}.pdf"]


def test_epci_tables_list_the_epcis_content(lens, built_gpkg):
    """The santé table lists every commune of the EPCI and no other, with the EPCI's total; the
    renouvellement table every project of the EPCI (those of the pack's data) and no other."""
    t, res = lens
    folder = res.folder
    ind = built_gpkg.read("indicateurs_communes")
    mine = ind[ind["epci_siren"] == LENS]
    text = _pdf_text(folder / f"cartes/sante/sante-tableau-epci-{LENS}.pdf").replace("\u202f", " ")
    codes = set(re.findall(r"\b(?:59|62)\d{3}\b", text))
    assert codes == set(mine["insee"]), codes ^ set(mine["insee"])
    total = next(ln for ln in text.splitlines() if "Total de l’intercommunalité" in ln)
    pop = f"{int(mine['population'].sum()):,}".replace(",", " ")
    assert pop in total, (pop, total)
    tokens = total.split()
    assert f"{int(mine['etab_generalistes'].sum())}" in tokens
    # the EPCI's density of GP establishments, of the whole (not a sum of the communes')
    dens = 1e4 * mine["etab_generalistes"].sum() / mine["population"].sum()
    assert tokens[-1] == f"{dens:.1f}".replace(".", ","), (dens, total)
    # the projects: the pack's CSV of the layer (its communes' projects) is the table's list
    rows = list(csv.DictReader(io.StringIO((folder / "tableaux/renouvellement_urbain.csv")
                                           .read_text("utf-8-sig")), delimiter=";"))
    assert len(rows) == res.layers["renouvellement_urbain"] == 26
    text = " ".join(_pdf_text(folder / f"cartes/renouvellement/renouvellement-tableau-epci-{LENS}.pdf").split())
    for row in rows:            # (a long name wraps: its first words)
        assert " ".join(row["nom"].split()[:3]) in text, row["nom"]
    own = {r["nom"] for r in rows}
    others = built_gpkg.read("renouvellement_urbain")["nom"]
    assert not [n for n in others if n not in own and n in text]


def test_geopackage_clip(lens, built_gpkg):
    """Every feature of the extract is in the territory, and every feature that lies inside the
    territory is in the extract; features located in a commune are those of its communes (the
    counts of the atlas sheets)."""
    import pyogrio

    from mbm_sig.pack.build import in_territory
    t, res = lens
    communes_lens = set(built_gpkg.read("communes", where={"epci_siren": LENS})["insee"])
    gpkg = res.folder / "donnees" / f"{res.folder.name}.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(gpkg)} - {"layer_styles"}   # QGIS' style table
    spatial = {n for n in res.layers if built_gpkg.layer_def(n).has_geometry}
    assert layers == spatial
    assert {"puits", "cites_minieres", "terrils", "communes", "patrimoine_bati"} <= layers
    inner = t.geometry.buffer(-1)
    for name in sorted(layers):
        df = pyogrio.read_dataframe(gpkg, layer=name)
        assert df.crs.to_epsg() == 2154, name
        assert len(df) == res.layers[name]
        assert df.geometry.intersects(t.geometry).all(), name
        full = built_gpkg.read(name)
        inside = full[full.geometry.within(inner)]
        key = built_gpkg.layer_def(name).key
        if key:
            got = set(df[key].astype(str))
            assert set(inside[key].astype(str)) <= got, name
            if "insee" in full.columns:
                mine = full["insee"].map(lambda v: bool(set(str(v).replace(" ", "").split(",")) & communes_lens))
                assert got == set(full[mine][key].astype(str)), name
                if "epci_siren" in full.columns:
                    assert set(df["epci_siren"]) == {LENS}, name
            else:
                assert got == set(full[in_territory(full.geometry, t.geometry)][key].astype(str)), name
    # the counts the patrimoine sheet prints: «101 cités minières et 41 terrils …»
    cites, terrils = (pyogrio.read_dataframe(gpkg, layer=n) for n in ("cites_minieres", "terrils"))
    assert len(cites) == (built_gpkg.read("cites_minieres")["epci_siren"] == LENS).sum()
    assert len(terrils) == (built_gpkg.read("terrils")["epci_siren"] == LENS).sum()
    communes = pyogrio.read_dataframe(gpkg, layer="communes")
    assert set(communes["epci_siren"]) == {LENS}                        # no neighbour that only touches it
    assert len(communes) == len(built_gpkg.read("communes", where={"epci_siren": LENS}))
    # QGIS styles (mbm_sig.qgis.styles): one default style per layer of the extract
    with sqlite3.connect(gpkg) as con:
        version = con.execute("PRAGMA application_id").fetchone()[0], con.execute("PRAGMA user_version").fetchone()[0]
        styled = {r[0] for r in con.execute("SELECT f_table_name FROM layer_styles WHERE useAsDefault")}
        qml = dict(con.execute("SELECT f_table_name, styleQML FROM layer_styles"))
    assert styled == layers
    assert all("<renderer-v2" in qml[n] for n in layers)
    assert version == (0x47504B47, 10200)        # GeoPackage 1.2 (QGIS 3.22 reads it without warning)


def test_csv_tables_french_dialect(lens, built_gpkg):
    import pyogrio
    t, res = lens
    folder = res.folder
    gpkg = folder / "donnees" / f"{folder.name}.gpkg"
    tables = sorted(p.stem for p in (folder / "tableaux").glob("*.csv"))
    assert tables == sorted(res.layers)
    for name in ("puits", "communes", "cites_minieres", "indicateurs_communes"):
        raw = (folder / "tableaux" / f"{name}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name                    # UTF-8 BOM: Excel reads the accents
        text = raw.decode("utf-8-sig")
        dialect = csv.Sniffer().sniff(text[:5000], delimiters=";,")
        assert dialect.delimiter == ";"
        rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
        ld = built_gpkg.layer_def(name)
        df = pyogrio.read_dataframe(gpkg, layer=name)
        assert len(rows) == len(df) == res.layers[name]
        assert "geom" not in rows[0] and "wkt" not in rows[0]
        for f in ld.fields:
            if f.name not in rows[0]:
                continue
            vals = [r[f.name] for r in rows if r[f.name] != ""]
            if f.type == "int":
                assert all(re.fullmatch(r"-?\d+", v) for v in vals), (name, f.name, vals[:5])
            elif f.type == "float":
                assert all(re.fullmatch(r"-?\d+(,\d+)?", v) for v in vals), (name, f.name, vals[:5])
                got = sorted(float(v.replace(",", ".")) for v in vals)
                want = sorted(round(float(v), 6) for v in df[f.name].dropna())
                assert got == pytest.approx(want, abs=1e-6), (name, f.name)
            elif f.type == "bool":
                assert set(vals) <= {"oui", "non"}, (name, f.name)
    puits = list(csv.DictReader(io.StringIO((folder / "tableaux/puits.csv").read_text("utf-8-sig")), delimiter=";"))
    assert {"x_l93", "y_l93"} <= set(puits[0])
    assert all(600000 < int(r["x_l93"]) < 800000 and 6900000 < int(r["y_l93"]) < 7200000 for r in puits)
    assert any("Liévin" in r["commune"] for r in puits)                 # accents kept


def test_web_map_of_the_territory(lens):
    t, res = lens
    carte = res.folder / "carte"
    html = (carte / "index.html").read_text(encoding="utf-8")
    assert f"— {t.name}" in html
    meta = json.loads((carte / "data/layers.js").read_text(encoding="utf-8")
                      .removeprefix("window.MBM_META=").rstrip().rstrip(";"))
    assert meta["territory"] == t.name
    counts = {m["id"]: m["count"] for m in meta["layers"]}
    assert counts["puits"] == res.layers["puits"] and counts["cites"] == res.layers["cites_minieres"]
    assert counts["terrils"] == res.layers["terrils"] and counts["bati"] == res.layers["patrimoine_bati"]
    assert 0 < counts["puits"] < 636 and 0 < counts["cites"] < 321
    import geopandas as gpd
    data = (carte / "data/cites.js").read_text(encoding="utf-8")
    fc = json.loads(data[data.index("={") + 1:].rstrip().rstrip(";"))
    g = gpd.GeoDataFrame.from_features(fc["features"], crs="EPSG:4326").to_crs("EPSG:2154")
    assert g.geometry.intersects(t.geometry.buffer(5)).all()
    (x0, y0), (x1, y1) = meta["start"]
    assert 50.2 < x0 < x1 < 50.6 and 2.6 < y0 < y1 < 3.1                    # framed on Lens-Liévin


def test_readme_in_french(lens, built_gpkg):
    from mbm_sig.maps.fmt import typo
    from mbm_sig.pack.build import pack_date, tool_version
    t, res = lens
    text = (res.folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith(f"# {t.name} — dossier cartographique et données")
    when = pack_date(built_gpkg)
    assert f"produit le {when.day} " in text and str(when.year) in text and f"mbm-sig {tool_version()}" in text
    for name, n in res.layers.items():
        ld = built_gpkg.layer_def(name)
        line = next(ln for ln in text.splitlines() if f"(`{name}`)" in ln)
        assert f"| {n} |" in line and typo(ld.licence) in line and typo(ld.vintage or "—") in line
    assert "Licence Ouverte 2.0" in text and "Leaflet (BSD-2)" in text and "Leaflet.markercluster (MIT)" in text
    # French typography: no plain space before «:» / «;», typographic apostrophe
    assert not re.search(r" [:;]", text) and not re.search(r"\w'\w", text)


def test_zip_is_the_folder(lens):
    t, res = lens
    with zipfile.ZipFile(res.zip) as z:
        names = z.namelist()
        assert names == sorted(names) == [f"{res.folder.name}/{f}" for f in res.files]
        assert len({i.date_time for i in z.infolist()}) == 1
        for f in res.files[:40]:
            assert z.read(f"{res.folder.name}/{f}") == (res.folder / f).read_bytes()


@pytest.fixture(scope="module")
def parallel(lens, built_gpkg, tmp_path_factory):
    """`pack all` runs the territories in parallel processes: here an EPCI at the basin's edge
    with no renewal project (Pévèle-Carembault), Lens-Liévin again and the arrondissement of Lens."""
    from mbm_sig.pack import build_packs, territories
    t, _ = lens
    ters = territories(built_gpkg, "epci", PEVELE) + [t] + territories(built_gpkg, "arrondissement", "627")
    return build_packs(built_gpkg, ters, tmp_path_factory.mktemp("parallel"), processes=2)


def test_parallel_packs_are_reproducible(lens, parallel):
    """The same bytes as the pack made alone (the zip, hence every file)."""
    t, res = lens
    assert [(r.territory.kind, r.territory.code) for r in parallel] == \
        [("epci", PEVELE), ("epci", LENS), ("arrondissement", "627")]
    assert parallel[1].zip.read_bytes() == res.zip.read_bytes()
    assert parallel[1].files == res.files


def test_arrondissement_pack_keeps_its_arrondissement_pages(parallel, built_gpkg):
    """An arrondissement's santé and renouvellement books are its arrondissement section and
    sheet (no EPCI section of the atlases); its patrimoine book, the atlas having no arrondissement
    section, the EPCI sections overlapping it."""
    res = parallel[2]
    assert res.folder.name == "arrondissement-627-Lens"
    titles = {name: [m[0] for m in _marks(PdfReader(res.folder / "cartes" / f"atlas-{name}-627.pdf"))][1:-1]
              for name in res.books}
    assert titles["sante"] == ["Arrondissement de Lens", "Arrondissement de Lens : part des 65 ans et plus",
                               "Arrondissement de Lens : indicateurs communaux"]
    assert titles["renouvellement"] == ["Renouvellement urbain",
                                        "Arrondissement de Lens : projets de renouvellement urbain"]
    epci = built_gpkg.read("communes", where={"arrondissement": "627"})["epci_nom"].unique()
    assert sorted(x for x in titles["patrimoine"] if " : " not in x) == sorted(epci)
    sheets = sorted(p.name for p in (res.folder / "cartes/sante").glob("*.pdf"))
    assert sheets[0] == "sante-arrondissement-627.pdf" and all(re.fullmatch(r"sante-tableau-627(-\d)?\.pdf", f)
                                                             for f in sheets[1:]), sheets
    communes = built_gpkg.read("communes", where={"arrondissement": "627"})
    assert res.layers["communes"] == len(communes)


def test_pack_of_an_epci_at_the_basins_edge(parallel, built_gpkg):
    """Pévèle-Carembault (38 communes, a fifth of it in the basin, no renewal project): its santé
    sheets, its heritage section if it has cités or terrils, no renewal book, and its README says so."""
    res = parallel[0]
    t = res.territory
    assert "renouvellement" not in res.books and not (res.folder / "cartes/renouvellement").exists()
    r = PdfReader(res.folder / "cartes" / f"atlas-sante-{PEVELE}.pdf")
    assert [m[0] for m in _marks(r)][1:-1] == [t.name, f"{t.name} : part des 65 ans et plus",
                                               f"{t.name} : indicateurs communaux"]
    cover = " ".join(_pdf_text(res.folder / "cartes" / f"atlas-sante-{PEVELE}.pdf").split())
    assert "1 carte · Édition" in cover, cover           # one map: «1 carte», not «1 cartes»
    assert f"Cartes et tableaux de {t.name}, extraits de l’atlas du bassin minier" in cover, cover
    assert "arrondissements de Béthune" not in cover, cover      # not the whole atlas's subtitle
    text = _pdf_text(res.folder / f"cartes/sante/sante-tableau-epci-{PEVELE}.pdf").replace("\u202f", " ")
    mine = built_gpkg.read("indicateurs_communes", where={"epci_siren": PEVELE})
    assert len(mine) == 38 and set(re.findall(r"\b59\d{3}\b", text)) == set(mine["insee"])
    readme = (res.folder / "README.md").read_text(encoding="utf-8").replace("\xa0", " ")
    lines = [ln for ln in readme.splitlines() if "pas de section du territoire" in ln]
    assert lines[-1].startswith("- Atlas renouvellement urbain et séquelles minières : pas de section du territoire, "
                                "qui ne compte aucun élément de la couche « Projets de renouvellement urbain"), lines
    assert not any("Atlas santé" in ln for ln in lines)
    assert "renouvellement_urbain" not in res.layers


def test_every_basin_epci_gets_focused_sheets(built_gpkg, tmp_path):
    """The EPCI sections of the santé and renouvellement atlases, for every EPCI of the basin: one
    map framed on the EPCI, labelling only its communes and its projects, listing in the legend
    only the programmes it has; renewal sections for the EPCIs that have a project only."""
    import shapely

    from mbm_sig.atlas import series
    from mbm_sig.atlas.engine import load_atlas, plan
    from mbm_sig.maps.fmt import typo
    from mbm_sig.maps.recipe import load_recipe, render_recipe
    epci = built_gpkg.read("epci", where={"bassin_minier": True})
    communes = built_gpkg.read("communes")
    projects = built_gpkg.read("renouvellement_urbain")
    pts = projects.geometry.representative_point()
    for name in ("sante", "renouvellement"):
        atlas = load_atlas(name)
        values = series.resolve(atlas.series, built_gpkg)
        book, _ = plan(atlas, built_gpkg)
        assert not any(p.coverage == "epci" for p in book), name          # not in the atlas's book
        body, _ = plan(atlas, built_gpkg, territorial=True)
        maps = [p for p in body if p.coverage == "epci" and p.kind == "map"]
        with_projects = {s for s, g in zip(epci["siren"], epci.geometry, strict=True) if pts.within(g).any()}
        assert {p.params["siren"] for p in maps} == (set(epci["siren"]) if name == "sante" else with_projects)
        assert len(with_projects) == 7
        for p in maps:
            g = epci.loc[epci["siren"] == p.params["siren"]].geometry.iloc[0]
            info = render_recipe(series.apply(load_recipe(str(p.spec.recipe), p.params), values), built_gpkg,
                                 tmp_path / f"{name}-{p.params['siren']}.pdf")
            x0, y0, x1, y1 = info.extent
            gx0, gy0, gx1, gy1 = g.bounds
            assert x0 <= gx0 and y0 <= gy0 and x1 >= gx1 and y1 >= gy1, (name, p.title)       # all of it
            assert max((gx1 - gx0) / (x1 - x0), (gy1 - gy0) / (y1 - y0)) > 0.8, (name, p.title)  # framed on it
            own = set(communes.loc[communes["epci_siren"] == p.params["siren"], "nom"])
            mine = projects[pts.within(g).to_numpy()]
            texts = {lb["text"] for lb in info.labels}
            named = own | {typo(n) for n in mine["nom"]}        # labels print names in French typography
            assert texts and texts <= named, (p.title, texts - named)
            assert info.texts["title"].startswith(p.params["nom"])
            if name == "renouvellement":
                shown = {e for lg in info.legends if lg["kind"] in ("typo", "symbols") and "Programme" in lg["title"]
                         for e in lg.get("entries", [])}
                from pathlib import Path

                import yaml
                doc = yaml.safe_load(Path(p.spec.recipe).read_text(encoding="utf-8"))
                names = {k: v for lay in doc["layers"] for k, v in (lay.get("shape_labels") or {}).items()}
                assert shown <= {names.get(v, v) for v in mine["programme"]}, (p.title, shown)
            assert shapely.area(g) > 0


def test_pack_names_spell_out_ligatures(built_gpkg):
    from mbm_sig.pack import territories
    (t,) = territories(built_gpkg, "epci", "245901152")
    assert t.name == "CA Cœur d’Ostrevent" and t.slug == "epci-245901152-CA_Coeur_d_Ostrevent"


def test_pack_date(monkeypatch, built_gpkg):
    from mbm_sig.pack.build import pack_date
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    assert pack_date(built_gpkg) == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    last = max(built_gpkg.layers()["last_import"].dropna())
    assert pack_date(built_gpkg).isoformat().startswith(last[:19])


def test_cli_refuses_unknown_territory(built_gpkg, tmp_path, capsys, monkeypatch):
    from mbm_sig.cli import main
    monkeypatch.delenv("MBM_SIG_DB", raising=False)       # main(--db) sets it: restored after the test
    assert main(["--db", str(built_gpkg.url), "pack", "epci", "123456789", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: pack epci: no epci with siren '123456789'") and LENS in err
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(built_gpkg.url), "pack", "commune", "62498", "-o", str(tmp_path)])
    assert exc.value.code == 2 and "invalid choice: 'commune'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
