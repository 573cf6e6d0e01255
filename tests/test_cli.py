"""Command-line conventions (issue 12 point 5) and the one error mapping (issue 10 point 4):
global options anywhere, --version, sql formats and the «N of M rows» table, aligned
`layers` columns, partner extracts with --where/--bbox/--within, the French CSV dialect,
exit statuses, one `error:` line, tracebacks only with MBM_SIG_DEBUG=1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from mbm_sig import __version__, cli
from mbm_sig.errors import Failure, InvalidInput

ROOT = Path(__file__).resolve().parent.parent
MBM = [sys.executable, "-m", "mbm_sig.cli"]


@pytest.fixture(autouse=True)
def _restore_db_setting(monkeypatch):
    """cli.main(["--db", X, …]) in this process sets MBM_SIG_DB: restored after each test."""
    monkeypatch.setenv("MBM_SIG_DB", os.environ.get("MBM_SIG_DB", ""))
    if not os.environ["MBM_SIG_DB"]:
        monkeypatch.delenv("MBM_SIG_DB")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture
def mbm(capsys, monkeypatch):
    """``mbm-sig ARGS`` run in this process (``cli.main``): the same code path as the
    command, without a new interpreter for every call. Environment changes are undone."""
    def call(*args, env=None):
        with monkeypatch.context() as m:
            if "MBM_SIG_DB" in os.environ:
                m.setenv("MBM_SIG_DB", os.environ["MBM_SIG_DB"])
            else:
                m.delenv("MBM_SIG_DB", raising=False)
            m.delenv("MBM_SIG_DEBUG", raising=False)
            for k, v in (env or {}).items():
                m.setenv(k, v)
            capsys.readouterr()
            t0 = time.monotonic()
            try:
                code = cli.main([str(a) for a in args])
            except SystemExit as exc:          # argparse of a pass-through command
                code = exc.code if isinstance(exc.code, int) else 2
            out, err = capsys.readouterr()
        return Result(code, out, err, time.monotonic() - t0)
    return call


def run(*args, env=None):
    e = dict(os.environ, MBM_SIG_DEBUG="", **(env or {}))
    return subprocess.run(MBM + list(args), capture_output=True, text=True, env=e, cwd=ROOT, timeout=300)


def test_version_and_global_options_after_the_command(built_gpkg, tmp_path, mbm):
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"mbm-sig {__version__}"
    db = built_gpkg.url
    a = mbm("--db", db, "sql", "SELECT count(*) AS n FROM puits")
    b = run("sql", "SELECT count(*) AS n FROM puits", "--db", db)
    c = mbm("sql", f"--db={db}", "SELECT count(*) AS n FROM puits")
    assert a.returncode == b.returncode == c.returncode == 0, (a.stderr, b.stderr, c.stderr)
    assert a.stdout == b.stdout == c.stdout and "636" in a.stdout
    assert cli.hoist_globals(["build", "--db", "X", "-q"]) == ["--db", "X", "build", "-q"]
    assert cli.hoist_globals(["sql", "--", "--db"]) == ["sql", "--", "--db"]


def test_sql_table_says_how_many_rows(built_gpkg, mbm):
    r = mbm("--db", built_gpkg.url, "sql", "SELECT id, commune FROM puits ORDER BY id")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1 + 50 + 1
    assert lines[-1] == "(50 of 636 rows; --limit N shows more, --format csv -o FILE writes all)"
    r = mbm("--db", built_gpkg.url, "sql", "SELECT id FROM puits", "--limit", "700")
    assert r.stdout.splitlines()[-1] == "(636 rows)"


def test_sql_formats(built_gpkg, tmp_path, mbm):
    db = built_gpkg.url
    q = "SELECT insee, nom, population, ST_Area(geom) / 1e6 AS km2, geom FROM communes WHERE insee IN ('62498', '59350') ORDER BY insee"
    r = mbm("--db", db, "sql", q, "--format", "csv", "-o", str(tmp_path / "x.csv"))
    assert r.returncode == 0, r.stderr
    raw = (tmp_path / "x.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                    # UTF-8 BOM for spreadsheets
    text = raw.decode("utf-8-sig").splitlines()
    assert text[0] == "insee;nom;population;km2;wkt"
    lille = text[1].split(";")
    assert lille[:3] == ["59350", "Lille", lille[2]] and lille[2].isdigit()      # no «.0»
    assert "," in lille[3] and "." not in lille[3]                              # decimal comma
    r = mbm("--db", db, "sql", q, "--format", "csv", "--csv-dialect", "standard")
    assert r.stdout.splitlines()[0] == "insee,nom,population,km2,wkt"
    r = mbm("--db", db, "sql", q, "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 2
    assert doc["features"][0]["properties"]["nom"] == "Lille"
    r = mbm("--db", db, "sql", "SELECT nom FROM communes WHERE insee = :c", "-p", "c=62498", "--format", "json")
    assert json.loads(r.stdout) == [{"nom": "Lens"}]
    r = mbm("--db", db, "sql", q, "--format", "gpkg", "-o", str(tmp_path / "x.gpkg"))
    assert r.returncode == 0, r.stderr
    assert len(pyogrio.read_dataframe(tmp_path / "x.gpkg")) == 2
    r = mbm("--db", db, "sql", q, "--format", "gpkg")
    assert r.returncode == 2 and r.stderr.strip() == "error: --format gpkg needs -o FILE.gpkg"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv", "x.gpkg"]    # no temporary file left


def test_layers_columns_never_run_together(built_gpkg, mbm):
    r = mbm("--db", built_gpkg.url, "layers")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?<=  )\S", header)] + [0]
    assert len(starts) == 6
    for ln in lines[1:]:
        for s in starts:
            if s:
                assert ln[s - 2:s] == "  ", (ln, s)      # two spaces before every column
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    assert rows["puits"][1:3] == ["built", "636"]
    assert rows["ssm_dispensaires"][1:4] == ["never", "built", "-"]


def test_export_partner_extract(built_gpkg, tmp_path, capsys, mbm):
    db = built_gpkg.url
    lens = "246200364"            # CA de Lens - Liévin
    communes = built_gpkg.read("communes")
    expected = sorted(communes[communes["epci_siren"] == lens]["insee"])
    assert len(expected) > 20
    r = mbm("--db", db, "export", "communes", str(tmp_path / "c.gpkg"), "--within", f"epci:{lens}")
    assert r.returncode == 0, r.stderr
    got = pyogrio.read_dataframe(tmp_path / "c.gpkg")
    assert sorted(got["insee"]) == expected            # neighbours only touching the EPCI left out
    r = mbm("--db", db, "export", "puits", str(tmp_path / "p.csv"), "--within", f"epci:{lens}",
            "--where", "commune=Liévin")
    assert r.returncode == 0, r.stderr
    p = pd.read_csv(tmp_path / "p.csv", sep=";", encoding="utf-8-sig", dtype=str)
    puits = built_gpkg.read("puits")
    assert len(p) == (puits["commune"] == "Liévin").sum() > 0
    r = mbm("--db", db, "export", "puits", str(tmp_path / "b.geojson"), "--bbox", "687000,7037000,690000,7040000")
    assert r.returncode == 0, r.stderr
    b = pyogrio.read_dataframe(tmp_path / "b.geojson").to_crs(2154)
    x, y = b.geometry.x, b.geometry.y
    assert len(b) > 0 and ((x >= 687000) & (x <= 690000) & (y >= 7037000) & (y <= 7040000)).all()
    for bad, why in [(["--within", "epci"], "expected LAYER:ID"), (["--within", "epci:000"], "no feature of epci"),
                     (["--bbox", "1,2,3"], "expected XMIN,YMIN,XMAX,YMAX"), (["--where", "nope=1"], "has no field 'nope'"),
                     (["--where", "commune"], "is not NAME=VALUE")]:
        code = cli.main(["--db", db, "export", "puits", str(tmp_path / "z.gpkg"), *bad])
        err = capsys.readouterr().err
        assert code == 2 and why in err and err.count("\n") == 1 and err.startswith("error: "), err
    assert not (tmp_path / "z.gpkg").exists()


def test_export_csv_dialects(catalogue, tmp_path):
    from test_catalogue import ssm_frame
    f = ssm_frame(3)
    f["annee"] = [2005, None, 2007]
    catalogue.write("ssm_dispensaires", f)
    out = catalogue.export("ssm_dispensaires", tmp_path / "fr.csv")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = raw.decode("utf-8-sig").splitlines()
    head = rows[0].split(";")
    assert head[:3] == ["id", "nom", "commune"] and head[-1] == "wkt"
    annee = [r.split(";")[head.index("annee")] for r in rows[1:]]
    assert annee == ["2005", "", "2007"]
    assert rows[1].split(";")[head.index("agree")] == "oui"
    std = catalogue.export("ssm_dispensaires", tmp_path / "std.csv", csv_dialect="standard")
    assert not std.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(std, dtype=str)
    assert list(back["annee"].fillna("")) == ["2005", "", "2007"]


# --------------------------------------------------------------------------------------
# one error mapping

@pytest.mark.parametrize("exc, code, line", [
    (InvalidInput("bad row 3"), 2, "error: bad row 3"),
    (Failure("disk full"), 1, "error: disk full"),
    (KeyError("x"), 1, "error: KeyError: 'x' (MBM_SIG_DEBUG=1 shows the traceback)"),
    (RuntimeError("boom\nsecond line"), 1, "error: RuntimeError: boom (MBM_SIG_DEBUG=1 shows the traceback)"),
])
def test_one_error_line_per_failure(monkeypatch, capsys, exc, code, line):
    def boom(args):
        raise exc
    monkeypatch.delenv("MBM_SIG_DEBUG", raising=False)
    monkeypatch.setattr(cli, "cmd_layers", boom)
    monkeypatch.setattr(cli, "COMMANDS", [(n, h, a, boom if n == "layers" else f) for n, h, a, f in cli.COMMANDS])
    assert cli.main(["layers"]) == code
    assert capsys.readouterr().err == line + "\n"
    monkeypatch.setenv("MBM_SIG_DEBUG", "1")
    with pytest.raises(type(exc)):
        cli.main(["layers"])


def test_unknown_layer_and_bad_parameter_exit_2(built_gpkg, mbm):
    r = mbm("--db", built_gpkg.url, "export", "nope", "/tmp/x.gpkg")
    assert r.returncode == 2 and r.stderr.startswith("error: unknown layer 'nope'; known layers: ")
    r = mbm("--db", built_gpkg.url, "sql", "SELECT :a", "-p", "a")
    assert r.returncode == 2 and r.stderr == "error: parameter 'a' is not NAME=VALUE\n"


def test_broken_pipe_ends_quietly(built_gpkg):
    r = subprocess.run(f"{sys.executable} -m mbm_sig.cli --db {built_gpkg.url} sql 'SELECT id FROM puits' "
                       "--limit 700 | head -1", shell=True, capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.split() == ["id"] and r.stderr == ""


def test_roles_prints_the_administrator_sql(mbm):
    r = mbm("--db", "postgresql://carto@dbserver/sig?schema=atlas", "roles")
    assert r.returncode == 0, r.stderr
    sql = r.stdout
    for line in ['CREATE ROLE "mbm_reader" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;',
                 'GRANT CONNECT ON DATABASE "sig" TO "mbm_reader", "mbm_writer";',
                 'CREATE SCHEMA IF NOT EXISTS "atlas" AUTHORIZATION "mbm_writer";',
                 'GRANT USAGE ON SCHEMA "atlas" TO "mbm_reader";',
                 'ALTER DEFAULT PRIVILEGES FOR ROLE "mbm_writer" IN SCHEMA "atlas" GRANT SELECT ON TABLES TO "mbm_reader";',
                 "ALTER ROLE analyste SET default_transaction_read_only = on;"]:
        assert line in [ln.split("  --")[0].rstrip() for ln in sql.splitlines()], line
    assert "pg_write_server_files" not in [w for ln in sql.splitlines() if not ln.startswith("--") for w in ln.split()]
    r = mbm("roles", "--reader", "bad name")
    assert r.returncode == 2 and r.stderr == "error: invalid role name 'bad name' (letters, digits, underscore)\n"


def test_one_default_data_directory(monkeypatch):
    """Without MBM_SIG_DATA_DIR the CLI uses the Makefile's rule: ../shared/data beside the
    project when it exists, else var/mirror."""
    from mbm_sig import config
    monkeypatch.delenv("MBM_SIG_DATA_DIR", raising=False)
    shared = config.PROJECT_ROOT.parent / "shared" / "data"
    expected = shared if shared.is_dir() else config.PROJECT_ROOT / "var" / "mirror"
    assert config.settings().data_dir == expected
    make = (ROOT / "Makefile").read_text()
    assert "$(firstword $(wildcard $(abspath ../shared/data)) $(abspath var/mirror))" in make
    monkeypatch.setattr(config, "PROJECT_ROOT", Path("/nonexistent/project"))
    assert config.settings().data_dir == Path("/nonexistent/project/var/mirror")
