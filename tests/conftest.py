"""Shared fixtures: catalogues on both backends, a catalogue built from the real data.

PostGIS tests use the server named by ``MBM_SIG_TEST_PG`` (``scripts/test.sh`` starts a
throwaway one); each test gets a fresh database. With ``MBM_SIG_REQUIRE_PG=1`` (CI) a
skipped PostGIS test is a failure.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", category=RuntimeWarning, module="pyogrio")

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("MBM_SIG_DATA_DIR") or ROOT.parent / "shared" / "data")
PG_URL = os.environ.get("MBM_SIG_TEST_PG")
REQUIRE_PG = os.environ.get("MBM_SIG_REQUIRE_PG") == "1"
# CI: every test must run (mirror data, PostGIS, Chromium, poppler, Ghostscript): a skip fails
STRICT = os.environ.get("MBM_SIG_STRICT") == "1"
BACKENDS = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]


def same_bytes(a, b) -> bool:
    """Assert two files are byte-identical; on a difference, say where (first differing
    offset and sizes) instead of letting pytest diff two large binary files."""
    x, y = Path(a).read_bytes(), Path(b).read_bytes()
    if x == y:
        return True
    i = next((k for k, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
    raise AssertionError(f"{a} and {b} differ from byte {i} ({len(x)} and {len(y)} bytes)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under MBM_SIG_REQUIRE_PG=1 a skipped PostGIS test fails the run; under
    MBM_SIG_STRICT=1 (CI) any skipped test does."""
    outcome = yield
    rep = outcome.get_result()
    if REQUIRE_PG and rep.skipped and item.get_closest_marker("postgis"):
        rep.outcome = "failed"
        rep.longrepr = f"PostGIS test skipped but MBM_SIG_REQUIRE_PG=1: {rep.longrepr}"
    elif STRICT and rep.skipped:
        rep.outcome = "failed"
        rep.longrepr = f"test skipped but MBM_SIG_STRICT=1 (CI runs every test): {rep.longrepr}"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "bassin-minier-unesco").is_dir():
        pytest.skip(f"open-data mirror not found at {DATA_DIR} (set MBM_SIG_DATA_DIR)")
    return DATA_DIR


def _new_pg_database() -> str:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("MBM_SIG_REQUIRE_PG=1 but MBM_SIG_TEST_PG is not set")
        pytest.skip("no PostGIS server (MBM_SIG_TEST_PG unset): run `make test` where PostgreSQL is installed")
    import sqlalchemy as sa
    name = "mbm_test_" + uuid.uuid4().hex[:10]
    eng = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"),
                           isolation_level="AUTOCOMMIT")
    with eng.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE template1'))
    eng.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(url: str) -> None:
    import sqlalchemy as sa
    name = url.rsplit("/", 1)[1]
    eng = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"),
                           isolation_level="AUTOCOMMIT")
    with eng.connect() as con:
        con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


def open_catalogue(kind: str, tmp_path: Path):
    from mbm_sig.catalogue import Catalogue
    if kind == "gpkg":
        return Catalogue.open(str(tmp_path / "catalogue.gpkg")), None
    url = _new_pg_database()
    return Catalogue.open(url), url


@pytest.fixture(params=BACKENDS)
def catalogue(request, tmp_path):
    """An empty catalogue on each backend (fresh per test)."""
    cat, url = open_catalogue(request.param, tmp_path)
    yield cat
    if url:
        cat.backend.dispose()
        _drop_pg_database(url)


@pytest.fixture(scope="session", params=BACKENDS)
def built_catalogue(request, tmp_path_factory, data_dir):
    """A catalogue built once per backend from the real data (registry packages + mirror)."""
    from mbm_sig.catalogue.build import build
    cat, url = open_catalogue(request.param, tmp_path_factory.mktemp(f"built-{request.param}"))
    results = build(cat, data_dir=data_dir, progress=False)
    failed = [r for r in results if r.status != "built"]
    assert not failed, failed
    yield cat
    if url:
        cat.backend.dispose()
        _drop_pg_database(url)


@pytest.fixture(scope="session")
def built_gpkg(tmp_path_factory, data_dir):
    """The real-data catalogue on GeoPackage only (for map and atlas tests)."""
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.catalogue.build import build
    path = tmp_path_factory.mktemp("built-gpkg") / "catalogue.gpkg"
    cat = Catalogue.open(str(path))
    results = build(cat, data_dir=data_dir, progress=False)
    assert all(r.status == "built" for r in results), [r for r in results if r.status != "built"]
    return cat
