"""PostGIS-specific behaviour: indexes and types, atomic replace (failure, kill, concurrent
readers), spatial SQL with bound parameters, schema selection.

Every test needs the server of ``MBM_SIG_TEST_PG`` (``scripts/test.sh`` starts one) and gets
a fresh database; under ``MBM_SIG_REQUIRE_PG=1`` a skipped test here fails the run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy as sa
from shapely.geometry import Point

from conftest import _drop_pg_database, _new_pg_database

pytestmark = pytest.mark.postgis

ROOT = Path(__file__).resolve().parent.parent
LENS = (687_900.0, 7_038_300.0)
DOUAI = (705_400.0, 7_030_300.0)


@pytest.fixture
def pg_url():
    url = _new_pg_database()
    yield url
    _drop_pg_database(url)


@pytest.fixture
def pg(pg_url):
    """An empty PostGIS catalogue (fresh database)."""
    from mbm_sig.catalogue import Catalogue
    cat = Catalogue.open(pg_url)
    assert cat.backend.kind == "postgis"
    yield cat
    cat.backend.dispose()


def ssm(n, prefix="D", x0=LENS[0]):
    cats = ["Centre de santé médical polyvalent", "Antenne", "Dispensaire"]
    return gpd.GeoDataFrame({
        "id": [f"{prefix}{i:03d}" for i in range(n)],
        "nom": [f"Centre {prefix} n°{i} – Œuvres" for i in range(n)],
        "commune": ["Lens"] * n, "insee": ["62498"] * n,
        "categorie": [cats[i % 3] for i in range(n)],
        "agree": [i % 2 == 0 for i in range(n)], "ssm": ["Filieris"] * n, "annee": [2005] * n,
    }, geometry=[Point(x0 + 100 * i, LENS[1] + 50 * i) for i in range(n)], crs="EPSG:2154")


def engine(cat):
    return cat.backend.engine


def scalar(cat, query, **params):
    with engine(cat).connect() as con:
        return con.execute(sa.text(query), params).scalar()


def state(cat, name):
    """Everything a replace may change: the rows and the provenance."""
    df = cat.read(name)
    return (pd.DataFrame(df.assign(wkt=df.geometry.to_wkt()).drop(columns="geom")),
            cat.provenance())


def assert_state(cat, name, before):
    rows, log = state(cat, name)
    pd.testing.assert_frame_equal(rows, before[0])
    pd.testing.assert_frame_equal(log, before[1])
    assert not [t for t in tables(cat) if t.endswith("__new")]


def tables(cat):
    with engine(cat).connect() as con:
        return list(con.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                                {"s": cat.backend.schema}).scalars())


# --------------------------------------------------------------------------------------
# storage: schema, types, indexes

def test_write_creates_schema_typed_geometry_gist_and_key(pg):
    assert not pg.backend.exists() and pg.backend.layer_names() == [] and len(pg.provenance()) == 0
    pg.write("ssm_dispensaires", ssm(3))
    assert pg.backend.exists()
    assert pg.backend.schema == "mbm"
    assert set(tables(pg)) == {"ssm_dispensaires", "mbm_imports"}
    assert pg.backend.layer_names() == ["ssm_dispensaires"]          # provenance table hidden
    assert scalar(pg, "SELECT type || ':' || srid FROM geometry_columns "
                      "WHERE f_table_schema = 'mbm' AND f_table_name = 'ssm_dispensaires'") == "POINT:2154"
    idx = scalar(pg, "SELECT string_agg(indexdef, ' | ') FROM pg_indexes "
                     "WHERE schemaname = 'mbm' AND tablename = 'ssm_dispensaires'")
    assert "USING gist (geom)" in idx
    assert scalar(pg, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'mbm.ssm_dispensaires'::regclass "
                      "AND contype = 'p'") == 1
    types = dict(pg.sql("SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = 'mbm' AND table_name = 'ssm_dispensaires'").values.tolist())
    assert types["annee"] == "bigint" and types["agree"] == "boolean" and types["nom"] == "text"
    # the index survives a replace (it is rebuilt on the new table)
    pg.write("ssm_dispensaires", ssm(5))
    assert scalar(pg, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'mbm' "
                      "AND tablename = 'ssm_dispensaires' AND indexdef LIKE '%USING gist (geom)%'") == 1
    # the planner uses it for a bbox read
    with engine(pg).connect() as con:
        con.execute(sa.text("SET enable_seqscan = off"))
        plan = "\n".join(con.execute(sa.text(
            "EXPLAIN SELECT * FROM mbm.ssm_dispensaires WHERE geom && ST_MakeEnvelope(0, 0, 1, 1, 2154)")).scalars())
    assert "ssm_dispensaires_geom_gist" in plan


def test_dtypes_match_geopackage(pg, tmp_path):
    from mbm_sig.catalogue import Catalogue
    gp = Catalogue.open(str(tmp_path / "c.gpkg"))
    frame = ssm(4)
    frame["annee"] = pd.array([2005, None, 2006, 2007], dtype="Int64")   # int with a null: float64 on both
    frame["agree"] = [True, False, None, True]                           # bool with a null: object on both
    for cat in (gp, pg):
        cat.write("ssm_dispensaires", frame)
    for kw in ({}, {"where": {"categorie": "Antenne"}}, {"columns": ["id", "annee"]},
               {"bbox": (LENS[0] - 10, LENS[1] - 10, LENS[0] + 150, LENS[1] + 60)},
               {"where": {"id": ["D000", "D003"]}}, {"where": {"commune": None}}):
        a, b = gp.read("ssm_dispensaires", **kw), pg.read("ssm_dispensaires", **kw)
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b), obj=str(kw))
    pd.testing.assert_frame_equal(gp.provenance().drop(columns="imported_at"),
                                  pg.provenance().drop(columns="imported_at"))


def test_binary_copy_writes_every_type_as_the_server_reads_it(pg):
    """COPY's binary format, built from the frame's arrays: each value as the server reads
    it — NULLs in every type, text with tabs, newlines, backslashes and characters outside
    Latin-1, a column with no value at all, dates, times with and without a time zone, bytes,
    a missing geometry, a polygon, and points reprojected from EPSG:4326 exactly as to_crs
    reprojects them."""
    import datetime as dt

    import numpy as np
    from shapely.geometry import Polygon
    frame = gpd.GeoDataFrame({
        "k": ["a", "b", "c"],
        "b": [True, None, False],
        "i": pd.array([1, None, -2 ** 40], dtype="Int64"),
        "f": [1.5, float("nan"), -0.1],
        "t": ["a\tb\\c\nd", None, "Œuvres «é» 𝄞"],
        "nothing": [None, None, None],
        "d": [dt.date(2005, 1, 2), None, dt.date(1999, 12, 31)],
        "ts": [dt.datetime(2005, 1, 2, 3, 4, 5, 678901), None, dt.datetime(1970, 1, 1)],
        "tz": pd.to_datetime(["2005-01-02 03:04:05+01:00", None, "2026-12-02 08:00:00+00:00"], utc=True),
        "bin": [b"\x00\x01\\", None, b""],
    }, geometry=[Polygon([(0, 0), (1, 0), (1, 1)]), None, Point(LENS)], crs="EPSG:2154")
    pg.backend.replace_layers({"essai_types": frame}, [])
    with engine(pg).connect() as con:
        con.execute(sa.text("SET TimeZone = 'UTC'"))
        rows = con.execute(sa.text(
            "SELECT b::text, i::text, f::text, t, nothing, d::text, ts::text, tz::text, "
            "encode(bin, 'hex'), ST_AsEWKT(geom) FROM mbm.essai_types ORDER BY k")).all()
        types = dict(con.execute(sa.text("SELECT column_name, data_type FROM information_schema.columns "
                                         "WHERE table_schema = 'mbm' AND table_name = 'essai_types'")).all())
    assert types == {"k": "text", "b": "boolean", "i": "bigint", "f": "double precision", "t": "text",
                     "nothing": "text", "d": "date", "ts": "timestamp without time zone",
                     "tz": "timestamp with time zone", "bin": "bytea", "geom": "USER-DEFINED"}
    assert [tuple(r) for r in rows] == [
        ("true", "1", "1.5", "a\tb\\c\nd", None, "2005-01-02", "2005-01-02 03:04:05.678901",
         "2005-01-02 02:04:05+00", "00015c", "SRID=2154;POLYGON((0 0,1 0,1 1,0 0))"),
        (None, None, None, None, None, None, None, None, None, None),
        ("false", str(-2 ** 40), "-0.1", "Œuvres «é» 𝄞", None, "1999-12-31", "1970-01-01 00:00:00",
         "2026-12-02 08:00:00+00", "", f"SRID=2154;POINT({LENS[0]:.0f} {LENS[1]:.0f})")]
    rng = np.random.default_rng(3)
    pts = gpd.GeoDataFrame({"k": [f"p{i}" for i in range(500)]}, crs="EPSG:4326",
                           geometry=gpd.points_from_xy(rng.uniform(1.6, 4.2, 500), rng.uniform(50, 51.1, 500)))
    pg.backend.replace_layers({"essai_points": pts}, [])
    with engine(pg).connect() as con:
        xy = con.execute(sa.text("SELECT k, ST_X(geom), ST_Y(geom), ST_SRID(geom) FROM mbm.essai_points")).all()
    want = pts.to_crs(2154).set_index("k").geometry
    assert len(xy) == 500 and all(srid == 2154 and (x, y) == (want[k].x, want[k].y) for k, x, y, srid in xy)


# --------------------------------------------------------------------------------------
# atomic replace

def test_failure_after_first_table_write_leaves_everything(pg, monkeypatch):
    from mbm_sig.catalogue.postgis import PostGISBackend
    pg.write("ssm_dispensaires", ssm(3))
    before = state(pg, "ssm_dispensaires")
    calls = []
    real = PostGISBackend._write_table

    def failing(self, con, table, frame):
        calls.append(table)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(self, con, table, frame)

    monkeypatch.setattr(PostGISBackend, "_write_table", failing)
    a = pg.prepare("ssm_dispensaires", ssm(6, prefix="N"))
    b = pg.prepare("ssm_dispensaires", ssm(7, prefix="M"))
    with pytest.raises(RuntimeError, match="disk on fire"):
        pg.backend.replace_layers({"ssm_dispensaires": a, "ssm_extra": b},
                                  [{"layer": "ssm_dispensaires", "action": "write", "rows": 6}])
    assert calls == ["ssm_dispensaires__new", "ssm_extra__new"]
    assert_state(pg, "ssm_dispensaires", before)
    assert "ssm_extra" not in pg.backend.layer_names()


def test_failure_just_before_commit_leaves_everything(pg, monkeypatch):
    """After the drop, the rename, the indexes and the provenance insert: still all or nothing."""
    from mbm_sig.catalogue.postgis import PostGISBackend
    pg.write("ssm_dispensaires", ssm(3))
    before = state(pg, "ssm_dispensaires")

    def boom(self, con):
        assert con.execute(sa.text("SELECT count(*) FROM mbm.ssm_dispensaires")).scalar() == 8
        raise KeyboardInterrupt

    monkeypatch.setattr(PostGISBackend, "_before_commit", boom)
    with pytest.raises(KeyboardInterrupt):
        pg.write("ssm_dispensaires", ssm(8, prefix="N"))
    assert_state(pg, "ssm_dispensaires", before)


def test_constraint_violation_in_second_layer_rolls_back_first(pg):
    """The server rejects a frame (wrong geometry type for the column): no layer changes."""
    pg.write("ssm_dispensaires", ssm(3))
    before = state(pg, "ssm_dispensaires")
    good = pg.prepare("ssm_dispensaires", ssm(4, prefix="N"))
    bad = ssm(2, prefix="B")
    bad["geom"] = [Point(LENS).buffer(10)] * 2          # polygons in a Point column
    bad = bad.set_geometry("geom").drop(columns="geometry")
    bad.attrs["geometry_type"] = "Point"
    with pytest.raises(Exception, match=r"Geometry type \(Polygon\) does not match column type \(Point\)"):
        pg.backend.replace_layers({"ssm_dispensaires": good, "ssm_bad": bad},
                                  [{"layer": "ssm_dispensaires", "action": "write", "rows": 4}])
    assert_state(pg, "ssm_dispensaires", before)
    assert pg.backend.layer_names() == ["ssm_dispensaires"]


KILL_SCRIPT = r"""
import sys, time, warnings
warnings.filterwarnings("ignore")
from mbm_sig.catalogue import Catalogue
from mbm_sig.catalogue.postgis import PostGISBackend
def pause(self, con):
    print("paused", flush=True)
    time.sleep(600)
