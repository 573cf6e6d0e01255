"""QGIS 3.22 (Debian's PyQGIS, offscreen, the system Python) opens the catalogue's layers
with the print sheets' styles: categories, colours, aliases, title and abstract, from the
``layer_styles`` table on both backends; GeoPackage 1.2 read without a warning."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from mbm_sig.catalogue.layerdef import load_layers
from mbm_sig.qgis import symbols

PROBE = Path(__file__).resolve().parent.parent / "mbm_sig" / "qgis" / "probe.py"
SYSTEM_PYTHON = "/usr/bin/python3"
LAYERS = ["cites_minieres", "puits", "cavaliers", "bassin_minier", "equipements_sante", "communes"]


def have_pyqgis() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return r.returncode == 0


def probe(*args, timeout=240):
    """Run the PyQGIS probe; (JSON result, stderr)."""
    if not have_pyqgis():
        pytest.skip("PyQGIS not installed (apt-get install python3-qgis qgis-providers)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}
    env.pop("PYTHONPATH", None)
    r = subprocess.run([SYSTEM_PYTHON, str(PROBE), *map(str, args)], capture_output=True, text=True,
                       env=env, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


def gdal_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "Warning" in line or "ERROR" in line]


def expected(name):
    """What QGIS must show: the YAML's categories in domain order and colours."""
    ld = load_layers()[name]
    st = symbols.layer_style(ld)
    return ld, st


def check_layer(info, name):
    ld, st = expected(name)
    assert info["valid"], info
    assert info["default_style"]["loaded"], info["default_style"]
    assert info["crs"] == "EPSG:2154"
    r = info["renderer"]
    if st.kind == "categorized":
        assert r["type"] == "categorizedSymbol", r
        assert r["attr"] == ld.style["categories"]["field"]
        cats = [(c["value"], c["symbol"]["color"]) for c in r["categories"] if c["value"] != ""]
        colors = ld.style["categories"]["colors"]
        assert sorted(cats) == sorted((k, v.lower()) for k, v in colors.items())
        dom = ld.field(r["attr"]).domain
        if dom:   # the legend order of the sheets: the field's domain
            order = [v for v, _ in cats]
            assert order == [v for v in dom if v in colors] + [v for v in colors if v not in dom]
    else:
        assert r["type"] == "singleSymbol", r
        sym = r["symbol"]
        s = ld.style
        if ld.geometry.endswith("Point"):
            assert sym["color"] == (s.get("color") or s.get("fill")).lower()
            assert float(sym["size"]) == pytest.approx(s["size"] * 25.4 / 72, abs=1e-3)
        elif ld.geometry.endswith("LineString"):
            assert sym["color"] == s["color"].lower()
            assert sym["line_style"] == symbols.DASHES[s.get("linestyle", "-")]
        else:
            assert sym["outline_color"].startswith(",".join(str(int(s["edgecolor"][i:i + 2], 16)) for i in (1, 3, 5)))
            assert (sym["style"] == "no") == (s.get("fill") == "none")
    for f in ld.fields:
        if f.title:
            assert info["aliases"].get(f.name, "").startswith(f.title), (f.name, info["aliases"].get(f.name))
    assert ld.description[:40] in info["abstract"]


def test_qml_and_sld_from_yaml_without_qgis():
    """Every layer with a geometry gets a QML and an SLD that parse, with its categories."""
    import xml.etree.ElementTree as ET
    for name, ld in load_layers().items():
        if not ld.has_geometry:
            ET.fromstring(symbols.qml(ld).split("\n", 1)[1])
            continue
        q = ET.fromstring(symbols.qml(ld).split("\n", 1)[1])
        s = ET.fromstring(symbols.sld(ld).split("\n", 1)[1])
        cats = (ld.style or {}).get("categories")
        r = q.find("renderer-v2")
        assert r.get("type") == ("categorizedSymbol" if cats else "singleSymbol"), name
        rules = s.findall(".//{http://www.opengis.net/se}Rule")
        assert len(rules) == (len(cats["colors"]) + 1 if cats else 1), name


def test_gpkg_layer_styles_schema_and_rows(built_gpkg):
    path = built_gpkg.url
    con = sqlite3.connect(path)
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")]
        assert cols == ["id", "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
                        "styleName", "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui",
                        "update_time"]
        rows = con.execute('SELECT f_table_name, "useAsDefault", "styleName" FROM layer_styles').fetchall()
        present = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents WHERE data_type='features'")}
        assert {r[0] for r in rows} == present
        assert all(r[1] == 1 and r[2] == "mbm-sig" for r in rows)
        assert len(rows) == len(present)          # replaced, never duplicated by repeated writes
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200
        title = con.execute("SELECT identifier FROM gpkg_contents WHERE table_name='puits'").fetchone()[0]
        assert title == load_layers()["puits"].title
    finally:
        con.close()


