#!/usr/bin/env python3
"""Import benchmark (issue 13, target 6): `mbm-sig import pts_projets FILE` of N points (1 M by
default; a GeoPackage in EPSG:4326 the bench generates once, with the fields of the pts_projets
layer definition, valid values), each in a new process, interleaved A B A B, medians of the
per-pair ratios; peak RSS of the client process (/usr/bin/time -v).

- GeoPackage: into a copy of the catalogue, against `ogr2ogr -t_srs EPSG:2154 -f GPKG` of the
  same file into a new GeoPackage (R-tree built by both).
- PostGIS (`--pg URL` of a server where the bench may create a database, or a throwaway
  server it starts itself when PostgreSQL 15 and PostGIS are installed; `--no-pg` skips it):
  `mbm-sig --db postgresql://… import` against `ogr2ogr -f PostgreSQL -t_srs EPSG:2154` into a
  new table (COPY, GiST index; ogr2ogr commits every 100 000 rows and checks nothing). The
  server's work counts in both wall times; the peak memory is the client's.

mbm-sig does more on both backends (validation against the layer definition, keys checked
unique, provenance, atomic replace of the layer in an existing catalogue; PostGIS: a primary
key and ANALYZE, one transaction): the figures say so.

    .venv/bin/python bench/bench_import.py [--pairs 5] [--points 1000000] [--pg URL | --no-pg | --no-gpkg]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, _timed_cpu, med, med_ratio  # noqa: E402


def make_points(path: Path, n: int, seed: int = 13) -> None:
    """n valid pts_projets rows in EPSG:4326 over Nord and Pas-de-Calais."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    porteurs = np.array(["Association", "Collectivité locale", "Éducation nationale", "Établissement de soins",
                         "Organisme professionnel"], dtype=object)
    them = np.array(["SCV", "SEJ", "PRASE", "PRAPS", "CC", "CCAR"], dtype=object)
    ids = pd.Series(np.arange(n)).map("P{:07d}".format)
    df = pd.DataFrame({"id": ids, "intitule": "Projet " + ids, "commune": "Lens", "insee": "62498",
                       "porteur": porteurs[rng.integers(0, 5, n)], "thematique": them[rng.integers(0, 6, n)],
                       "annee": rng.integers(2000, 2026, n), "accepte": rng.integers(0, 2, n).astype(bool)})
    geom = gpd.points_from_xy(rng.uniform(1.6, 4.2, n), rng.uniform(50.0, 51.1, n), crs="EPSG:4326")
    tmp = path.with_suffix(".part.gpkg")
    gpd.GeoDataFrame(df, geometry=geom).to_file(tmp, layer="points", driver="GPKG", engine="pyogrio")
    os.replace(tmp, path)


@contextmanager
def throwaway_pg(tmp: Path):
    """A PostgreSQL 15 server with PostGIS on a free loopback port for the bench (as the
    postgres user when run as root, fsync off as in the tests); its URL, or None."""
    import socket
    import subprocess
    bindir = Path("/usr/lib/postgresql/15/bin")
    if not (bindir / "initdb").exists():
        yield None
        return
    d = tmp / "pg"
    d.mkdir()
    tmp.chmod(0o711)                    # the server's user reaches its folder
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(d, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        port = so.getsockname()[1]
    run = lambda *c: subprocess.run([*as_user, *c], check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(d / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
        "--locale=C.UTF-8")
    run(str(bindir / "pg_ctl"), "-D", str(d / "data"), "-l", str(d / "log"), "-w", "-o",
        f"-p {port} -c listen_addresses=127.0.0.1 -k {d} -c fsync=off", "start")
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        subprocess.run(["psql", url, "-qc", "CREATE EXTENSION IF NOT EXISTS postgis"], check=True,
                       capture_output=True)
        yield url
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(d / "data"), "-m", "fast", "-w", "stop"],
                       capture_output=True)


