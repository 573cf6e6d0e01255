"""The offline interactive heritage map (``mbm-sig web``): built from the real-data catalogue,
then opened from ``file://`` in real headless Chromium (the Debian package, /usr/bin/chromium),
driven through the Chrome DevTools protocol over a pipe (``--remote-debugging-pipe``: no port,
no extra dependency).

Checked in the browser: no console error, no request outside the output folder, the layers
draw (screenshot not blank), the layer panel toggles a layer, and searching a cité by name
zooms to it and opens its popup.
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

    def open_page(self):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})

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
    assert 'version: "1.9.4"' in (out / "lib/leaflet/leaflet.js").read_text()[:2000].replace("'", '"') or \
        "1.9.4" in (out / "lib/leaflet/leaflet.js").read_text()[:2000]
    html = (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in html
    # offline: no absolute URL is loaded by the page (links in text are allowed, loads are not)
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', html)
    for js in ("app.js", "data/layers.js"):
        assert not re.search(r"\bfetch\(|XMLHttpRequest|https?://[^\"' ]+\.(js|css|png)", (out / js).read_text())
    assert "Sources : " in html and "2012" in html and "2026" in html
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
    assert page.js("document.getElementById('sources').textContent").startswith("Sources : ")


@needs_chromium
def test_layers_draw(page, site):
    from PIL import Image
    counts = page.js("""(() => { const o = {};
        for (const id of %s) o[id] = document.querySelectorAll('.leaflet-p-' + id + '-pane path').length;
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
