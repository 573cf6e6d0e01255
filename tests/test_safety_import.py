"""Bounded resources on import (issue 9 point 6): sizes, sparse files, forged headers, ZIP
inflation and feature counts are checked before reading; refused in seconds, with bounded
memory (the command runs under a 1.5 GB address-space limit), the old layer intact."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from test_catalogue import ssm_frame
from test_cli import mbm  # noqa: F401  (fixture: mbm-sig in this process)

ROOT = Path(__file__).resolve().parent.parent
MBM = [sys.executable, "-m", "mbm_sig.cli"]


def limited():
    resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))


def run(*args, env=None):
    e = dict(os.environ, MBM_SIG_DEBUG="", **(env or {}))
    t0 = time.monotonic()
    r = subprocess.run(MBM + list(args), capture_output=True, text=True, env=e, cwd=ROOT, timeout=120,
                       preexec_fn=limited)
    r.seconds = time.monotonic() - t0
    return r


def refused(r, text: str) -> str:
    err = r.stderr.strip()
    assert r.returncode == 2, err
    assert "Traceback" not in err and "MemoryError" not in err, err
    assert err.count("\n") == 0 and err.startswith("error: ") and text in err, err
    assert r.seconds < 20
    return err


@pytest.fixture
def cat(tmp_path):
    from mbm_sig.catalogue import Catalogue
    c = Catalogue.open(str(tmp_path / "c.gpkg"))
    c.write("ssm_dispensaires", ssm_frame(3))
    return c


def shapefile(tmp_path, n=2) -> Path:
    shp = tmp_path / "shp" / "d.shp"
    shp.parent.mkdir()
    ssm_frame(n).to_file(shp)
    return shp


def unchanged(cat):
    assert len(cat.read("ssm_dispensaires")) == 3 and len(cat.provenance("ssm_dispensaires")) == 1


def test_sparse_2gb_shapefile_refused_in_seconds(cat, tmp_path):
    shp = shapefile(tmp_path)
    os.truncate(shp, 2 << 30)                 # 2 GB, almost all holes
    r = run("--db", cat.url, "import", "ssm_dispensaires", str(shp))
    refused(r, "sparse file (2 147 MB long, 0.0041 MB on disk): not a real data file; refused")
    unchanged(cat)


def test_forged_dbf_record_count_refused(cat, tmp_path):
    shp = shapefile(tmp_path)
    dbf = shp.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[4:8] = (100_000_000).to_bytes(4, "little")
    dbf.write_bytes(bytes(raw))
    r = run("--db", cat.url, "import", "ssm_dispensaires", str(shp))
    refused(r, "declares 100 000 000 records")
    unchanged(cat)


def test_sparse_2gb_csv_refused_in_seconds(cat, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("id;nom;categorie;x;y\nD1;A;Antenne;687900;7038300\n", encoding="utf-8")
    os.truncate(csv, 2 << 30)
    r = run("--db", cat.url, "import", "ssm_dispensaires", str(csv))
    refused(r, "sparse file")
    unchanged(cat)


def test_size_limit_is_a_setting(cat, tmp_path, mbm):
    csv = tmp_path / "d.csv"
    rows = "".join(f"D{i};Centre {i};Antenne;{687900 + i};7038300\n" for i in range(3000))
    csv.write_text("id;nom;categorie;x;y\n" + rows, encoding="utf-8")
    r = mbm("--db", cat.url, "import", "ssm_dispensaires", str(csv), env={"MBM_SIG_MAX_IMPORT_MB": "0.05"})
    refused(r, "more than the import limit of 0.05 MB (MBM_SIG_MAX_IMPORT_MB)")
    unchanged(cat)
    r = mbm("--db", cat.url, "import", "ssm_dispensaires", str(csv), env={"MBM_SIG_MAX_IMPORT_FEATURES": "100"})
    refused(r, "3 000 features declared, more than the import limit of 100 (MBM_SIG_MAX_IMPORT_FEATURES)")
    unchanged(cat)


def test_feature_count_from_headers(cat, tmp_path, mbm):
    gpkg = tmp_path / "d.gpkg"
    ssm_frame(5).to_file(gpkg, layer="ssm_dispensaires")
    r = mbm("--db", cat.url, "import", "ssm_dispensaires", str(gpkg), env={"MBM_SIG_MAX_IMPORT_FEATURES": "4"})
    refused(r, "5 features declared")
    shp = shapefile(tmp_path, n=5)
    r = mbm("--db", cat.url, "import", "ssm_dispensaires", str(shp), env={"MBM_SIG_MAX_IMPORT_FEATURES": "4"})
    refused(r, "5 features declared")
    unchanged(cat)
    r = mbm("--db", cat.url, "import", "ssm_dispensaires", str(gpkg), env={"MBM_SIG_MAX_IMPORT_FEATURES": "5"})
    assert r.returncode == 0, r.stderr


def test_zip_inflating_past_the_limit(cat, tmp_path, mbm):
    z = tmp_path / "d.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("d.geojson", b" " * (8 << 20))
    assert z.stat().st_size < 100_000
    r = mbm("--db", cat.url, "import", "ssm_dispensaires", str(z), env={"MBM_SIG_MAX_IMPORT_MB": "4"})
    refused(r, "the ZIP inflates to 8.4 MB, more than the import limit of 4 MB")
    unchanged(cat)