def pg_database(url: str, name: str) -> str:
    """A new empty database ``name`` with PostGIS on the server of ``url``; its URL."""
    import sqlalchemy as sa
    eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with eng.connect() as con:
        con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        con.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    new = url.rsplit("/", 1)[0] + "/" + name
    eng = sa.create_engine(new.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with eng.connect() as con:
        con.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    eng.dispose()
    return new


def server_cpu(url: str) -> float:
    """CPU seconds (user + system) the PostgreSQL server on this machine has used so far: its
    postmaster's own, the backends it reaped (``cutime``/``cstime``) and those alive (the
    server of ``url``, found by the port it listens on); NaN for a server elsewhere or out of
    reach. Background work of the server (autovacuum, checkpoints) counts where it falls."""
    from urllib.parse import urlsplit
    port = urlsplit(url).port or 5432
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
                stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(d.name)] = (cmd, stat)
    main = [p for p, (cmd, _) in stats.items() if cmd and cmd[0].endswith(b"/postgres")
            and f"-p {port}".encode() in b" ".join(cmd)]
    if len(main) != 1:
        return float("nan")
    pm = main[0]
    st = stats[pm][1]
    total = sum(int(x) for x in st[11:15])                  # utime stime cutime cstime
    total += sum(int(s[11]) + int(s[12]) for p, (_, s) in stats.items() if int(s[1]) == pm)
    return total / tick


def pg_dsn(url: str) -> str:
    """``PG:`` connection string of a postgresql:// URL for ogr2ogr."""
    from urllib.parse import urlsplit
    u = urlsplit(url)
    parts = {"host": u.hostname, "port": u.port, "user": u.username, "password": u.password,
             "dbname": u.path.lstrip("/")}
    return "PG:" + " ".join(f"{k}={v}" for k, v in parts.items() if v)


def report(title: str, ra, rb, ours: str, theirs: str) -> None:
    print(f"\n{title}, new process each, median of {len(ra)} interleaved pairs "
          f"(load average {os.getloadavg()[0]:.1f} at the end)")
    print("| tool | s | CPU s (client) | CPU s (server) | peak MB |")
    print("|---|---:|---:|---:|---:|")
    for name, r in ((ours, ra), (theirs, rb)):
        print(f"| {name} | {med(r, 'wall'):.1f} | {med(r, 'cpu'):.1f} | {med(r, 'server_cpu'):.1f} | "
              f"{med(r, 'peak_mb'):.0f} |")
    print(f"time ogr2ogr / mbm-sig = {med_ratio(ra, rb):.2f} (> 1: mbm-sig faster; target >= 1); peak memory "
          f"{med(ra, 'peak_mb'):.0f} MB (target <= 300 MB)", flush=True)
    if all(r["server_cpu"] == r["server_cpu"] for r in ra + rb):      # not NaN: a server of the bench
        total = [{"t": r["cpu"] + r["server_cpu"]} for r in ra], [{"t": r["cpu"] + r["server_cpu"]} for r in rb]
        print(f"CPU (client + server) ogr2ogr / mbm-sig = {med_ratio(*total, key='t'):.2f} (what the other work "
              "on a shared machine changes least)", flush=True)