def test_qgis_opens_gpkg_catalogue_styled_without_warnings(built_gpkg):
    info, err = probe("layers", *[f"ogr:{built_gpkg.url}|layername={n}" for n in LAYERS])
    assert not gdal_warnings(err), err
    for name, layer in zip(LAYERS, info):
        check_layer(layer, name)


def test_gpkg_export_is_styled_12(built_gpkg, tmp_path):
    out = built_gpkg.export("cites_minieres", tmp_path / "cites.gpkg")
    con = sqlite3.connect(out)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200
    finally:
        con.close()
    info, err = probe("layers", f"ogr:{out}|layername=cites_minieres")
    assert not gdal_warnings(err), err
    check_layer(info[0], "cites_minieres")


def test_user_styles_kept_and_1_4_file_migrated(built_gpkg, tmp_path):
    """A style a user saved from QGIS stays (no longer default); an older 1.4 catalogue is
    declared 1.2 at its next write."""
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.qgis.styles import write_gpkg_styles
    path = tmp_path / "c.gpkg"
    shutil.copyfile(built_gpkg.url, path)
    con = sqlite3.connect(path)
    with con:
        con.execute("PRAGMA user_version = 10400")
        con.execute("INSERT INTO layer_styles (f_table_name, f_geometry_column, \"styleName\", \"styleQML\", "
                    "\"useAsDefault\") VALUES ('puits', 'geom', 'mine', '<qgis/>', 1)")
    con.close()
    assert write_gpkg_styles(path)
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200
        rows = dict(con.execute('SELECT "styleName", "useAsDefault" FROM layer_styles WHERE f_table_name="puits"'))
        assert rows == {"mine": 0, "mbm-sig": 1}
    finally:
        con.close()
    assert len(Catalogue.open(str(path)).read("puits")) == 636