PostGISBackend._before_commit = pause
cat = Catalogue.open(sys.argv[1])
import geopandas as gpd
gdf = gpd.read_file(sys.argv[2])
cat.write("ssm_dispensaires", gdf)
print("committed", flush=True)
"""


def test_writer_killed_inside_transaction_leaves_old_layer(pg, pg_url, tmp_path):
    pg.write("ssm_dispensaires", ssm(3))
    before = state(pg, "ssm_dispensaires")
    new = tmp_path / "new.gpkg"
    ssm(50, prefix="K").to_file(new, driver="GPKG")
    err = open(tmp_path / "stderr.txt", "w+")
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, pg_url, str(new)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        line = proc.stdout.readline().strip()
        err.seek(0)
        assert line == "paused", err.read()                 # new table renamed, log row inserted
        # not committed: other sessions see the old state (reads that need the table wait)
        assert len(pg.provenance()) == len(before[1])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        err.close()
    assert_state(pg, "ssm_dispensaires", before)
    pg.write("ssm_dispensaires", ssm(4, prefix="A"))            # the lock is gone
    assert len(pg.read("ssm_dispensaires")) == 4


def test_reader_blocked_by_open_replace_sees_new_rows(pg, monkeypatch):
    from mbm_sig.catalogue.postgis import PostGISBackend
    pg.write("ssm_dispensaires", ssm(3))
    paused, release = threading.Event(), threading.Event()

    def hold(self, con):
        paused.set()
        assert release.wait(30)

    monkeypatch.setattr(PostGISBackend, "_before_commit", hold)
    writer = threading.Thread(target=pg.write, args=("ssm_dispensaires", ssm(7, prefix="N")))
    writer.start()
    assert paused.wait(30)
    seen = []
    reader = threading.Thread(target=lambda: seen.append(pg.read("ssm_dispensaires")))
    reader.start()
    time.sleep(0.5)
    assert reader.is_alive()                     # waits on the writer's lock, no partial read
    release.set()
    writer.join(30)
    reader.join(30)
    assert len(seen) == 1 and list(seen[0]["id"]) == [f"N{i:03d}" for i in range(7)]


def test_concurrent_readers_see_old_or_new_never_a_mix(pg):
    versions = {3: ssm(3, prefix="A"), 7: ssm(7, prefix="B")}
    pg.write("ssm_dispensaires", versions[3])
    stop = threading.Event()
    errors, seen = [], []

    def read_loop():
        try:
            while not stop.is_set():
                df = pg.read("ssm_dispensaires")
                ids = set(df["id"])
                assert len(df) in versions and ids == set(versions[len(df)]["id"]), sorted(ids)
                n = int(pg.sql("SELECT count(*) AS n FROM ssm_dispensaires")["n"].iloc[0])
                assert n in versions, n
                seen.append(len(df))
        except Exception as exc:       # reported in the main thread
            errors.append(exc)

    readers = [threading.Thread(target=read_loop) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for i in range(20):
            pg.write("ssm_dispensaires", versions[7 if i % 2 == 0 else 3])
    finally:
        stop.set()
        for t in readers:
            t.join(30)
    assert not errors, errors[0]
    assert set(seen) <= {3, 7} and seen
    assert len(pg.provenance("ssm_dispensaires")) == 21


# --------------------------------------------------------------------------------------
# spatial SQL

def test_spatial_sql_with_bound_parameters(pg):
    square = gpd.GeoDataFrame({"id": ["C1", "C2"], "nom": ["Cité A", "Cité B"],
                               "perimetre": ["Bien inscrit", "Bien inscrit"]},
                              geometry=[Point(LENS).buffer(500, quad_segs=64), Point(DOUAI).buffer(200)],
                              crs=2154)
    pg.write("cites_minieres", square)
    pg.write("ssm_dispensaires", ssm(3))        # points 0, 100, 200 m east of the centre of C1
    df = pg.sql("SELECT id, ST_Area(geom) AS m2 FROM cites_minieres WHERE id = :id", {"id": "C1"})
    assert type(df) is pd.DataFrame and df["m2"].iloc[0] == pytest.approx(3.14159 * 500 ** 2, rel=1e-3)
    joined = pg.sql("SELECT s.id, c.id AS cite, s.geom FROM ssm_dispensaires s "
                    "JOIN cites_minieres c ON ST_Intersects(s.geom, c.geom) "
                    "WHERE ST_DWithin(s.geom, ST_SetSRID(ST_MakePoint(:x, :y), 2154), :d) ORDER BY s.id",
                    {"x": LENS[0], "y": LENS[1], "d": 150.0})
    assert isinstance(joined, gpd.GeoDataFrame) and joined.geometry.name == "geom"
    assert joined.crs.to_epsg() == 2154
    assert list(joined["id"]) == ["D000", "D001"] and set(joined["cite"]) == {"C1"}
    assert joined.geometry.x.iloc[1] == pytest.approx(LENS[0] + 100)
    # a list parameter expands to IN (...)
    n = pg.sql("SELECT count(*) AS n FROM ssm_dispensaires WHERE id IN :ids", {"ids": ["D000", "D002", "Z"]})
    assert n["n"].iloc[0] == 2
    # parameters are data, never SQL
    n = pg.sql("SELECT count(*) AS n FROM ssm_dispensaires WHERE nom = :nom", {"nom": "x' OR '1'='1"})
    assert n["n"].iloc[0] == 0
    # another CRS comes back as such
    wgs = pg.sql("SELECT id, ST_Transform(geom, 4326) AS geom FROM ssm_dispensaires WHERE id = :i", {"i": "D000"})
    assert wgs.crs.to_epsg() == 4326 and wgs.geometry.x.iloc[0] == pytest.approx(2.83, abs=0.01)


def test_sql_is_read_only(pg):
    pg.write("ssm_dispensaires", ssm(3))
    from mbm_sig.catalogue.sqlguard import SQLRefused
    with pytest.raises(SQLRefused, match="DELETE is not a query"):
        pg.sql("DELETE FROM ssm_dispensaires")
    assert len(pg.read("ssm_dispensaires")) == 3


# --------------------------------------------------------------------------------------
# URL and schema

def test_schema_from_url_and_environment(pg_url, monkeypatch):
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.catalogue.postgis import driver_url
    assert driver_url("postgresql://u@h:5/db").drivername == "postgresql+psycopg"
    assert driver_url("postgres://u@h/db?schema=x").query == {}
    a = Catalogue.open(pg_url + "?schema=atlas_a")
    monkeypatch.setenv("MBM_SIG_PG_SCHEMA", "atlas_b")
    b = Catalogue.open(pg_url)
    try:
        assert (a.backend.schema, b.backend.schema) == ("atlas_a", "atlas_b")
        a.write("ssm_dispensaires", ssm(2))
        b.write("ssm_dispensaires", ssm(5))
        assert len(a.read("ssm_dispensaires")) == 2 and len(b.read("ssm_dispensaires")) == 5
        assert a.sql("SELECT count(*) AS n FROM ssm_dispensaires")["n"].iloc[0] == 2
        assert len(a.provenance()) == 1 and len(b.provenance()) == 1
    finally:
        a.backend.dispose()
        b.backend.dispose()
    with pytest.raises(ValueError, match="schema"):
        Catalogue.open(pg_url + "?schema=bad;name")
