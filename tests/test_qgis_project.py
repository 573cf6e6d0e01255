"""``mbm-sig qgis`` writes a QGIS project that QGIS 3.22 reads: every layer valid and
styled, grouped by theme, EPSG:2154, one print layout per renderable recipe, atlas layouts
for the coverage sheets; an atlas exports a PDF with one page per coverage feature."""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from test_qgis_styles import probe
from mbm_sig.qgis.project import build_project, drawing_order, where_expression, _pattern_expression

ATLAS = "atlas : sante : sante_arrondissement"


def test_drawing_order_follows_recipes():
    from mbm_sig.catalogue.layerdef import load_layers
    defs = load_layers()
    recipes = [{"layers": [{"layer": "communes"}, {"layer": "cites_minieres"}, {"layer": "puits"}]},
               {"layers": [{"layer": "unesco_zone_tampon"}, {"layer": "cites_minieres"}]}]
    order = drawing_order(defs, recipes)
    assert order.index("communes") < order.index("cites_minieres") < order.index("puits")
    assert order.index("unesco_zone_tampon") < order.index("cites_minieres")
    assert where_expression({"bassin_minier": True, "code": ["622", "627"]}, defs["arrondissements"]) == \
        '"bassin_minier" = true AND "code" IN (\'622\', \'627\')'
    assert _pattern_expression("Arrondissement de {nom}") == "'Arrondissement de ' || coalesce(to_string(\"nom\"), '')"


def test_project_opens_in_qgis_and_exports_atlas(built_gpkg, tmp_path):
    out = tmp_path / "proj" / "mbm.qgz"
    out.parent.mkdir()
    res = build_project(built_gpkg, out)
    with zipfile.ZipFile(out) as z:
        assert z.namelist() == ["mbm.qgs"]
        xml = z.read("mbm.qgs").decode()
    assert "|layername=communes" in xml and "../" in xml          # relative to the project file
    pdf = tmp_path / "atlas.pdf"
    info, err = probe("project", out, ATLAS, pdf)
    assert info["read"] and info["crs"] == "EPSG:2154"
    assert info["metadata"]["author"].startswith("Mission Bassin Minier")
    layers = info["layers"]
    assert layers and all(l["valid"] for l in layers.values()), [k for k, l in layers.items() if not l["valid"]]
    groups = [g["group"] for g in info["tree"]]
    assert groups[:2] == ["référentiel", "patrimoine"] and "santé" in groups
    for name in res["layers"]:             # every catalogue layer, styled as in layer_styles
        lid = next(k for k in layers if k.startswith(name + "_") and "__" not in k)
        assert layers[lid]["crs"] == "EPSG:2154"
    cites = next(l for k, l in layers.items() if k.startswith("cites_minieres_") and "__" not in k)
    assert cites["renderer"]["type"] == "categorizedSymbol"
    # the sheets' classes: the choropleth of the density sheet has the sheet's ColorBrewer colours
    dens = layers["densite_bassin__0__communes"]["renderer"]
    assert dens["type"] == "graduatedSymbol" and len(dens["ranges"]) == 6
    from mbm_sig.maps.palettes import colors
    assert [r["symbol"]["color"] for r in dens["ranges"]] == colors("YlOrRd", 6)
    lay = info["layouts"]
    assert len(lay) == res["layouts"] >= 20
    sheet = lay["densite_bassin"]
    assert sheet["items"] == {"map": 2, "legend": 1, "scalebar": 1, "picture": 1, "label": 3}   # map + inset
    assert {m["theme"] for m in sheet["maps"]} == {"carte : densite_bassin", "encart : departements / bassin_minier"}
    a = lay[ATLAS]["atlas"]
    assert a["coverage"] == "Arrondissements du Nord et du Pas-de-Calais"
    assert a["filter"] == '"bassin_minier" = true' and a["count"] == 4
    assert a["page_names"] == ["Arrondissement de Béthune", "Arrondissement de Lens",
                               "Arrondissement de Douai", "Arrondissement de Valenciennes"]   # west to east
    # the EPCI sheets of the heritage atlas: the EPCI the atlas engine keeps, their counts in
    # the subtitle as QGIS aggregates over the atlas feature
    from mbm_sig.atlas.engine import _features, load_atlas
    sec = next(s for s in load_atlas("patrimoine").sections if s.coverage)
    epci = lay["atlas : patrimoine : patri_epci"]["atlas"]
    assert epci["page_names"] == [f["nom"] for f in _features(built_gpkg, sec.coverage, {})]
    sub = lay["atlas : patrimoine : patri_epci"]["labels"]
    assert any("aggregate(layer:='cites_minieres_" in t for t in sub)
    # the arrondissement's communes only: the classed layer clipped to the page's feature,
    # its labels restricted to the features of the page, as on the print sheet
    assert [m["clipped_layers"] for m in lay[ATLAS]["maps"] if m["atlas_driven"]] == \
        [["sante_arrondissement__1__indicateurs_communes"]]
    lab = layers["sante_arrondissement__1__indicateurs_communes"]["labels"]
    assert lab["field"] == 'CASE WHEN "arrondissement" = attribute(@atlas_feature, \'code\') THEN "nom" END'
    assert lab["size"] >= 6 and lab["halo"] and "population" in lab["priority"]      # issue 11: no text below 6 pt
    assert info["export"]["result"] == 0
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "Pages:           4" in pages
    text = subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Arrondissement de Lens : part des 65 ans et plus" in text


