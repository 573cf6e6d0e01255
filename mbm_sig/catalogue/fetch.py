"""``mbm-sig fetch``: download the official sources of ``layers/sources.yaml`` into the data
directory (``MBM_SIG_DATA_DIR``).

For every source of the manifest:

- ``registry`` sources are installed with the project: nothing to download.
- ``url`` (+ optional ``member``): the file is downloaded once into ``<data_dir>/_downloads/``
  (several sources sharing one ZIP share one download). A ``member`` (e.g. ``Terrils.shp``)
  is extracted from the ZIP with its sidecar files and converted to the mirror file.
- ``wfs`` + ``typename``: a WFS 2.0 GetFeature request in GeoJSON, EPSG:4326.

The mirror file (``<data_dir>/<mirror>``, what the catalogue builders read) is GeoJSON in
EPSG:4326 (converted with pyogrio) or a copy of the downloaded CSV.

Downloads are checksummed (SHA-256, recorded in ``_downloads/manifest.json`` with URL, size
and date; checked against the manifest's ``sha256`` when it gives one), resumable (HTTP Range
on a ``.part`` file), cached (a download whose recorded checksum still matches is not fetched
again; ``force=True`` re-downloads) and atomic (temporary file + ``os.replace``). Offline, it
fails fast: a short connect timeout, no retry, and one line per source.

Only the standard library is used for HTTP.
"""

from __future__ import annotations

from mbm_sig.errors import Failure, UnknownName

import argparse
import contextlib
import datetime as dt
import functools
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mbm_sig.catalogue.layerdef import Source, load_sources, parse_sources
from mbm_sig.config import settings

__all__ = ["FetchError", "FetchResult", "download_path", "fetch", "main", "source_url", "wfs_url"]

DOWNLOADS_DIR = "_downloads"
MANIFEST_FILE = "manifest.json"
CONNECT_TIMEOUT = 5.0      # seconds to open a connection (offline: fail fast)
READ_TIMEOUT = 60.0        # seconds without data once connected
CHUNK = 1 << 16
USER_AGENT = "mbm-sig-fetch/0.1 (+https://github.com/; Python urllib)"
SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
GEOJSON_SUFFIXES = (".geojson", ".json")

STATUS_DOWNLOADED = "downloaded"   # fetched over the network, mirror written
STATUS_CACHED = "cached"           # nothing downloaded (cache hit); mirror up to date or rebuilt
STATUS_SKIPPED = "skipped"         # nothing to download (registry package, no URL)
STATUS_FAILED = "failed"


class FetchError(Failure):
    """A source could not be fetched; the message is one line, without the source id."""


class _Unreachable(FetchError):
    """The host could not be reached at all (DNS, refused, connect timeout)."""


class _BadContent(FetchError):
    """The data cannot be turned into the mirror file (member missing, unreadable...)."""


class _BadDownload(_BadContent):
    """The download itself is not what the manifest announces (HTML page, WFS exception...)."""


@dataclass(frozen=True)
class FetchResult:
    source_id: str
    status: str                      # downloaded | cached | skipped | failed
    message: str
    mirror: Path | None = None       # the mirror file written or checked
    url: str | None = None           # the URL downloaded (after base_url_override)
    sha256: str | None = None        # checksum of the download

    @property
    def ok(self) -> bool:
        return self.status != STATUS_FAILED

    def line(self) -> str:
        return f"{self.source_id}: {self.message}"


# --------------------------------------------------------------------------- HTTP plumbing

class _HTTPConnection(http.client.HTTPConnection):
    """Connect with the (short) request timeout, then read with a longer one."""

    def __init__(self, *args, read_timeout: float = READ_TIMEOUT, **kwargs):
        super().__init__(*args, **kwargs)
        self._read_timeout = read_timeout

    def connect(self):
        super().connect()
        self.sock.settimeout(self._read_timeout)


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, read_timeout: float = READ_TIMEOUT, **kwargs):
        super().__init__(*args, **kwargs)
        self._read_timeout = read_timeout

    def connect(self):
        super().connect()              # TCP connect + TLS handshake under the connect timeout
        self.sock.settimeout(self._read_timeout)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, read_timeout: float):
        super().__init__()
        self._read_timeout = read_timeout

    def http_open(self, req):
        return self.do_open(functools.partial(_HTTPConnection, read_timeout=self._read_timeout), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, read_timeout: float):
        super().__init__()
        self._read_timeout = read_timeout

    def https_open(self, req):
        return self.do_open(functools.partial(_HTTPSConnection, read_timeout=self._read_timeout), req,
                            context=self._context)


