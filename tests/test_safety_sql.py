"""`sql` is read-only by construction on both backends (issue 9 point 1) and the spatial SQL
analysts use runs on both (issue 12 point 6).

Each wall is tested on its own: the statement guard, and, with the guard bypassed, what
the database itself refuses (GeoPackage opened read-only; PostGIS: one prepared statement,
a read-only transaction, the reader role without server-file privileges).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mbm_sig.catalogue import sqlguard
from mbm_sig.catalogue.sqlguard import SQLRefused, check_query, tokenize
from mbm_sig.errors import InvalidInput
from test_catalogue import ssm_frame

ROOT = Path(__file__).resolve().parent.parent
MBM = [sys.executable, "-m", "mbm_sig.cli"]


def run(*args, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run(MBM + list(args), capture_output=True, text=True, env=e, cwd=ROOT, timeout=120)


@pytest.fixture
def filled(catalogue):
    catalogue.write("ssm_dispensaires", ssm_frame(3))
    return catalogue


def rows(cat):
    return int(cat.sql("SELECT count(*) AS n FROM ssm_dispensaires")["n"].iloc[0])


# --------------------------------------------------------------------------------------
# the guard (pure text, both dialects)

@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("text, why", [
    ("COMMIT; DROP TABLE terrils", "several statements"),
    ("ROLLBACK; DELETE FROM terrils", "several statements"),
    ("END; UPDATE terrils SET nom = 'x'", "several statements"),
    ("SELECT 1; SELECT 2", "several statements"),
    ("SELECT 1;; ", None),
    ("BEGIN", "BEGIN is not a query"),
    ("SET TRANSACTION READ WRITE", "SET is not a query"),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "SET is not a query"),
    ("RESET ALL", "RESET is not a query"),
    ("SET ROLE postgres", "SET is not a query"),
    ("COPY terrils TO PROGRAM 'touch /tmp/x'", "COPY is not a query"),
    ("VACUUM INTO '/tmp/copy.gpkg'", "VACUUM is not a query"),
    ("ATTACH DATABASE '/tmp/x.db' AS x", "ATTACH is not a query"),
    ("PRAGMA journal_mode = DELETE", "PRAGMA is not a query"),
    ("WITH d AS (DELETE FROM terrils RETURNING *) SELECT * FROM d", "DELETE is not allowed"),
    ("SELECT * INTO copie FROM terrils", "INTO is not allowed"),
    ("SELECT lo_import('/etc/passwd')", "lo_import"),
    ("SELECT pg_catalog.pg_read_file('/etc/passwd')", "pg_read_file"),
    ("SELECT * FROM pg_ls_dir('.')", "pg_ls_dir"),
    ("SELECT \"pg_write_file\"('x', 'y')", "pg_write_file"),
    ("SELECT dblink_exec('host=x', 'DROP TABLE t')", "dblink_exec"),
    ("SELECT set_config('role', 'postgres', true)", "set_config"),
    ("SELECT query_to_xml('DELETE FROM t', true, true, '')", "query_to_xml"),
    ("SELECT word FROM ts_stat('SELECT to_tsvector(pg_read_file(''/etc/passwd''))')", "ts_stat"),
    ("SELECT ts_rewrite('a'::tsquery, 'SELECT set_config(''role'', ''postgres'', true)')", "ts_rewrite"),
    ('SELECT U&"\\0073et_config"(\'role\', \'postgres\', true)', "Unicode escapes"),
    ("SELECT U&'\\0041'", "Unicode escapes"),
    ("SELECT load_extension('/tmp/evil')", "load_extension"),
    ("SELECT ExportGeoJSON2('puits', 'geom', '/tmp/x.geojson')", "exportgeojson2"),
    ("SELECT gdal_get_pixel_value('/etc/x.tif', 1, 'georef', 0, 0)", "gdal_get_pixel_value"),
    ("SELECT 'x", "unterminated"),
    ("", "empty"),
])
def test_guard_refuses(dialect, text, why):
    if why is None:
        check_query(text, dialect)
        return
    with pytest.raises(SQLRefused, match=why):
        check_query(text, dialect)


def test_guard_reads_quotes_and_comments_as_text():
    # a semicolon, a keyword or a parameter inside a literal, identifier or comment is text
    for text in ["SELECT ';DROP TABLE x' AS a", 'SELECT 1 AS "delete"', "SELECT 1 -- ; DROP\n",
                 "SELECT 1 /* ; COMMIT */", "SELECT $$ ; $$ AS a", "SELECT t.update FROM t"]:
        check_query(text, "postgresql")
    toks = tokenize("SELECT ':c' AS s, :c AS v, x::text, E'\\':d'", "postgresql")
    assert [t.value for t in toks if t.kind == "param"] == ["c"]
    assert [t.text for t in toks if t.kind == "string"] == ["':c'", "E'\\':d'"]


# --------------------------------------------------------------------------------------
# both backends: refused statements leave everything as it was

@pytest.mark.parametrize("text", [
    "COMMIT; DROP TABLE ssm_dispensaires",
    "ROLLBACK; DELETE FROM ssm_dispensaires",
    "END; UPDATE ssm_dispensaires SET nom = 'x'",
    "DELETE FROM ssm_dispensaires",
    "DROP TABLE ssm_dispensaires",
    "VACUUM INTO '{tmp}/copy.gpkg'",
    "ATTACH DATABASE '{tmp}/x.db' AS x",
    "COPY ssm_dispensaires TO '{tmp}/x.csv'",
    "COPY ssm_dispensaires TO PROGRAM 'touch {tmp}/x'",
])
def test_refused_statements_change_nothing(filled, tmp_path, text):
    with pytest.raises(SQLRefused):
        filled.sql(text.format(tmp=tmp_path))
    assert rows(filled) == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("copy", "x"))) == []


def test_literal_colon_name_stays_text(filled):
    df = filled.sql("SELECT ':nom' AS lit, :nom AS val, count(*) AS n FROM ssm_dispensaires "
                    "WHERE nom <> ':nom'", {"nom": "x' OR '1'='1"})
    assert df["lit"].iloc[0] == ":nom" and df["val"].iloc[0] == "x' OR '1'='1"
    assert int(df["n"].iloc[0]) == 3
    assert int(filled.sql("SELECT count(*) AS n FROM ssm_dispensaires WHERE nom = :n",
                          {"n": "x' OR '1'='1"})["n"].iloc[0]) == 0
    with pytest.raises(InvalidInput, match=":absent has no value"):
        filled.sql("SELECT :absent AS a")


def test_sql_on_missing_catalogue_names_it(tmp_path):
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.errors import CatalogueMissing
    path = tmp_path / "nowhere.gpkg"
    with pytest.raises(CatalogueMissing, match="nowhere.gpkg does not exist"):
        Catalogue.open(str(path)).sql("SELECT 1 AS a")
    assert not path.exists()


# --------------------------------------------------------------------------------------
# the database's own walls, with the guard bypassed

@pytest.fixture
def no_guard(monkeypatch):
    def lenient(sql, dialect):
        return sqlguard.Checked(tokenize(sql, dialect), [])
    monkeypatch.setattr("mbm_sig.catalogue.gpkg.check_query", lenient)
    monkeypatch.setattr("mbm_sig.catalogue.postgis.check_query", lenient)


def test_gpkg_is_opened_read_only(tmp_path, no_guard):
    from mbm_sig.catalogue import Catalogue
    cat = Catalogue.open(str(tmp_path / "c.gpkg"))
    cat.write("ssm_dispensaires", ssm_frame(3))
    before = (tmp_path / "c.gpkg").read_bytes()
    for text in ("DELETE FROM ssm_dispensaires", "DROP TABLE ssm_dispensaires",
                 f"ATTACH DATABASE '{tmp_path}/new.db' AS x"):
        with pytest.raises(InvalidInput):
            cat.sql(text)
    assert (tmp_path / "c.gpkg").read_bytes() == before
    assert not (tmp_path / "new.db").exists()


@pytest.mark.postgis
def test_postgis_walls_without_the_guard(tmp_path, no_guard):
    """One prepared statement, read-only from the start, the reader role: each refuses."""
    from conftest import open_catalogue, _drop_pg_database
    cat, url = open_catalogue("postgis", tmp_path)
    try:
        cat.write("ssm_dispensaires", ssm_frame(3))
        assert cat.sql("SELECT current_user AS u")["u"].iloc[0] == "mbm_reader"
        # the catalogue logs in as a superuser: `sql` logs in AS the reader (SET ROLE could
        # be undone by the session user), so switching back is refused by the server
        assert cat.sql("SELECT session_user AS u")["u"].iloc[0] == "mbm_reader"
        assert cat.sql("SELECT current_setting('transaction_read_only') AS r")["r"].iloc[0] == "on"
        cases = {
            "COMMIT; DROP TABLE ssm_dispensaires": "multiple commands|cannot insert multiple",
            "DELETE FROM ssm_dispensaires": "read-only",
            "SET TRANSACTION READ WRITE": "read-write|read-only|must be called before",
            f"COPY ssm_dispensaires TO '{tmp_path}/x.csv'": "permission denied|privilege|pg_write_server_files|superuser",
            f"COPY (SELECT 1) TO PROGRAM 'touch {tmp_path}/y'": "permission denied|privilege|pg_execute_server_program|superuser",
            "SELECT pg_read_file('/etc/hostname')": "permission denied",
            "SELECT lo_import('/etc/hostname')": "permission denied|read-only",
            "SELECT set_config('role', 'postgres', true)": "permission denied",
            # SQL run from a string (ts_stat), then a server file under the switched role
            "SELECT word FROM ts_stat('SELECT to_tsvector(''simple'', set_config(''role'', "
            "''postgres'', true))') UNION ALL SELECT word FROM ts_stat('SELECT to_tsvector("
            "''simple'', pg_read_file(''/etc/passwd''))')": "permission denied",
            'SELECT U&"\\0073et_config"(\'role\', \'postgres\', true)': "permission denied",
        }
        for text, why in cases.items():
            with pytest.raises(InvalidInput, match=why):
                cat.sql(text)
        assert rows(cat) == 3
        assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y").exists()
    finally:
        cat.backend.dispose()
        _drop_pg_database(url)


@pytest.mark.postgis
def test_postgis_reader_login_from_roles_sql(tmp_path, monkeypatch, no_guard):
    """The roles of `mbm-sig roles`, a login in the reader role as MBM_SIG_PG_READER_URL:
    the server refuses writes, server files and switching back to a privileged role."""
    import sqlalchemy as sa
    from conftest import open_catalogue, _drop_pg_database
    from mbm_sig.catalogue.postgis import roles_sql
    cat, url = open_catalogue("postgis", tmp_path)
    tag = os.urandom(3).hex()
    reader, writer, login = f"r_{tag}", f"w_{tag}", f"analyste_{tag}"
    try:
        cat.write("ssm_dispensaires", ssm_frame(3))
        script = roles_sql(url, reader=reader, writer=writer)
        script = script.replace("CREATE SCHEMA IF NOT EXISTS", "-- ").replace("analyste", login)
        script = "\n".join(ln for ln in script.splitlines() if "cartographe" not in ln)
        eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
        with eng.connect() as con:
            con.exec_driver_sql(script)
            con.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA mbm TO "{reader}"')
        eng.dispose()
        monkeypatch.setenv("MBM_SIG_PG_READER_URL", url.replace("postgres@", f"{login}@"))
        from mbm_sig.catalogue import Catalogue
        rd = Catalogue.open(url)
        try:
            assert rd.sql("SELECT current_user AS u")["u"].iloc[0] == login
            assert rows(rd) == 3
            for text in ["DELETE FROM ssm_dispensaires", "SELECT set_config('role', 'postgres', true)",
                         "SELECT pg_read_file('/etc/hostname')",
                         f"COPY ssm_dispensaires TO '{tmp_path}/x.csv'"]:
                with pytest.raises(InvalidInput):
                    rd.sql(text)
            assert rows(rd) == 3 and not (tmp_path / "x.csv").exists()
        finally:
            rd.backend.dispose()
    finally:
        cat.backend.dispose()
        _drop_pg_database(url)
        eng = sa.create_engine(url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
                               + "/postgres", isolation_level="AUTOCOMMIT")
        with eng.connect() as con:
            for role in (login, reader, writer):
                con.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        eng.dispose()


@pytest.mark.postgis
def test_postgis_sql_refuses_superuser_without_reader_role(tmp_path, monkeypatch):
    """Without a usable reader role, `sql` does not run as a role that reaches server files."""
    from conftest import open_catalogue, _drop_pg_database
    from mbm_sig.errors import Failure
    monkeypatch.setenv("MBM_SIG_PG_READER_ROLE", "mbm_reader_absent_" + os.urandom(3).hex())
    cat, url = open_catalogue("postgis", tmp_path)
    try:
        monkeypatch.setattr(type(cat.backend), "_grant_reader", lambda self, con, tables: None)
        cat.write("ssm_dispensaires", ssm_frame(3))
        with pytest.raises(Failure, match="mbm-sig roles"):
            cat.sql("SELECT 1 AS a")
    finally:
        cat.backend.dispose()
        _drop_pg_database(url)


# --------------------------------------------------------------------------------------
# the command line

def test_cli_refused_statement_exit_2_one_line(filled, tmp_path):
    r = run("--db", filled.url, "sql", f"SELECT 1; VACUUM INTO '{tmp_path}/v.gpkg'")
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("error: refused: several statements")
    assert "Traceback" not in r.stderr and not (tmp_path / "v.gpkg").exists()
    r = run("sql", "SELECT count(*) AS n FROM ssm_dispensaires", "--db", filled.url)
    assert r.returncode == 0 and r.stdout.split() == ["n", "3", "(1", "row)"], r.stderr


# --------------------------------------------------------------------------------------
# the same notebook-style spatial SQL on both backends (issue 12 point 6)

SPATIAL = """
SELECT s.id,
       ST_Area(ST_Buffer(s.geom, 100)) > 31000 AS big,
       ST_DWithin(s.geom, ST_MakeEnvelope(687800, 7038200, 688000, 7038400, 2154), 50) AS near,
       ST_Intersects(ST_Buffer(s.geom, 200), ST_MakeEnvelope(687800, 7038200, 688000, 7038400, 2154)) AS hit,
       round(ST_Distance(s.geom, t.geom)) AS d,
       round(ST_X(ST_Transform(s.geom, 4326)) * 1000) AS lon_milli
FROM ssm_dispensaires s JOIN ssm_dispensaires t ON t.id = :first
WHERE ST_DWithin(s.geom, t.geom, :radius)
ORDER BY s.id
"""


def test_spatial_sql_same_answer_on_both_backends(filled):
    df = filled.sql(SPATIAL, {"first": "D000", "radius": 150})
    assert list(df["id"]) == ["D000", "D001"]          # D002 is 224 m away
    assert [int(v) for v in df["d"]] == [0, 112]
    assert [bool(v) for v in df["big"]] == [True, True]
    assert [bool(v) for v in df["near"]] == [True, True]
    assert [bool(v) for v in df["hit"]] == [True, True]
    assert set(int(v) for v in df["lon_milli"]) <= {2830, 2831, 2832, 2833}


def test_st_dwithin_spheroid_form_names_the_backend(catalogue):
    catalogue.write("ssm_dispensaires", ssm_frame(1))
    if catalogue.backend.kind == "gpkg":
        with pytest.raises(InvalidInput, match="GeoPackage.*ST_Distance"):
            catalogue.sql("SELECT ST_DWithin(geom, geom, 1, true) FROM ssm_dispensaires")