@pytest.mark.postgis
def test_qgis_opens_postgis_catalogue_styled(built_gpkg, tmp_path):
    from conftest import _drop_pg_database, _new_pg_database
    from mbm_sig.catalogue import Catalogue
    import sqlalchemy as sa
    url = _new_pg_database()
    cat = Catalogue.open(url)
    try:
        cat.write_many({n: cat.prepare(n, built_gpkg.read(n)) for n in LAYERS})
        with cat.backend.engine.connect() as con:
            schema = con.execute(sa.text(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'layer_styles'")).scalar_one()
            n = con.execute(sa.text(f'SELECT count(*) FROM "{schema}".layer_styles')).scalar_one()
        assert schema == "public" and n == len(LAYERS)      # where QGIS itself creates it for this role
        u = sa.engine.make_url(url)
        srcs = []
        for name in LAYERS:
            ld = load_layers()[name]
            srcs.append(f"postgres:dbname='{u.database}' host={u.host} port={u.port} user={u.username} "
                        f"key='{ld.key}' srid=2154 type={ld.geometry} table=\"mbm\".\"{name}\" (geom)")
        info, err = probe("layers", *srcs)
        for name, layer in zip(LAYERS, info):
            check_layer(layer, name)
            assert layer["field_types"].get("population", "int8") == "int8"
    finally:
        cat.backend.dispose()
        _drop_pg_database(url)


def test_qgis_reads_the_sld(built_gpkg, tmp_path):
    """The SLD stored next to the QML gives QGIS the same categories and colours (as rules)."""
    con = sqlite3.connect(built_gpkg.url)
    try:
        sld = con.execute('SELECT "styleSLD" FROM layer_styles WHERE f_table_name = ?',
                          ("cites_minieres",)).fetchone()[0]
    finally:
        con.close()
    path = tmp_path / "cites.sld"
    path.write_text(sld, encoding="utf-8")
    info, _ = probe("sld", f"ogr:{built_gpkg.url}|layername=cites_minieres", path)
    assert info["loaded"] and info["renderer"] == "RuleRenderer"
    colors = load_layers()["cites_minieres"].style["categories"]["colors"]
    rules = {r["label"]: r for r in info["rules"]}
    for value, color in colors.items():
        assert rules[value]["symbol"]["color"] == color.lower()
        assert rules[value]["filter"] == f"type = '{value}'"
    assert rules[symbols.OTHER_LABEL]["filter"].startswith("type IS NULL OR")


def test_mixed_geometry_layer_gets_aliases_only():
    """A definition with several geometry types (an agency's own) still writes: QML with
    aliases, no renderer, no SLD; the project and QGIS then use QGIS' default symbol."""
    from dataclasses import replace
    from mbm_sig.qgis.styles import style_documents
    ld = replace(load_layers()["cavaliers"], geometry="Geometry")
    q, s, t = style_documents(ld)
    assert "<aliases>" in q and "renderer-v2" not in q and s is None and t is None


@pytest.mark.postgis
def test_role_without_create_still_writes_data(built_gpkg):
    """A role that may not create layer_styles (PostgreSQL 15: no CREATE on public) writes
    its layers; QGIS styles are skipped with a warning."""
    from conftest import _drop_pg_database, _new_pg_database
    from mbm_sig.catalogue import Catalogue
    import sqlalchemy as sa
    url = _new_pg_database()
    admin = Catalogue.open(url)
    try:
        with admin.backend.engine.begin() as con:
            con.execute(sa.text("DROP ROLE IF EXISTS mbm_writer"))
            con.execute(sa.text("CREATE ROLE mbm_writer LOGIN"))
            con.execute(sa.text("CREATE SCHEMA mbm AUTHORIZATION mbm_writer"))
            con.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
            db = sa.engine.make_url(url).database
            con.execute(sa.text(f'GRANT CREATE ON DATABASE "{db}" TO mbm_writer'))
        u = sa.engine.make_url(url).set(username="mbm_writer")
        cat = Catalogue.open(u.render_as_string(hide_password=False))
        with pytest.warns(RuntimeWarning, match="QGIS styles not written"):
            cat.write("puits", built_gpkg.read("puits"))
        assert len(cat.read("puits")) == 636
        cat.backend.dispose()
    finally:
        admin.backend.dispose()
        _drop_pg_database(url)
        eng = sa.create_engine(url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                               isolation_level="AUTOCOMMIT")
        with eng.connect() as con:
            con.execute(sa.text("DROP ROLE IF EXISTS mbm_writer"))
        eng.dispose()


@pytest.mark.postgis
def test_role_named_like_the_schema_gets_styles_in_it(built_gpkg):
    """Role «mbm» writing schema «mbm» (the README's setup): "$user" comes first in the
    default search_path, so QGIS creates and reads layer_styles in mbm: so do we."""
    from conftest import _drop_pg_database, _new_pg_database
    from mbm_sig.catalogue import Catalogue
    import sqlalchemy as sa
    url = _new_pg_database()
    admin = Catalogue.open(url)
    root = url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/postgres"
    try:
        db = sa.engine.make_url(url).database
        with admin.backend.engine.begin() as con:
            con.execute(sa.text("DROP ROLE IF EXISTS mbm"))
            con.execute(sa.text("CREATE ROLE mbm LOGIN"))
            con.execute(sa.text(f'GRANT CREATE ON DATABASE "{db}" TO mbm'))
            con.execute(sa.text("CREATE SCHEMA mbm AUTHORIZATION mbm"))
        u = sa.engine.make_url(url).set(username="mbm")
        cat = Catalogue.open(u.render_as_string(hide_password=False))
        cat.write("puits", built_gpkg.read("puits"))
        with cat.backend.engine.connect() as con:
            where = con.execute(sa.text(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'layer_styles'")).scalars().all()
        assert where == ["mbm"]
        assert cat.layers().set_index("name").loc["puits", "count"] == 636     # not listed as a layer
        assert "layer_styles" not in cat.backend.layer_names()
        info, _ = probe("layers", f"postgres:dbname='{db}' host={u.host} port={u.port} user='mbm' key='id' "
                                  "srid=2154 type=Point table=\"mbm\".\"puits\" (geom)")
        check_layer(info[0], "puits")
        cat.backend.dispose()
    finally:
        admin.backend.dispose()
        _drop_pg_database(url)
        eng = sa.create_engine(root, isolation_level="AUTOCOMMIT")
        with eng.connect() as con:
            con.execute(sa.text("DROP ROLE IF EXISTS mbm"))
        eng.dispose()


def test_shapefile_and_geojson_exports_open_styled(built_gpkg, tmp_path):
    """A Shapefile or GeoJSON export gets NAME.qml (QGIS' default style for a file) and
    NAME.sld beside it: QGIS opens it with the print categories and colours."""
    shp = built_gpkg.export("cites_minieres", tmp_path / "cites.shp")
    gj = built_gpkg.export("puits", tmp_path / "puits.geojson")
    assert (tmp_path / "cites.qml").is_file() and (tmp_path / "cites.sld").is_file()
    assert (tmp_path / "puits.qml").is_file()
    info, err = probe("layers", f"ogr:{shp}", f"ogr:{gj}")
    cites, puits = info
    assert cites["default_style"]["loaded"] and cites["renderer"]["type"] == "categorizedSymbol"
    colors = load_layers()["cites_minieres"].style["categories"]["colors"]
    assert {c["value"]: c["symbol"]["color"] for c in cites["renderer"]["categories"] if c["value"]} == \
        {k: v.lower() for k, v in colors.items()}
    assert puits["renderer"]["symbol"]["color"] == "#000000" and puits["aliases"]


def test_export_never_overwrites_a_users_qml(built_gpkg, tmp_path):
    mine = tmp_path / "cites.qml"
    mine.write_text("<qgis>my own style</qgis>", encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="not an mbm-sig style"):
        built_gpkg.export("cites_minieres", tmp_path / "cites.shp")
    assert mine.read_text(encoding="utf-8") == "<qgis>my own style</qgis>"
    built_gpkg.export("cites_minieres", tmp_path / "cites.shp")        # ours: replaced quietly
    assert "style mbm-sig" in (tmp_path / "cites.sld").read_text(encoding="utf-8")