def _opener(read_timeout: float) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_HTTPHandler(read_timeout), _HTTPSHandler(read_timeout))


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _reason(exc: BaseException) -> str:
    """A short human reason for a network error."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
        if isinstance(exc, str):
            return exc
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return exc.strerror or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# --------------------------------------------------------------------------- paths, manifest

def wfs_url(endpoint: str, typename: str) -> str:
    """The GetFeature URL of a WFS layer, as GeoJSON in EPSG:4326."""
    query = urllib.parse.urlencode({
        "service": "WFS", "version": "2.0.0", "request": "GetFeature", "typeNames": typename,
        "outputFormat": "application/json", "srsName": "EPSG:4326",
    })
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def _override(url: str, base_url: str | None) -> str:
    """Replace the scheme and host of ``url`` by those of ``base_url`` (test servers, mirrors)."""
    if not base_url:
        return url
    base = urllib.parse.urlsplit(base_url)
    u = urllib.parse.urlsplit(url)
    path = base.path.rstrip("/") + u.path
    return urllib.parse.urlunsplit((base.scheme, base.netloc, path, u.query, ""))


def source_url(source: Source, base_url_override: str | None = None) -> str | None:
    """The URL ``fetch`` downloads for ``source`` (None when there is nothing to download)."""
    if source.wfs:
        return _override(wfs_url(source.wfs, source.typename or ""), base_url_override)
    if source.url:
        return _override(source.url, base_url_override)
    return None


def download_path(data_dir: str | os.PathLike, url: str, source: Source | None = None) -> Path:
    """Where the raw download of ``url`` is cached: ``<data_dir>/_downloads/<hash>-<name>``."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    if source is not None and source.wfs:
        name = (source.typename or "wfs").replace(":", "_") + ".geojson"
    else:
        name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "download"
    return Path(data_dir) / DOWNLOADS_DIR / f"{digest}-{name[:80]}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _Manifest:
    """``_downloads/manifest.json``: what was downloaded (by URL) and which mirror came from it."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / DOWNLOADS_DIR / MANIFEST_FILE
        self.doc = {"downloads": {}, "mirrors": {}}
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(doc, dict):
                    self.doc["downloads"].update(doc.get("downloads") or {})
                    self.doc["mirrors"].update(doc.get("mirrors") or {})
            except (OSError, ValueError):
                pass          # a corrupt manifest only costs a re-download

    @property
    def downloads(self) -> dict:
        return self.doc["downloads"]

    @property
    def mirrors(self) -> dict:
        return self.doc["mirrors"]

    def save(self) -> None:
        _atomic_write_text(self.path, json.dumps(self.doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


@contextlib.contextmanager
def _lock(data_dir: Path):
    """One ``fetch`` at a time per data directory."""
    from mbm_sig.atomic import file_lock
    (data_dir / DOWNLOADS_DIR).mkdir(parents=True, exist_ok=True)
    try:
        lock = file_lock(data_dir / DOWNLOADS_DIR / ".lock", blocking=False)
        lock.__enter__()
    except BlockingIOError:
        raise FetchError(f"another mbm-sig fetch is running on {data_dir}") from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


# --------------------------------------------------------------------------- download

def _discard(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _download(url: str, dest: Path, *, expected_sha256: str | None, progress: bool, desc: str,
              connect_timeout: float, read_timeout: float) -> tuple[str, int]:
    """Download ``url`` to ``dest`` through ``dest.part`` (resumed with HTTP Range when present).

    Returns (sha256, size). ``dest`` appears only complete and verified.
    """
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    meta = dest.with_name(dest.name + ".part.json")   # URL and validator of the partial download
    host = _host(url)
    opener = _opener(read_timeout)
    if part.exists():
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = {"url": url}
        if info.get("url") != url:
            _discard(part, meta)
            info = {}
    else:
        info = {}

    for _attempt in range(2):          # second pass only when the server refuses the resume
        offset = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if info.get("validator"):
                headers["If-Range"] = info["validator"]
        req = urllib.request.Request(url, headers=headers)
        try:
            resp = opener.open(req, timeout=connect_timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:      # the partial file is not a prefix any more
                exc.close()
                _discard(part, meta)
                info = {}
                continue
            raise FetchError(f"HTTP {exc.code} {exc.reason} from {host}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise _Unreachable(f"cannot reach {host} ({_reason(exc)})") from None
        except http.client.HTTPException as exc:
            raise FetchError(f"bad HTTP answer from {host} ({type(exc).__name__}: {exc})") from None

        with resp:
            status = resp.status
            length = resp.headers.get("Content-Length")
            length = int(length) if length and length.isdigit() else None
            if offset and status == 206:
                m = re.match(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", ""))
                if not m or int(m.group(1)) != offset:
                    _discard(part, meta)          # unusable partial answer: start over
                    info = {}
                    continue
                mode = "ab"
            else:
                if status not in (200, 203):
                    raise FetchError(f"unexpected HTTP {status} from {host}")
                offset = 0                        # no resume (or the file changed): from scratch
                mode = "wb"
                info = {"url": url, "validator": resp.headers.get("ETag") or resp.headers.get("Last-Modified")}
                _atomic_write_text(meta, json.dumps(info))
            total = offset + length if length is not None else None
            got = offset
            bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                       desc=desc, file=sys.stderr, disable=not progress, leave=False, mininterval=0.2)
            try:
                with open(part, mode) as fh:
                    while True:
                        try:
                            block = resp.read(CHUNK)
                        except (OSError, http.client.HTTPException) as exc:
                            raise FetchError(
                                f"download from {host} interrupted after {got} bytes ({_reason(exc)}); "
                                "run again to resume") from None
                        if not block:
                            break
                        fh.write(block)
                        got += len(block)
                        bar.update(len(block))
                    fh.flush()
                    os.fsync(fh.fileno())
            finally:
                bar.close()
            if total is not None and got < total:
                raise FetchError(f"download from {host} interrupted after {got} of {total} bytes; "
                                 "run again to resume")
        break
    else:
        raise FetchError(f"{host} refused to resume the download twice")

    sha = _sha256(part)
    if expected_sha256 and sha.lower() != expected_sha256.lower():
        _discard(part, meta)
        raise FetchError(f"checksum mismatch for {url}: expected sha256 {expected_sha256.lower()}, "
                         f"got {sha}; the download was discarded")
    size = part.stat().st_size
    os.replace(part, dest)
    _discard(meta)
    return sha, size


# --------------------------------------------------------------------------- conversion

def _zip_names(info: zipfile.ZipInfo) -> list[str]:
    """Candidate readings of a ZIP entry name (legacy archives store UTF-8 without the flag)."""
    names = [info.filename]
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeError):
            names.append(info.filename.encode("cp437").decode("utf-8"))
    return names


def _norm(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _extract_member(zip_path: Path, member: str, workdir: Path) -> Path:
    """Extract ``member`` (and, for a shapefile, its sidecars) into ``workdir``; its path there."""
    if not zipfile.is_zipfile(zip_path):
        with open(zip_path, "rb") as fh:
            head = fh.read(64).decode("utf-8", "replace").strip()
        raise _BadDownload(f"the download is not a ZIP archive (it starts with {head[:30]!r}); "
                          "check the url in layers/sources.yaml")
    want = _norm(member).replace("\\", "/")
    with zipfile.ZipFile(zip_path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        readings = [(i, [n.replace("\\", "/") for n in _zip_names(i)]) for i in infos]

        def matches(names: list[str], target: str) -> bool:
            return any(_norm(n) == target or _norm(n).rsplit("/", 1)[-1] == target for n in names)

        hits = [(i, names) for i, names in readings if matches(names, want)]
        if not hits:
            ext = os.path.splitext(want)[1]
            names = sorted(n[-1] for _, n in readings)
            listing = ", ".join([n for n in names if _norm(n).endswith(ext)] or names) if ext else ", ".join(names)
            raise _BadContent(f"{member!r} is not in the ZIP (it holds: {listing[:300]})")
        info, names = hits[0]
        stem, ext = os.path.splitext(names[-1] if _norm(names[-1]).endswith(want) else names[0])
        ext = ext.lower()
        wanted = {ext: info}
        if ext == ".shp":
            for i, ns in readings:
                for n in ns:
                    s, e = os.path.splitext(n)
                    if _norm(s) == _norm(stem) and e.lower() in SHAPEFILE_SIDECARS:
                        wanted.setdefault(e.lower(), i)
            missing = [e for e in (".shx", ".dbf") if e not in wanted]
            if missing:
                raise _BadContent(f"{member!r} has no {' or '.join(missing)} file in the ZIP")
        for e, i in wanted.items():
            with zf.open(i) as src, open(workdir / f"layer{e}", "wb") as dst:
                shutil.copyfileobj(src, dst)
    return workdir / f"layer{ext}"


def _check_wfs_response(path: Path) -> None:
    """A WFS answer must be a GeoJSON FeatureCollection holding every matched feature."""
    with open(path, "rb") as fh:
        head = fh.read(2048).lstrip()
    if head.startswith(b"<"):
        text = path.read_text(encoding="utf-8", errors="replace")
        m = re.search(r"<(?:\w+:)?ExceptionText>(.*?)</", text, re.S)
        detail = " ".join((m.group(1) if m else text[:200]).split())
        raise _BadDownload(f"the WFS answered with an error instead of GeoJSON: {detail[:300]}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise _BadDownload(f"the WFS answer is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise _BadDownload("the WFS answer is not a GeoJSON FeatureCollection")
    matched, returned = doc.get("numberMatched"), doc.get("numberReturned")
    if isinstance(matched, int) and isinstance(returned, int) and returned < matched:
        raise _BadDownload(f"the WFS returned only {returned} of {matched} features (server limit)")


def _swap_if_latlon(gdf):
    """Fix a lat/lon answer (WFS 2.0 EPSG:4326 axis order) for data in northern France."""
    import shapely

    if gdf.empty:
        return gdf, False
    xmin, ymin, xmax, ymax = gdf.total_bounds
    if 41 <= xmin and xmax <= 52 and -6 <= ymin and ymax <= 10:
        gdf = gdf.copy()
        gdf[gdf.geometry.name] = shapely.transform(gdf.geometry.values, lambda c: c[:, ::-1])
        return gdf, True
    return gdf, False


def _write_mirror(input_path: Path, mirror: Path, *, kind: str) -> str:
    """Write ``mirror`` atomically from ``input_path``; a short description of what was written."""
    mirror.parent.mkdir(parents=True, exist_ok=True)
    suffix = mirror.suffix.lower()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{mirror.stem}.", suffix=f".tmp{suffix}", dir=mirror.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if suffix in GEOJSON_SUFFIXES:
            import pyogrio

            try:
                gdf = pyogrio.read_dataframe(input_path)
            except Exception as exc:   # pyogrio raises DataSourceError & co.
                raise _BadContent(f"cannot read the downloaded data ({exc})") from None
            note = ""
            if gdf.crs is None:
                if kind == "wfs" or input_path.suffix.lower() in GEOJSON_SUFFIXES:
                    gdf = gdf.set_crs("EPSG:4326")
                else:
                    raise _BadContent("the data has no CRS (.prj missing); cannot convert to EPSG:4326")
            elif gdf.crs.to_epsg() != 4326:
                note = f", reprojected from {gdf.crs.to_string()}"
                gdf = gdf.to_crs("EPSG:4326")
            if kind == "wfs":
                gdf, swapped = _swap_if_latlon(gdf)
                if swapped:
                    note += ", lat/lon axis order fixed"
            tmp.unlink()
            pyogrio.write_dataframe(gdf, tmp, driver="GeoJSON")
            desc = f"{len(gdf)} features{note}"
        elif suffix in TEXT_SUFFIXES:
            if input_path.suffix.lower() not in TEXT_SUFFIXES + ("",) and kind == "zip":
                raise _BadContent(f"cannot turn a {input_path.suffix} file into {mirror.name}")
            shutil.copyfile(input_path, tmp)
            with open(tmp, "rb") as fh:
                lines = sum(1 for _ in fh)
            desc = f"{lines} lines"
        else:
            shutil.copyfile(input_path, tmp)
            desc = f"{tmp.stat().st_size} bytes"
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, mirror)
    except BaseException:
        _discard(tmp)
        raise
    return desc


# --------------------------------------------------------------------------- fetch

def _select(sources: Mapping[str, Source], source_ids: Iterable[str] | None) -> list[Source]:
    if not source_ids:
        return list(sources.values())
    ids = list(dict.fromkeys(source_ids))
    unknown = [s for s in ids if s not in sources]
    if unknown:
        raise UnknownName(f"unknown source(s) {', '.join(unknown)}; known sources: {', '.join(sources)}")
    return [sources[s] for s in ids]


def fetch(source_ids: Iterable[str] | None = None, data_dir: str | os.PathLike | None = None,
          force: bool = False, progress: bool = True, base_url_override: str | None = None, *,
          sources: Mapping[str, Source] | Iterable[Source] | None = None,
          on_result: Callable[[FetchResult], None] | None = None,
          connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT) -> list[FetchResult]:
    """Download the sources into the data directory and write their mirror files.

    ``source_ids``: only these sources (default: all of the manifest). ``data_dir``: default
    ``settings().data_dir``. ``force``: download again even when cached. ``base_url_override``:
    replace the scheme and host of every URL (a mirror or a test server). ``sources``: the
    manifest (default ``load_sources()``). ``on_result`` is called after each source.

    Returns one :class:`FetchResult` per source; it never raises for a source that fails
    (its result has status ``failed``). Unknown source ids raise ``ValueError``.
    """
    if sources is None:
        sources = load_sources()
    elif not isinstance(sources, Mapping):
        sources = {s.id: s for s in sources}
    selected = _select(sources, source_ids)
    data_dir = Path(data_dir) if data_dir is not None else settings().data_dir
    results: list[FetchResult] = []

    def emit(r: FetchResult) -> None:
        results.append(r)
        if on_result:
            on_result(r)

    try:
        lock = _lock(data_dir)
        lock.__enter__()
    except (FetchError, OSError) as exc:
        reason = str(exc) if isinstance(exc, FetchError) else f"cannot write to {data_dir} ({_reason(exc)})"
        for s in selected:
            emit(FetchResult(s.id, STATUS_FAILED, reason))
        return results
    try:
        manifest = _Manifest(data_dir)
        done: dict[str, tuple[str, str] | FetchError] = {}     # url -> (sha, status) or error
        dead_hosts: dict[str, _Unreachable] = {}
        for s in selected:
            try:
                r = _fetch_one(s, data_dir, manifest, done, dead_hosts, force=force, progress=progress,
                               base_url=base_url_override, connect_timeout=connect_timeout,
                               read_timeout=read_timeout)
            except FetchError as exc:
                r = FetchResult(s.id, STATUS_FAILED, str(exc), url=source_url(s, base_url_override))
            except OSError as exc:     # disk full, permissions...
                r = FetchResult(s.id, STATUS_FAILED, f"{type(exc).__name__}: {exc}",
                                url=source_url(s, base_url_override))
            emit(r)
    finally:
        lock.__exit__(None, None, None)
    return results


def _fetch_one(s: Source, data_dir: Path, manifest: _Manifest, done: dict, dead_hosts: dict, *,
               force: bool, progress: bool, base_url: str | None, connect_timeout: float,
               read_timeout: float) -> FetchResult:
    if s.registry and s.registry.startswith("npm:"):
        # an npm package: into the cache the build reads (pip cannot install it)
        from mbm_sig.catalogue.builders import MissingSource, decoupage_tarball
        from mbm_sig.config import settings
        try:
            path = decoupage_tarball(settings().cache_dir, url=source_url(s, base_url))
        except MissingSource as exc:
            return FetchResult(s.id, STATUS_FAILED, str(exc), url=s.url)
        return FetchResult(s.id, STATUS_CACHED, f"registry package in {path}", url=s.url)
    if s.registry:
        return FetchResult(s.id, STATUS_SKIPPED, f"installed with the project ({s.registry})")
    url = source_url(s, base_url)
    if url is None:
        return FetchResult(s.id, STATUS_SKIPPED, "nothing to download (no url or wfs in the manifest)")
    if not s.mirror:
        return FetchResult(s.id, STATUS_SKIPPED, "no mirror file in the manifest", url=url)
    if s.wfs and not s.typename:
        raise FetchError("the manifest gives a wfs endpoint without typename")
    dest = download_path(data_dir, url, s)
    mirror = data_dir / s.mirror

    # 1. the download (once per URL and run)
    if url in done:
        prior = done[url]
        if isinstance(prior, FetchError):
            raise prior
        sha, status = prior
        if s.sha256 and sha != s.sha256.lower():
            raise FetchError(f"checksum mismatch for {url}: expected sha256 {s.sha256.lower()}, got {sha}")
    else:
        try:
            sha, status = _ensure_download(s, url, dest, manifest, dead_hosts, force=force, progress=progress,
                                           connect_timeout=connect_timeout, read_timeout=read_timeout)
        except FetchError as exc:
            done[url] = exc
            raise
        done[url] = (sha, status)

    # 2. the mirror file
    rec = manifest.mirrors.get(s.mirror)
    if (status == STATUS_CACHED and rec and rec.get("download_sha256") == sha and mirror.exists()
            and rec.get("sha256") == _sha256(mirror)):
        detail = f", {rec['summary']}" if rec.get("summary") else ""
        return FetchResult(s.id, STATUS_CACHED, f"up to date ({s.mirror}{detail})",
                           mirror=mirror, url=url, sha256=sha)
    try:
        with tempfile.TemporaryDirectory(prefix=".extract-", dir=dest.parent) as work:
            if s.member:
                kind, src = "zip", _extract_member(dest, s.member, Path(work))
            elif s.wfs:
                _check_wfs_response(dest)
                kind, src = "wfs", dest
            else:
                kind, src = "file", dest
            summary = _write_mirror(src, mirror, kind=kind)
    except _BadDownload as exc:
        # do not keep (nor trust next time) a download that is not what the manifest announces
        _discard(dest)
        manifest.downloads.pop(url, None)
        manifest.save()
        done[url] = exc
        raise
    manifest.mirrors[s.mirror] = {"source": s.id, "url": url, "download_sha256": sha,
                                  "sha256": _sha256(mirror), "summary": summary, "date": _now()}
    manifest.save()
    how = "downloaded" if status == STATUS_DOWNLOADED else "rebuilt from the cached download"
    return FetchResult(s.id, status, f"{how} -> {s.mirror} ({summary})", mirror=mirror, url=url, sha256=sha)


def _ensure_download(s: Source, url: str, dest: Path, manifest: _Manifest, dead_hosts: dict, *,
                     force: bool, progress: bool, connect_timeout: float, read_timeout: float) -> tuple[str, str]:
    """(sha256, status) of the cached download of ``url``, downloading it when needed."""
    rec = manifest.downloads.get(url)
    if not force and rec and dest.exists() and dest.name == rec.get("file"):
        sha = _sha256(dest)
        if sha == rec.get("sha256") and (not s.sha256 or sha == s.sha256.lower()):
            return sha, STATUS_CACHED
    if force:
        _discard(dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json"))
    host = _host(url)
    if host in dead_hosts:
        raise dead_hosts[host]
    try:
        sha, size = _download(url, dest, expected_sha256=s.sha256, progress=progress, desc=s.id,
                              connect_timeout=connect_timeout, read_timeout=read_timeout)
    except _Unreachable as exc:
        dead_hosts[host] = exc            # fail fast for the other sources on this host
        raise
    manifest.downloads[url] = {"url": url, "file": dest.name, "sha256": sha, "size": size, "date": _now()}
    manifest.save()
    return sha, STATUS_DOWNLOADED


# --------------------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    """``mbm-sig fetch [SOURCE_ID ...] [--data-dir DIR] [--force]``: 0 when every source is ok."""
    p = argparse.ArgumentParser(prog="mbm-sig fetch", description=__doc__.splitlines()[0])
    p.add_argument("sources", nargs="*", metavar="SOURCE_ID", help="only these sources (default: all)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="data directory (default $MBM_SIG_DATA_DIR or var/mirror)")
    p.add_argument("--force", action="store_true", help="download again even when cached")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--manifest", type=Path, default=None, help="source manifest (default layers/sources.yaml)")
    p.add_argument("--base-url", default=None,
                   help="replace the scheme and host of every URL (a mirror server, tests)")
    args = p.parse_args(argv)

    sources = parse_sources(args.manifest) if args.manifest else None
    data_dir = args.data_dir or settings().data_dir

    def report(r: FetchResult) -> None:
        print(r.line(), file=sys.stderr, flush=True)

    try:
        results = fetch(args.sources or None, data_dir=data_dir, force=args.force, progress=not args.quiet,
                        base_url_override=args.base_url, sources=sources, on_result=report)
    except ValueError as exc:
        print(f"mbm-sig fetch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mbm-sig fetch: interrupted; run it again to resume the downloads", file=sys.stderr)
        return 130
    counts = {k: sum(r.status == k for r in results)
              for k in (STATUS_DOWNLOADED, STATUS_CACHED, STATUS_SKIPPED, STATUS_FAILED)}
    failed = [r.source_id for r in results if not r.ok]
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    print(f"fetch: {summary} (data directory {data_dir})", file=sys.stderr)
    if failed:
        print(f"fetch: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":      # pragma: no cover
    sys.exit(main())
