"""The offline interactive heritage map (``mbm-sig web``): built from the real-data catalogue,
then opened from ``file://`` in real headless Chromium (the Debian package, /usr/bin/chromium),
driven through the Chrome DevTools protocol over a pipe (``--remote-debugging-pipe``: no port,
no extra dependency).

Checked in the browser as a user would: no console error and no request outside the output
folder (every request recorded), the layers draw (screenshot not blank), the layer panel toggles
a layer, searching a cité by name zooms to it and opens its popup, «fosse 9», «9-9bis» and
«T 94» find puits, bâti and terrils, a puits is clicked inside a cluster and its popup opens, a
small terril over a large one is the one clicked, a permalink reopened in a new browser restores
the same view, layers and popup, a 390 × 844 phone opens with the panel folded (screenshot),
and the print view makes one A4 landscape page.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import math
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import same_bytes

CHROMIUM = os.environ.get("MBM_SIG_CHROMIUM") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)
needs_chromium = pytest.mark.skipif(
    not HAVE_CHROMIUM, reason=f"headless Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)")

WIDTH, HEIGHT = 1280, 800
LAYER_IDS = ["communes", "epci", "bassin", "zone_tampon", "bien_inscrit", "cavaliers", "cites", "terrils", "bati",
             "puits"]


# ------------------------------------------------------------------------------------------------
# a minimal DevTools-protocol client over --remote-debugging-pipe (fd 3: commands in, fd 4: out)

class Chromium:
    FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--disable-default-apps", "--mute-audio",
             "--allow-file-access-from-files", "--hide-scrollbars", "--disable-dev-shm-usage",
             "--remote-debugging-pipe"]

    def __init__(self, exe: str = CHROMIUM):
        self.profile = tempfile.mkdtemp(prefix="mbm-chromium-")
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        # move the child's ends above the low descriptors, so that dup2 to 3 and 4 cannot clash
        hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 20)
        hi_w = fcntl.fcntl(out_w, fcntl.F_DUPFD_CLOEXEC, 20)
        os.close(cmd_r)
        os.close(out_w)

        def child_fds():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [exe, *self.FLAGS, f"--user-data-dir={self.profile}", f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_fds, pass_fds=(3, 4))
        os.close(hi_r)
        os.close(hi_w)
        self._w = os.fdopen(cmd_w, "wb", buffering=0)
        self._r = os.fdopen(out_r, "rb", buffering=0)
        self._id = 0
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = None

    def _read(self):
        buf = b""
        while True:
            chunk = self._r.read(1 << 16)
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        q = self._replies.get(msg["id"])
                    if q is not None:
                        q.put(msg)
                else:
                    with self._lock:
                        self.events.append(msg)

    def send(self, method: str, params: dict | None = None, session: bool = True, timeout: float = 30):
        with self._lock:
            self._id += 1
            mid = self._id
            q = self._replies[mid] = queue.Queue()
        msg = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self._w.write(json.dumps(msg).encode() + b"\0")
        try:
            reply = q.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no reply to {method} within {timeout} s") from None
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open_page(self, width: int = WIDTH, height: int = HEIGHT, mobile: bool = False):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        if mobile:
            self.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})

    def event_list(self, method: str) -> list[dict]:
        with self._lock:
            return [e["params"] for e in self.events if e.get("method") == method]

    def navigate(self, url: str, timeout: float = 20):
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while not self.event_list("Page.loadEventFired"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load within {timeout} s")
            time.sleep(0.05)

    def js(self, expression: str):
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression[:80]}...: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_js(self, expression: str, timeout: float = 10):
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout} s: {expression}")
            time.sleep(0.1)

    def click(self, x: float, y: float):
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                   "clickCount": 0 if kind == "mouseMoved" else 1})

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:   # noqa: BLE001 - the process is killed below anyway
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._w.close()
        shutil.rmtree(self.profile, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def site(built_gpkg, tmp_path_factory):
    from mbm_sig.web import build_site
    out = tmp_path_factory.mktemp("web") / "carte"
    res = build_site(built_gpkg, out)
    return out, res


@pytest.fixture(scope="module")
def page(site):
    """The built page opened from file:// in headless Chromium, after its load event."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)")
    out, _ = site
    browser = Chromium()
    try:
        browser.open_page()
        browser.navigate((out / "index.html").as_uri())
        browser.wait_js("window.MBM_APP && document.querySelectorAll('.leaflet-overlay-pane svg path, "
                        ".leaflet-pane svg path').length > 100")
        yield browser
    finally:
        browser.close()