def pairs(n: int, a, b, label: str):
    ra, rb = [], []
    for i in range(n):
        ra.append(a())
        rb.append(b())
        print(f"  {label} pair {i + 1}/{n}: mbm-sig import {ra[-1]['wall']:.1f} s (CPU {ra[-1]['cpu']:.1f} + "
              f"{ra[-1]['server_cpu']:.1f} s) {ra[-1]['peak_mb']:.0f} MB, ogr2ogr {rb[-1]['wall']:.1f} s "
              f"(CPU {rb[-1]['cpu']:.1f} + {rb[-1]['server_cpu']:.1f} s) {rb[-1]['peak_mb']:.0f} MB, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    return ra, rb


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=os.environ.get("MBM_SIG_DB", str(ROOT / "var" / "catalogue.gpkg")))
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--cache", default="/tmp/mbm-bench-import")
    ap.add_argument("--pg", default=os.environ.get("MBM_SIG_BENCH_PG"),
                    help="postgresql:// URL of a server where the bench may create databases")
    ap.add_argument("--no-pg", action="store_true", help="GeoPackage only")
    ap.add_argument("--no-gpkg", action="store_true", help="PostGIS only")
    a = ap.parse_args()
    if not Path(a.db).exists():
        print(f"catalogue {a.db} not found: run `make build` first", file=sys.stderr)
        return 1
    if not shutil.which("ogr2ogr"):
        print("ogr2ogr not installed (apt-get install gdal-bin): no baseline", file=sys.stderr)
        return 1
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    src = cache / f"points-{a.points}.gpkg"
    if not src.exists():
        print(f"generating {a.points:,} points into {src} …", flush=True)
        make_points(src, a.points)
    tmp = Path(tempfile.mkdtemp(prefix="mbm-bench-import-"))
    db = tmp / "catalogue.gpkg"
    mbm = ROOT / ".venv" / "bin" / "mbm-sig"
    mbm = [str(mbm)] if mbm.exists() else [sys.executable, "-m", "mbm_sig.cli"]

    def ours():
        shutil.copyfile(a.db, db)
        _, wall, peak, cpu = _timed_cpu([*mbm, "--db", str(db), "import", "pts_projets", str(src)], dict(os.environ))
        return dict(wall=wall, peak_mb=peak, cpu=cpu, server_cpu=0.0)

    def ogr():
        out = tmp / "ogr.gpkg"
        out.unlink(missing_ok=True)
        _, wall, peak, cpu = _timed_cpu(["ogr2ogr", "-t_srs", "EPSG:2154", "-f", "GPKG", str(out), str(src)],
                                        dict(os.environ))
        return dict(wall=wall, peak_mb=peak, cpu=cpu, server_cpu=0.0)

    if not a.no_gpkg:
        ra, rb = pairs(a.pairs, ours, ogr, "GeoPackage")
        report(f"import of {a.points:,} points into GeoPackage (EPSG:4326 -> 2154)", ra, rb,
               "mbm-sig import pts_projets (validation, provenance, atomic replace in the catalogue)",
               "ogr2ogr -t_srs EPSG:2154 -f GPKG (new file, no validation)")
    if not a.no_pg:
        with (nullcontext(a.pg) if a.pg else throwaway_pg(tmp)) as server:
            if server is None:
                print("\nno PostgreSQL 15 + PostGIS here and no --pg URL: PostGIS part not run", file=sys.stderr)
            else:
                mbm_db, ogr_db = pg_database(server, "mbm_bench_import"), pg_database(server, "ogr_bench_import")

                def ours_pg():
                    s0 = server_cpu(server)
                    _, wall, peak, cpu = _timed_cpu([*mbm, "--db", mbm_db, "import", "pts_projets", str(src)],
                                                    dict(os.environ))
                    return dict(wall=wall, peak_mb=peak, cpu=cpu, server_cpu=server_cpu(server) - s0)

                def ogr_pg():
                    s0 = server_cpu(server)
                    _, wall, peak, cpu = _timed_cpu(["ogr2ogr", "-f", "PostgreSQL", pg_dsn(ogr_db),
                                                    "-t_srs", "EPSG:2154", "-nln", "pts_ogr", "-overwrite",
                                                    "-lco", "GEOMETRY_NAME=geom", str(src)], dict(os.environ))
                    return dict(wall=wall, peak_mb=peak, cpu=cpu, server_cpu=server_cpu(server) - s0)
                ra, rb = pairs(a.pairs, ours_pg, ogr_pg, "PostGIS")
                report(f"import of {a.points:,} points into PostGIS (EPSG:4326 -> 2154)", ra, rb,
                       "mbm-sig import pts_projets (validation, provenance, primary key, GiST, one transaction)",
                       "ogr2ogr -f PostgreSQL -t_srs EPSG:2154 (new table, COPY, GiST, no validation)")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