def test_cli_qgis_on_postgis_refuses_missing_gpkg(tmp_path, capsys):
    from mbm_sig.cli import main
    import os
    os.environ.pop("MBM_SIG_DB", None)
    rc = main(["--db", str(tmp_path / "none.gpkg"), "qgis", "-o", str(tmp_path / "x.qgz")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x.qgz").exists()


@pytest.mark.postgis
def test_project_over_postgis(built_gpkg, tmp_path):
    """The same project over a PostGIS catalogue: every layer opens (host, port, database,
    user, key; no password in the file), styled, and the atlas finds its pages."""
    from conftest import _drop_pg_database, _new_pg_database
    from mbm_sig.catalogue import Catalogue
    url = _new_pg_database()
    cat = Catalogue.open(url)
    try:
        names = [n for n in built_gpkg.backend.layer_names()]
        cat.write_many({n: cat.prepare(n, built_gpkg.read(n)) for n in names})
        out = tmp_path / "pg.qgz"
        res = build_project(cat, out)
        xml = zipfile.ZipFile(out).read("pg.qgs").decode()
        assert "password" not in xml and 'table="mbm"."communes"' in xml
        info, err = probe("project", out)
        layers = info["layers"]
        assert len(layers) > len(res["layers"]) and all(l["valid"] for l in layers.values()), \
            [k for k, l in layers.items() if not l["valid"]]
        cites = next(l for k, l in layers.items() if k.startswith("cites_minieres_") and "__" not in k)
        assert cites["renderer"]["type"] == "categorizedSymbol" and cites["features"] == 321
        assert info["layouts"][ATLAS]["atlas"]["count"] == 4
    finally:
        cat.backend.dispose()
        _drop_pg_database(url)


def test_cli_qgis_check(built_gpkg, tmp_path, capsys, monkeypatch):
    from test_qgis_styles import have_pyqgis
    from mbm_sig.cli import main
    if not have_pyqgis():
        pytest.skip("PyQGIS not installed (apt-get install python3-qgis qgis-providers)")
    out = tmp_path / "p.qgz"
    assert main(["--db", built_gpkg.url, "qgis", "-o", str(out), "--check"]) == 0
    text = capsys.readouterr().out
    assert "QGIS: project read ok, CRS EPSG:2154" in text and "atlas : sante : sante_arrondissement (4 pages)" in text
    monkeypatch.setenv("MBM_SIG_QGIS_PYTHON", str(tmp_path / "no-python"))
    assert main(["--db", built_gpkg.url, "qgis", "-o", str(out), "--check"]) == 1
    assert "needs PyQGIS" in capsys.readouterr().err


def test_joined_imported_data_and_fictive_stamp(built_gpkg, tmp_path):
    """A recipe joining imported data (CMU-C share from sante_communes_import): the QGIS
    layer carries the join and classes the joined field; demonstration rows (fictif) stamp
    the layout «Données fictives» as the sheet is stamped."""
    import shutil
    import numpy as np
    from mbm_sig.atlas.demo import demo_sante_communes
    from mbm_sig.catalogue import Catalogue
    path = tmp_path / "c.gpkg"
    shutil.copyfile(built_gpkg.url, path)
    cat = Catalogue.open(str(path))
    cat.write("sante_communes_import", demo_sante_communes(cat, np.random.default_rng(2005)))
    out = tmp_path / "p.qgz"
    res = build_project(cat, out)
    assert "sante_cmuc" not in [n for n, _ in res["skipped"]]
    xml = zipfile.ZipFile(out).read("p.qgs").decode()
    assert 'joinLayerId="sante_communes_import_' in xml
    info, _ = probe("project", out)
    layer = info["layers"]["sante_cmuc__0__indicateurs_communes"]
    assert layer["valid"] and "part_cmuc" in layer["field_types"]
    r = layer["renderer"]
    assert r["type"] == "graduatedSymbol" and r["attr"] == "part_cmuc" and len(r["ranges"]) == 5
    from mbm_sig.maps.palettes import colors
    assert [x["symbol"]["color"] for x in r["ranges"]] == colors("RdPu", 5)
    assert "Données fictives" in info["layouts"]["sante_cmuc"]["labels"]