def _unique_cite(cat) -> dict:
    """A cité whose name is unique in the layer (stable choice: the first by id)."""
    import geopandas as gpd  # noqa: F401 - geometry methods
    df = cat.read("cites_minieres").sort_values("id")
    counts = df["nom"].value_counts()
    row = df[df["nom"].map(counts) == 1].iloc[len(df) // 3]
    c = df[df["id"] == row["id"]].to_crs("EPSG:4326").geometry.iloc[0]
    x0, y0, x1, y1 = c.bounds
    p = c.representative_point()
    return {"nom": row["nom"], "lat": p.y, "lon": p.x, "bounds": (y0, x0, y1, x1)}


def _metres(lat1, lon1, lat2, lon2) -> float:
    k = math.pi / 180
    dx = (lon2 - lon1) * k * math.cos((lat1 + lat2) / 2 * k) * 6371000
    dy = (lat2 - lat1) * k * 6371000
    return math.hypot(dx, dy)


# ------------------------------------------------------------------------------------------------
# the built folder

def test_site_files_and_data(site, built_gpkg):
    out, res = site
    for rel in ("index.html", "app.js", "style.css", "lib/leaflet/leaflet.js", "lib/leaflet/leaflet.css",
                "lib/leaflet/LICENSE", "lib/leaflet/images/layers.png", "data/layers.js"):
        assert (out / rel).is_file(), rel
    assert "BSD 2-Clause" in (out / "lib/leaflet/LICENSE").read_text()
    # Leaflet.markercluster vendored from the npm registry, its licence kept
    for rel in ("lib/markercluster/leaflet.markercluster.js", "lib/markercluster/MarkerCluster.css",
                "lib/markercluster/MIT-LICENCE.txt"):
        assert (out / rel).is_file(), rel
    assert "Permission is hereby granted" in (out / "lib/markercluster/MIT-LICENCE.txt").read_text()
    assert 'version: "1.9.4"' in (out / "lib/leaflet/leaflet.js").read_text()[:2000].replace("'", '"') or \
        "1.9.4" in (out / "lib/leaflet/leaflet.js").read_text()[:2000]
    html = (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in html
    # offline: no absolute URL is loaded by the page (links in text are allowed, loads are not)
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', html)
    for js in ("app.js", "data/layers.js"):
        assert not re.search(r"\bfetch\(|XMLHttpRequest|https?://[^\"' ]+\.(js|css|png)", (out / js).read_text())
    assert "Sources\u00a0: " in html and "2012" in html and "2026" in html
    assert set(res.layers) == set(LAYER_IDS)

    meta = json.loads((out / "data/layers.js").read_text(encoding="utf-8")
                      .removeprefix("window.MBM_META=").rstrip().rstrip(";"))
    by_id = {m["id"]: m for m in meta["layers"]}
    for name, wid in (("cites_minieres", "cites"), ("terrils", "terrils"), ("puits", "puits"),
                      ("patrimoine_bati", "bati"), ("unesco_bien_inscrit", "bien_inscrit")):
        ld = built_gpkg.layer_def(name)
        m = by_id[wid]
        assert m["title"] == ld.title
        assert m["count"] == len(built_gpkg.read(name))
        # popup titles are the French titles of the layer definition
        titled = {f.name: f.title for f in ld.fields if f.title}
        for f in m["fields"]:
            if f["name"] in titled:
                assert f["title"] == titled[f["name"]]
        # legend colours are the print style's
        cats = ld.style.get("categories")
        if cats:
            assert m["legend"] and all(cats["colors"][r["value"]] == r["color"] for r in m["legend"] if r["value"])
            assert sum(r["count"] for r in m["legend"]) == m["count"]
    assert by_id["cites"]["style"]["categories"]["colors"]["Corons"] == "#b2182b"
    # popups show reader fields only: no INSEE or SIREN code, no internal id
    for m in meta["layers"]:
        names = {f["name"] for f in m["fields"]}
        assert not names & {"id", "insee", "siren", "epci_siren", "arrondissement", "departement"}, (m["id"], names)
        assert not any(n.startswith("id_") for n in names), (m["id"], names)
        assert not any(re.search(r"(?i)\b(code|siren|insee|identifiant)\b", f["title"]) for f in m["fields"]), m["id"]
    assert "no_terril" in {f["name"] for f in by_id["terrils"]["fields"]}     # a reader's number, kept
    # features carry their layer key (the permalink's feature id), not shown in the popup
    terrils = json.loads((out / "data/terrils.geojson").read_text(encoding="utf-8"))["features"]
    assert sorted(f["id"] for f in terrils) == sorted(built_gpkg.read("terrils")["no_terril"])
    communes = json.loads((out / "data/communes.geojson").read_text(encoding="utf-8"))["features"]
    assert all(re.fullmatch(r"\d[\dAB]\d{3}", f["id"]) and "insee" not in f["properties"] for f in communes)
    # small polygons after (above) the large ones
    import geopandas as gpd
    areas = list(gpd.GeoDataFrame.from_features(terrils, crs="EPSG:4326").to_crs("EPSG:2154").area.round(-1))
    assert areas == sorted(areas, reverse=True)

    # GeoJSON in EPSG:4326, coordinates rounded to 1e-6 degree, inside Nord-Pas-de-Calais
    gj = json.loads((out / "data/cites.geojson").read_text(encoding="utf-8"))
    coords = re.findall(r"-?\d+\.\d+", json.dumps(gj["features"][0]["geometry"]))
    assert coords and all(len(c.split(".")[1]) <= 6 for c in coords)
    import shapely.geometry
    pt = shapely.geometry.shape(gj["features"][0]["geometry"]).representative_point()
    lon, lat = pt.x, pt.y
    assert 1.5 < lon < 4.5 and 49.8 < lat < 51.2
    js = (out / "data/cites.js").read_text(encoding="utf-8")
    assert js.startswith("window.MBM_DATA=window.MBM_DATA||{};window.MBM_DATA[\"cites\"]={")
    names = {e[0] for e in meta["search"] if e[2] == "cites"}
    assert _unique_cite(built_gpkg)["nom"] in names
    assert any(e[2] == "communes" for e in meta["search"]) and any(e[2] == "terrils" for e in meta["search"])


def test_build_is_deterministic(site, built_gpkg, tmp_path):
    from mbm_sig.web import build_site
    out, _ = site
    again = tmp_path / "again"
    build_site(built_gpkg, again)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert same_bytes(out / rel, again / rel)


def test_rebuild_removes_only_its_own_files(built_gpkg, tmp_path):
    """A rebuild removes the files the previous build wrote and this one did not (its
    manifest), never a file the user keeps in the folder; a file given as folder is refused."""
    from mbm_sig.errors import InvalidInput
    from mbm_sig.web import build_site
    out = tmp_path / "site"
    (out / "data").mkdir(parents=True)
    (out / "data" / "mine.txt").write_text("à garder")
    (out / "lib").mkdir()
    (out / "lib" / "perso.js").write_text("// à garder")
    build_site(built_gpkg, out, geojson=True)
    assert list((out / "data").glob("*.geojson"))
    build_site(built_gpkg, out, geojson=False)
    assert not list((out / "data").glob("*.geojson"))            # the previous build's, removed
    assert (out / "data" / "mine.txt").read_text() == "à garder"  # the user's, kept
    assert (out / "lib" / "perso.js").is_file()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InvalidInput, match="existing file"):
        build_site(built_gpkg, tmp_path / "afile")


def test_cli(built_gpkg, tmp_path, capsys):
    from mbm_sig.web import cli_web
    out = tmp_path / "cle-usb"
    assert cli_web(["-o", str(out), "--db", str(built_gpkg.url), "--no-geojson"]) == 0
    assert (out / "index.html").is_file() and (out / "data/cites.js").is_file()
    assert not list((out / "data").glob("*.geojson"))
    assert "index.html" in capsys.readouterr().out
    assert cli_web(["-o", str(tmp_path / "x"), "--db", str(tmp_path / "empty.gpkg")]) == 1


# ------------------------------------------------------------------------------------------------
# in the browser

@needs_chromium
def test_page_loads_offline_without_errors(page, site):
    out, _ = site
    root = out.resolve().as_uri() + "/"
    urls = [p["request"]["url"] for p in page.event_list("Network.requestWillBeSent")]
    assert any(u.endswith("/lib/leaflet/leaflet.js") for u in urls)
    assert any(u.endswith("/data/cites.js") for u in urls)
    outside = [u for u in urls if not u.startswith(root)]
    assert not outside, f"requests outside {root}: {outside}"
    failed = page.event_list("Network.loadingFailed")
    assert not failed, failed
    errors = [p for p in page.event_list("Runtime.consoleAPICalled") if p["type"] in ("error", "assert")]
    errors += page.event_list("Runtime.exceptionThrown")
    errors += [p for p in page.event_list("Log.entryAdded") if p["entry"]["level"] == "error"]
    assert not errors, errors
    assert page.js("document.title").startswith("Carte interactive du patrimoine minier")
    assert page.js("document.getElementById('sources').textContent").startswith("Sources\u00a0: ")


@needs_chromium
def test_layers_draw(page, site):
    from PIL import Image
    counts = page.js("""(() => { const o = {};
        for (const id of %s) o[id] = document.querySelectorAll('.leaflet-p-' + id + '-pane path, .leaflet-p-' + id +
            '-pane .leaflet-marker-icon').length;
        return o; })()""" % json.dumps(LAYER_IDS))
    assert all(n > 0 for n in counts.values()), counts
    # legend panel: a checkbox per layer, and unticking one removes its drawing
    assert page.js("document.querySelectorAll('#layers input[type=checkbox]').length") == len(LAYER_IDS)
    page.js("(() => { const b = document.querySelector('#layers input[data-layer=cites]'); b.click(); })()")
    assert page.js("document.querySelectorAll('.leaflet-p-cites-pane path').length") == 0
    page.js("document.querySelector('#layers input[data-layer=cites]').click()")
    assert page.js("document.querySelectorAll('.leaflet-p-cites-pane path').length") == counts["cites"]

    png = page.screenshot()
    out, _ = site
    (out.parent / "overview.png").write_bytes(png)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.size == (WIDTH, HEIGHT)
    panel_w = page.js("document.getElementById('panel').getBoundingClientRect().width")
    mapimg = img.crop((int(panel_w) + 1, 0, WIDTH, HEIGHT))
    colours = mapimg.getcolors(maxcolors=1 << 20)
    background = max(colours)[1]
    drawn = sum(n for n, c in colours if c != background)
    assert len(colours) > 200, f"only {len(colours)} colours: blank map?"
    assert drawn > 0.2 * mapimg.width * mapimg.height
    # heritage colours of the print style are on screen (bien inscrit magenta, cités, puits black)
    rgb = {c for _, c in colours}
    assert (0, 0, 0) in rgb


@needs_chromium
def test_search_zooms_to_cite_and_opens_popup(page, site, built_gpkg):
    cite = _unique_cite(built_gpkg)
    zoom0 = page.js("MBM_APP.map.getZoom()")
    page.js("document.getElementById('search-input').focus()")
    page.send("Input.insertText", {"text": cite["nom"]})
    rect = page.wait_js("""(() => { const name = %s;
        for (const li of document.querySelectorAll('#search-list li[role=option]')) {
          if (li.querySelector('.s-label').textContent === name) {
            const r = li.getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y + r.height / 2}; } }
        return null; })()""" % json.dumps(cite["nom"]))
    page.click(rect["x"], rect["y"])
    name = page.wait_js("(document.querySelector('.leaflet-popup .popup-name') || {}).textContent", timeout=10)
    assert name == cite["nom"]
    popup = page.js("document.querySelector('.leaflet-popup').textContent")
    assert "Cités minières" in popup and "Type de cité" in popup and "Commune" in popup
    page.wait_js("!MBM_APP.map._animatingZoom && !MBM_APP.map._panAnim?._inProgress")
    time.sleep(0.3)
    view = page.js("""(() => { const m = MBM_APP.map, c = m.getCenter(), b = m.getBounds();
        return {lat: c.lat, lon: c.lng, zoom: m.getZoom(), s: b.getSouth(), w: b.getWest(), n: b.getNorth(),
                e: b.getEast()}; })()""")
    assert view["zoom"] >= 14 and view["zoom"] > zoom0
    assert view["s"] < cite["lat"] < view["n"] and view["w"] < cite["lon"] < view["e"]
    assert _metres(view["lat"], view["lon"], cite["lat"], cite["lon"]) < 800
    (site[0].parent / "search.png").write_bytes(page.screenshot())


# ------------------------------------------------------------------------------------------------
# search keys (Python side; the browser tests check app.js folds the same way)

def test_search_key():
    from mbm_sig.web.build import search_key
    assert search_key("Fosse 9-9bis") == "fosse 9 9 bis"
    assert search_key("fosse 9 - 9 BIS") == "fosse 9 9 bis"
    assert search_key("T094") == search_key("T 94") == search_key("t94") == "t 94"
    assert search_key("Cœur de l'Église n°09") == "coeur de l eglise n 9"
    assert search_key("  ") == ""


@pytest.fixture(scope="module")
def meta(site):
    out, _ = site
    return json.loads((out / "data/layers.js").read_text(encoding="utf-8")
                      .removeprefix("window.MBM_META=").rstrip().rstrip(";"))


def _type(page, text):
    page.js("(() => { const i = document.getElementById('search-input'); i.value = ''; i.focus(); })()")
    page.send("Input.insertText", {"text": text})
    return page.wait_js("""(() => { const l = document.getElementById('search-list');
        const o = [...l.querySelectorAll('li[role=option]')]; return !l.hidden && o.length ?
        o.map(li => [li.querySelector('.s-label').textContent, li.querySelector('.s-detail').textContent]) : null;
        })()""")


def _settle(page):
    """Wait for the zoom, pan and cluster animations to end."""
    page.wait_js("!MBM_APP.map._animatingZoom && !MBM_APP.map._panAnim?._inProgress && "
                 "!document.querySelector('.leaflet-cluster-anim')")
    time.sleep(0.6)
    page.wait_js("!document.querySelector('.leaflet-cluster-anim')")


def _centre(page, selector):
    return page.js("""(() => { const vw = innerWidth, vh = innerHeight;
        for (const e of document.querySelectorAll(%s)) { const r = e.getBoundingClientRect();
          const x = r.x + r.width / 2, y = r.y + r.height / 2;
          if (r.width && x > 360 && x < vw - 60 && y > 60 && y < vh - 40 && document.elementFromPoint(x, y) &&
              (document.elementFromPoint(x, y) === e || e.contains(document.elementFromPoint(x, y))))
            return {x: x, y: y, text: e.textContent}; }
        return null; })()""" % json.dumps(selector))


@needs_chromium
def test_search_keys_match_python(page, meta):
    from mbm_sig.web.build import search_key
    labels = [e[0] for e in meta["search"][::25]] + ["Fosse 9-9\u00a0bis", "T094", "Œuvre n°0012", "Saint-Éloi"]
    js = page.js("%s.map(MBM_APP.searchKey)" % json.dumps(labels, ensure_ascii=False))
    assert js == [search_key(t) for t in labels]


@needs_chromium
def test_search_heritage_layers(page, meta, built_gpkg):
    # «fosse 9»: the shafts of every fosse n° 9 first, and the Fosse 9-9bis building
    shown = _type(page, "fosse 9")
    fosse9 = built_gpkg.read("puits").query("fosse == '9'")
    assert len(fosse9) >= 2
    for r in fosse9.itertuples():
        assert [f"Fosse 9, puits {r.puits}", f"Puits de mine · {r.commune}"] in shown[:len(fosse9) + 1]
    assert any(label == "Fosse 9-9\u00a0bis" and detail.startswith("Patrimoine bâti") for label, detail in shown)
    # insensitive to hyphens, spaces and case: «9-9bis», «9 9 BIS» find the same things
    a, b = _type(page, "9-9bis"), _type(page, "9 9 BIS")
    assert a == b and "Fosse 9-9\u00a0bis" in [x[0] for x in a]
    assert any("Puits de mine" in d and "fosse 9 - 9 bis" in d for _, d in a)     # the Oignies shafts by alias
    # accents: «lievin» finds Liévin (commune first)
    assert _type(page, "lievin")[0] == ["Liévin", "Commune · CA de Lens - Liévin"] or \
        _type(page, "lievin")[0][0] == "Liévin"
    # «T 94»: terril numbers with or without the zeros; no T094 in the inventory: the nearest numbers,
    # the nearest first, said so
    numbers = set(built_gpkg.read("terrils")["no_terril"])
    assert "T094" not in numbers and "T093" in numbers
    shown = _type(page, "T 94")
    assert shown[0][0].endswith("(T093)") and all(re.search(r"\(T0(89|9\d)[a-z]?\)$", x[0]) for x in shown)
    assert "Pas de terril n°\u00a094" in page.js("document.querySelector('#search-list .s-note').textContent")
    assert _type(page, "t93")[0][0].endswith("(T093)")
    # every heritage layer is searchable
    kinds = {e[2] for e in meta["search"]}
    assert kinds == {"communes", "cites", "terrils", "bati", "puits"}
    page.js("(() => { const i = document.getElementById('search-input'); i.value = ''; i.blur(); })()")


@needs_chromium
def test_click_puits_inside_cluster(page, meta):
    page.js("MBM_APP.map.closePopup(); MBM_APP.map.fitBounds(MBM_META.start); 0")
    _settle(page)
    assert page.js("MBM_APP.map.getZoom()") < 13
    clusters = page.js("document.querySelectorAll('.leaflet-p-puits-pane .puits-cluster').length")
    assert clusters >= 5, "the puits are not clustered at the start view"
    assert page.js("document.querySelectorAll('.leaflet-p-puits-pane .pt-puits').length") < 636 - clusters
    # the largest cluster: click it until single shafts show, then click one
    pt = None
    for step in range(8):
        if step:       # at least one cluster clicked: the shaft is one that was inside it
            pt = _centre(page, ".leaflet-p-puits-pane .pt-puits")
            if pt:
                break
        c = page.js("""(() => { let best = null, n = -1;
            for (const e of document.querySelectorAll('.leaflet-p-puits-pane .puits-cluster')) {
              const r = e.getBoundingClientRect(), k = parseInt(e.textContent.replace(/\\s/g, ''));
              if (r.x > 360 && r.x < innerWidth - 80 && r.y > 60 && r.y < innerHeight - 60 && k > n) {
                n = k; best = {x: r.x + r.width / 2, y: r.y + r.height / 2}; } }
            return best; })()""")
        assert c, "no cluster left to click"
        z = page.js("MBM_APP.map.getZoom()")
        page.click(c["x"], c["y"])
        page.wait_js("MBM_APP.map.getZoom() > %r" % z, timeout=10)
        _settle(page)
    assert pt, "no single puits after zooming into clusters"
    page.click(pt["x"], pt["y"])
    kind = page.wait_js("(document.querySelector('.leaflet-popup .popup-kind') || {}).textContent")
    assert kind == next(m["title"] for m in meta["layers"] if m["id"] == "puits")
    name = page.js("document.querySelector('.leaflet-popup .popup-name').textContent")
    assert re.match(r"(Fosse|Puits) ", name), name
    popup = page.js("document.querySelector('.leaflet-popup').textContent")
    assert "Commune" in popup and "INSEE" not in popup and "SIREN" not in popup
    page.wait_js("decodeURIComponent(location.hash).includes('objet=puits/')")
    page.js("MBM_APP.map.closePopup(); 0")


def _nested_terrils(cat):
    """(small, large): two terrils where the small one lies on the large one; a point of the small one
    that is also inside the large one (in EPSG:4326)."""
    import geopandas as gpd
    t = cat.read("terrils")
    t = t.assign(area=t.geometry.area).sort_values("area")
    big = t.sort_values("area", ascending=False)
    for s in t.itertuples():
        for b in big.itertuples():
            if b.area <= 1.3 * s.area or b.no_terril == s.no_terril:
                continue
            inter = s.geom.intersection(b.geom)
            if inter.area > 0.6 * s.area:
                p = s.geom.buffer(-5).intersection(b.geom).representative_point()
                ll = gpd.GeoSeries([p], crs=t.crs).to_crs("EPSG:4326").iloc[0]
                return s.no_terril, b.no_terril, (ll.y, ll.x)
    pytest.fail("no terril lies on a larger one in the data")


@needs_chromium
def test_small_terril_above_large_one_is_selectable(page, built_gpkg):
    small, large, (lat, lon) = _nested_terrils(built_gpkg)
    page.js("""(() => { for (const id of ['puits', 'bati', 'cavaliers']) {
        document.querySelector('#layers input[data-layer=' + id + ']').checked && 
        document.querySelector('#layers input[data-layer=' + id + ']').click(); }
        MBM_APP.map.closePopup(); MBM_APP.map.setView([%r, %r], 16, {animate: false}); })()""" % (lat, lon))
    _settle(page)
    xy = page.js("(() => { const p = MBM_APP.map.latLngToContainerPoint([%r, %r]); "
                 "const r = document.getElementById('map').getBoundingClientRect(); "
                 "return {x: p.x + r.x, y: p.y + r.y}; })()" % (lat, lon))
    page.click(xy["x"], xy["y"])
    name = page.wait_js("(document.querySelector('.leaflet-popup .popup-name') || {}).textContent")
    assert name.endswith(f"({small})"), f"clicked {name}, expected the small terril {small} over {large}"
    page.js("""(() => { MBM_APP.map.closePopup(); for (const id of ['puits', 'bati', 'cavaliers'])
        document.querySelector('#layers input[data-layer=' + id + ']').click(); })()""")


def _view(page):
    return page.js("""(() => { const m = MBM_APP.map, c = m.getCenter();
        return {lat: c.lat, lon: c.lng, zoom: m.getZoom(),
                layers: [...document.querySelectorAll('#layers input:checked')].map(i => i.dataset.layer).sort(),
                popup: (document.querySelector('.leaflet-popup .popup-name') || {}).textContent || null}; })()""")


@needs_chromium
def test_permalink_restores_view_layers_and_feature(page, site, built_gpkg):
    cite = _unique_cite(built_gpkg)
    entry = page.js("MBM_META.search.find(e => e[2] === 'cites' && e[0] === %s)" % json.dumps(cite["nom"]))
    page.js("document.querySelector('#layers input[data-layer=cavaliers]').click(); "
            "MBM_APP.showFeature('cites', %d); 0" % entry[3])
    page.wait_js("(document.querySelector('.leaflet-popup .popup-name') || {}).textContent === %s"
                 % json.dumps(cite["nom"]))
    _settle(page)
    page.js("MBM_APP.map.panBy([60, -40], {animate: false}); 0")
    time.sleep(0.6)       # the hash is written 120 ms after the last change
    before = _view(page)
    url = page.js("location.href")
    assert "#carte=" in url and "couches=" in url and "objet=cites" in url, url
    assert "cavaliers" not in before["layers"] and before["popup"] == cite["nom"]
    page.js("document.querySelector('#layers input[data-layer=cavaliers]').click(); 0")   # restore for others

    other = Chromium()
    try:
        other.open_page()
        other.navigate(url)
        other.wait_js("!!(window.MBM_APP && document.querySelector('.leaflet-popup .popup-name'))")
        time.sleep(0.5)
        after = _view(other)
    finally:
        other.close()
    assert after["zoom"] == before["zoom"]
    assert _metres(after["lat"], after["lon"], before["lat"], before["lon"]) < 2
    assert after["layers"] == before["layers"]
    assert after["popup"] == cite["nom"]
    # and a puits selected inside a cluster at the link's zoom opens there, view unchanged
    fid = json.loads((site[0] / "data/puits.geojson").read_text(encoding="utf-8"))["features"][0]["id"]
    link = url.split("#")[0] + f"#carte=10/50.45/2.9&couches=communes,puits&objet=puits/{fid}"
    other = Chromium()
    try:
        other.open_page()
        other.navigate(link)
        other.wait_js("!!(window.MBM_APP && document.querySelector('.leaflet-popup .popup-name'))")
        v = _view(other)
        assert v["zoom"] == 10 and v["layers"] == ["communes", "puits"]
        assert other.js("document.querySelectorAll('.puits-cluster').length") > 0     # still clustered
        assert _metres(v["lat"], v["lon"], 50.45, 2.9) < 2 and re.match(r"(Fosse|Puits) ", v["popup"])
    finally:
        other.close()


@needs_chromium
def test_phone_layout_panel_folds(site):
    from PIL import Image
    out, _ = site
    phone = Chromium()
    try:
        phone.open_page(390, 844, mobile=True)
        phone.navigate((out / "index.html").as_uri())
        phone.wait_js("!!window.MBM_APP && document.querySelectorAll('.leaflet-pane svg path').length > 100")
        time.sleep(0.5)
        box = lambda sel: phone.js("(() => { const r = document.querySelector(%s).getBoundingClientRect(); "  # noqa: E731
                                   "return {x: r.x, y: r.y, w: r.width, h: r.height}; })()" % json.dumps(sel))
        # a phone opens on the map: the panel folded to its title bar and the search field
        assert phone.js("document.getElementById('app').classList.contains('collapsed')")
        assert phone.js("document.getElementById('panel-toggle').getAttribute('aria-expanded')") == "false"
        m = box("#map")
        assert m["w"] == 390 and m["h"] > 0.8 * 844, m
        assert box("#search-input")["w"] > 300 and not phone.js("document.getElementById('layers').offsetParent")
        png = phone.screenshot()
        (out.parent / "phone-folded.png").write_bytes(png)
        img = Image.open(io.BytesIO(png)).convert("RGB")
        assert img.size == (390, 844) and len(img.getcolors(1 << 20)) > 100
        # unfolding shows the layers and the legend, folding again gives the map back
        t = box("#panel-toggle")
        phone.click(t["x"] + t["w"] / 2, t["y"] + t["h"] / 2)
        phone.wait_js("document.getElementById('layers').offsetParent !== null")
        assert box("#panel")["h"] < 0.7 * 844 and box("#map")["h"] > 0.3 * 844
        (out.parent / "phone-open.png").write_bytes(phone.screenshot())
        t = box("#panel-toggle")
        phone.click(t["x"] + t["w"] / 2, t["y"] + t["h"] / 2)
        phone.wait_js("document.getElementById('app').classList.contains('collapsed')")
        assert box("#map")["h"] > 0.8 * 844
    finally:
        phone.close()


@needs_chromium
def test_print_view_is_one_landscape_page(page, site, tmp_path):
    import pypdf
    data = page.send("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True}, timeout=60)["data"]
    pdf = tmp_path / "carte.pdf"
    pdf.write_bytes(base64.b64decode(data))
    (site[0].parent / "print.pdf").write_bytes(pdf.read_bytes())
    r = pypdf.PdfReader(pdf)
    assert len(r.pages) == 1
    w, h = float(r.pages[0].mediabox.width), float(r.pages[0].mediabox.height)
    assert abs(w - 841.89) < 2 and abs(h - 595.28) < 2, (w, h)      # A4 landscape
    text = " ".join(r.pages[0].extract_text().split())
    assert "Carte interactive du patrimoine minier" in text and "Sources" in text and "Cités minières" in text
    assert "Imprimer la carte" not in text and "Zoom avant" not in text
