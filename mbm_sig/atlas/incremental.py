"""Incremental atlas runs: a persistent sheet cache, the warm :class:`Atlas` of notebooks and
``mbm-sig atlas NAME --watch``.

Every body page of an atlas (map sheet, table page, chart) is cached as the PDF its renderer
wrote, under a key made of

- its **static inputs**: the tool (package version, a hash of the package's code, the versions
  of the drawing stack, ``MBM_SIG_PDF_FASTPATH``, the production date), the page kind, title,
  parameters and part, the atlas fields a page shows, and for a map the *effective* recipe (the
  YAML with its parameters filled and the atlas's comparable series applied); for a table its
  rows; for a chart its spec, the recipe it draws and the facts files (``data/*.csv``);
- the **version of every catalogue layer the page read**, recorded while it rendered (reads,
  ``has_data``, layer definitions, sources): the layer's data (a hash of its rows on
  GeoPackage, of its rows' text on PostGIS) and its definition (fields, style, sources, from
  ``layers/NAME.yaml`` and ``layers/sources.yaml``).

The lookup is done in two steps, as ccache's direct mode: the static key names a *manifest*
listing the layers the page read when it was rendered and, for each set of their versions
seen, the cached PDF; a page whose static key has an entry whose layer versions all still hold
is a hit. So a recipe edit re-renders the sheets of that recipe; a new style of ``puits``
re-renders the sheets that read ``puits``; an import into ``terrils`` re-renders the sheets that
read ``terrils``; a comment in a recipe or a touched file re-renders nothing.

The book (cover, contents, waiting sheets, sources, page numbers, bookmarks) is always
assembled again by the engine from the page files, as a cold run does: same inputs, same
bytes. Its own pages (cover, contents, sources, waiting sheets, the page-number overlay) are
memoised on their inputs in the same cache, so a change that keeps the contents re-renders
none of them, and one that changes a title or a page count re-renders them.

Cache files are written beside their name and renamed (:func:`mbm_sig.atomic.write_beside`): a
reader sees an entry whole or not at all, and two processes sharing the folder at most redo
each other's work. They are not flushed to disk (the book is): each page's digest is in its
manifest and checked on every hit, so a file a crash cut short is a miss, never a page. The
folder is kept under a size bound (``limit_mb``, least recently used entries removed first)."""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mbm_sig.atomic import describe_os_error, write_beside

#: default bound of the sheet cache, in MB (about 400 sheets of the atlases)
DEFAULT_LIMIT_MB = 256
#: manifest entries kept per static key (versions of its layers seen most recently)
MANIFEST_ENTRIES = 4
#: how often `--watch` looks at the files (seconds) where the kernel does not tell of changes
POLL_SECONDS = 0.02
#: where it does (Linux inotify), how long it waits for word before looking anyway (a file
#: system that gives no events, a PostGIS catalogue, a stop asked for)
WAKE_SECONDS = 0.25
#: an event with no «file closed» after it: how long the file must stay quiet to be taken
SETTLE_SECONDS = 0.01

#: page PDFs a warm process keeps in memory (the pages of a few books)
PAGES_KEPT = 400
#: the book's own pages a warm process keeps (cover, contents, sources, numbers of recent books)
BOOK_PAGES_KEPT = 32

#: a warm rebuild runs with the cyclic garbage collector paused until its book is written
#: (its passes over the sheet's objects, some milliseconds, come after the new book), while
#: it has rendered at most this many pages (a longer one is collected as it goes)
PAUSED_PAGES = 4

ALL = "*"              # a page that read something that cannot be attributed to one layer
#: catalogue reads a warm process keeps while the catalogue and the layer definitions stay
#: as they are (the frames the last pages read; a re-rendered sheet reads the same ones)
READS_KEPT = 48


def _h(*parts) -> str:
    h = hashlib.blake2b(digest_size=20)
    for p in parts:
        if not isinstance(p, bytes):
            p = json.dumps(p, sort_keys=True, default=repr, ensure_ascii=False).encode()
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    try:
        return hashlib.blake2b(Path(path).read_bytes(), digest_size=20).hexdigest()
    except FileNotFoundError:
        return "missing"


@functools.lru_cache(maxsize=1)
def tool_key() -> str:
    """The tool part of every key: the package's code (a code change made without a version
    bump invalidates the cache too), its version and the drawing stack as installed
    (:func:`mbm_sig.stack.code_digest`)."""
    from mbm_sig.stack import code_digest
    return _h(code_digest())


def render_settings() -> dict:
    """Settings outside the files that change what a page looks like."""
    from mbm_sig.maps import fmt
    return {"fastpath": os.environ.get("MBM_SIG_PDF_FASTPATH", "1"), "date": fmt.production_date().isoformat()}


# ---------------------------------------------------------------------------------------
# versions of the catalogue's layers and of their definitions

def _stat(path: Path):
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def catalogue_stamp(cat) -> tuple:
    """What changes when the catalogue's data change: the backend's ``state()`` (a GeoPackage
    by its content and its write-ahead log; PostGIS by its import log and the server's count of
    rows changed in the schema)."""
    return cat.backend.state()


class Versions:
    """Versions of the layers of one catalogue: data and definition, each a short hash,
    computed on demand and kept while the catalogue file and the definitions are unchanged."""

    def __init__(self, cat):
        self.cat = cat
        self._stamp = None
        self._data: dict[str, str] = {}
        self._defs: dict[str, str] = {}
        self.epoch = 0                  # counts the changes of the layer definitions
        self._of: dict = {}

    def refresh(self) -> None:
        stamp = catalogue_stamp(self.cat)
        if stamp != self._stamp:
            self._stamp, self._data, self._of = stamp, {}, {}

    def forget_definitions(self) -> None:
        self._defs, self._of = {}, {}
        self.epoch += 1

    def data(self, name: str) -> str:
        if name not in self._data:
            self._data[name] = self._data_version(name)
        return self._data[name]

    def definition(self, name: str) -> str:
        if name not in self._defs:
            try:
                self._defs[name] = _h(repr(self.cat.layer_def(name)))
            except (KeyError, LookupError, ValueError):
                self._defs[name] = "undefined"
        return self._defs[name]

    def of(self, name: str) -> str:
        if name == ALL:
            return _h(self._stamp)
        if name.startswith("#"):        # the set of defined layer names
            return _h(sorted(self.cat.definitions()))
        key = (name, self._stamp, self.epoch)
        hit = self._of.get(key)
        if hit is None:
            hit = self._of[key] = _h(self.data(name), self.definition(name))
        return hit

    def _data_version(self, name: str) -> str:
        b = self.cat.backend
        if b.kind == "gpkg":
            return _gpkg_table_hash(Path(b.path), name)
        import sqlalchemy as sa
        if name not in b.layer_names():
            return "absent"
        with b._connect() as con:
            return str(con.execute(sa.text(
                f"SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM "
                f"(SELECT t::text AS x FROM {b._t(name)} t) s")).scalar_one())


def _gpkg_table_hash(path: Path, name: str) -> str:
    """A hash of every row of a GeoPackage table (read-only; rowid order), or «absent»."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?",
                           (name,)).fetchone():
            return "absent"
        h = hashlib.blake2b(digest_size=20)
        q = f'"{name.replace(chr(34), chr(34) * 2)}"'
        try:
            cur = con.execute(f"SELECT * FROM {q} ORDER BY rowid")
        except sqlite3.OperationalError:
            cur = con.execute(f"SELECT * FROM {q}")
        h.update(repr([d[0] for d in cur.description]).encode())
        for row in cur:
            h.update(repr(row).encode())
        return h.hexdigest()
    finally:
        con.close()


class Tracking:
    """A catalogue seen through a page render: every layer it reads, tests or whose definition
    or sources it asks for is recorded in ``deps``; anything else is passed through (an access
    to the backend itself records :data:`ALL`). ``reads``: the warm process's frames by read
    (:func:`_read_key`; reads, provenance, last imports), each handed out as a copy."""

    _NAMED = ("read", "has_data", "layer_def", "sources_for", "last_import", "provenance", "fill_command")

    def __init__(self, cat, deps: set, reads: dict | None = None):
        object.__setattr__(self, "_cat", cat)
        object.__setattr__(self, "_deps", deps)
        object.__setattr__(self, "_reads", reads)

    def __getattr__(self, name):
        cat, deps = object.__getattribute__(self, "_cat"), object.__getattribute__(self, "_deps")
        value = getattr(cat, name)
        reads = object.__getattribute__(self, "_reads")
        if name in ("read", "last_import", "provenance") and reads is not None:
            def read(layer=None, *a):
                deps.add(ALL if layer is None else str(layer))
                key = _read_key(name, layer, *a)
                hit = reads.get(key, reads)
                if hit is reads:
                    hit = reads[key] = value(layer, *a)
                    while len(reads) > READS_KEPT:
                        del reads[next(iter(reads))]
                return hit.copy() if hit is not None else None
            if name == "read":
                return lambda layer, bbox=None, where=None, columns=None: read(layer, bbox, where, columns)
            return read
        if name in Tracking._NAMED:
            def named(layer=None, *a, **k):
                deps.add(ALL if layer is None else str(layer))
                return value(layer, *a, **k) if layer is not None else value(*a, **k)
            return named
        if name == "definitions":
            def definitions():
                deps.add("#names")
                return value()
            return definitions
        if name in ("sql", "layers", "export", "backend"):
            deps.add(ALL)
        return value

    def __setattr__(self, name, value):           # per-catalogue memos (town names) stay on it
        setattr(object.__getattribute__(self, "_cat"), name, value)


def _read_key(what: str, layer, bbox=None, where=None, columns=None) -> str:
    return repr((what, str(layer), None if bbox is None else tuple(float(x) for x in bbox),
                 sorted((str(k), repr(v)) for k, v in (where or {}).items()),
                 None if columns is None else list(columns)))


#: the frames of the current warm run's catalogue reads (set by :meth:`Run.lookup`)
_READS: dict = {"frames": None}


def render_page_tracked(job):
    """:func:`engine._render_page` with the layers the page reads recorded: its result and the
    sorted layer names (in the worker that renders it)."""
    from mbm_sig.atlas import engine
    real = engine._WORKER["cat"]
    deps: set = set()
    engine._WORKER["cat"] = Tracking(real, deps, _READS["frames"])
    try:
        res = engine._render_page(job)
    finally:
        engine._WORKER["cat"] = real
    return (*res, sorted(deps))


# ---------------------------------------------------------------------------------------
# the persistent cache

def _write(path: Path, data: bytes) -> None:
    """A cache file written beside its name and renamed (:func:`mbm_sig.atomic.write_beside`):
    readers see it whole or not at all. Not flushed to disk: a file a crash cut short fails
    the digest check of :meth:`SheetCache.lookup` and is a miss."""
    try:
        write_beside(path, data)
    except OSError as exc:
        from mbm_sig.errors import Failure
        raise Failure(describe_os_error(exc, path)) from exc


def _hex(name: str) -> str:
    """A cache file name: a digest (hex), nothing that could leave the cache folder."""
    if not name or any(c not in "0123456789abcdef" for c in name):
        raise ValueError(f"not a cache key: {name!r}")
    return name


class SheetCache:
    """Cached page PDFs in ``root``: ``objects/`` (the PDFs, by the hash of their static key and
    layer versions) and ``manifests/`` (per static key: the layers read and the entries seen)."""

    def __init__(self, root: Path | str | None = None, limit_mb: float = DEFAULT_LIMIT_MB):
        if root is None:
            from mbm_sig.config import settings
            root = settings().cache_dir / "atlas-pages"
        self.root = Path(root)
        self.limit = int(limit_mb * 1024 * 1024)
        self._written = 0

    def _object(self, oid: str) -> Path:
        return self.root / "objects" / oid[:2] / f"{_hex(oid)}.pdf"

    def _manifest(self, key: str) -> Path:
        return self.root / "manifests" / key[:2] / f"{_hex(key)}.json"

    def _read_manifest(self, key: str) -> dict:
        try:
            doc = json.loads(self._manifest(key).read_text(encoding="utf-8"))
            return doc if isinstance(doc, dict) and isinstance(doc.get("entries"), list) else {"entries": []}
        except (FileNotFoundError, ValueError, OSError):
            return {"entries": []}

    def lookup(self, key: str, version_of) -> tuple[bytes | None, list | None]:
        """(the cached PDF's bytes, its layers) for ``key`` when the layers it read still have
        the versions recorded (``version_of(name)``), else (None, the layers last read or None).
        The bytes are checked against the digest the manifest recorded: a file cut short (a
        crash before the disk had it) or changed is a miss."""
        man = self._read_manifest(key)
        deps = None
        for e in man["entries"]:
            deps, vers = e.get("deps") or [], e.get("versions") or []
            if len(deps) == len(vers) and all(version_of(d) == v for d, v in zip(deps, vers, strict=True)):
                try:
                    path = self._object(str(e.get("object")))
                    data = path.read_bytes()
                    os.utime(path)             # recently used: kept by the size bound
                    os.utime(self._manifest(key))
                except (FileNotFoundError, ValueError):     # removed by the bound (or another process)
                    continue
                if hashlib.blake2b(data, digest_size=20).hexdigest() != e.get("sha"):
                    continue
                return data, deps
        return None, deps

    def store(self, key: str, deps: list, versions: list, data: bytes) -> Path:
        oid = _h(key, deps, versions)
        path = self._object(oid)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _write(path, data)
            self._written += len(data)
        man = self._read_manifest(key)
        entry = {"deps": list(deps), "versions": list(versions), "object": oid,
                 "sha": hashlib.blake2b(data, digest_size=20).hexdigest()}
        entries = [entry] + [e for e in man["entries"] if e.get("object") != oid]
        mpath = self._manifest(key)
        mpath.parent.mkdir(parents=True, exist_ok=True)
        _write(mpath, json.dumps({"entries": entries[:MANIFEST_ENTRIES]}).encode())
        return path

    def size(self) -> int:
        return sum(f.stat().st_size for f in (self.root / "objects").rglob("*.pdf") if f.is_file())

    def prune(self) -> int:
        """Remove the least recently used PDFs until the cache holds at most ``limit`` bytes;
        returns the bytes removed. Safe while another process uses the cache (a manifest left
        pointing to a removed PDF is a miss)."""
        files = []
        for f in (self.root / "objects").rglob("*.pdf"):
            try:
                st = f.stat()
            except FileNotFoundError:
                continue
            files.append((st.st_mtime_ns, st.st_size, f))
        total = sum(s for _, s, _ in files)
        removed, oldest = 0, None
        for t, s, f in sorted(files, key=lambda t: t[0]):
            if total - removed <= self.limit:
                oldest = t
                break
            try:
                f.unlink()
                removed += s
            except FileNotFoundError:
                pass
        if removed:                # manifests not used since the oldest page kept point to nothing kept
            for m in (self.root / "manifests").rglob("*.json"):
                try:
                    if oldest is None or m.stat().st_mtime_ns < oldest:
                        m.unlink()
                except FileNotFoundError:
                    pass
        return removed

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# one run: the engine's hooks

def _atlas_fields(atlas) -> dict:
    return {"name": atlas.name, "title": atlas.title, "subtitle": atlas.subtitle, "edition": atlas.edition,
            "producer": atlas.producer, "series": {k: v for k, v in atlas.series_values.items() if k[:1] != "@"},
            "cover_notes": atlas.cover_notes, "method_notes": atlas.method_notes}


def recipe_files(recipe: Path) -> list[Path]:
    """The files a recipe draws besides the catalogue (:func:`mbm_sig.atlas.engine.recipe_files`)."""
    from mbm_sig.atlas.engine import recipe_files as files
    return files(recipe)


class _UsedDict(dict):
    """A dictionary that remembers which of its keys were asked for or set."""

    def __init__(self, items) -> None:
        super().__init__(items)
        self._used: set = set()

    def get(self, key, default=None):
        self._used.add(key)
        return super().get(key, default)

    def __setitem__(self, key, value) -> None:
        self._used.add(key)
        super().__setitem__(key, value)

    def used(self) -> dict:
        return {k: v for k, v in self.items() if k in self._used}


class Run:
    """The cache's part in one engine run (see :func:`mbm_sig.atlas.engine._render`): which
    pages are cached, the tracked renderer for the others, their storing once the book is
    written, and the memo of the book's own pages."""

    render_page = staticmethod(render_page_tracked)

    def __init__(self, cache: SheetCache, versions: Versions, memo: dict | None = None):
        self.cache, self.versions = cache, versions
        self.memo = memo if memo is not None else {}      # warm process: (key) -> result
        self._warm = memo is not None
        self.keys: dict[int, str] = {}
        self.hits: dict[int, Path] = {}
        self.rendered: dict[int, list] = {}
        self._files: dict[int, Path] = {}
        self._book: list = []
        self._common: str | None = None
        self._values: tuple | None = None       # (the atlas's series values, their hash)
        self.paused = False                     # the collector paused by this run (:meth:`Atlas._build`)
        self._plans: _UsedDict | None = None

    # -- pages --------------------------------------------------------------------------
    def page_key(self, atlas, page) -> str:
        from mbm_sig.config import FACTS_DIR
        if self._common is None:
            self._common = _h(tool_key(), render_settings(), _atlas_fields(atlas))
        # the page's own part, kept for the page objects a warm plan reuses
        hit = self.memo.get(("page", id(page)))
        if hit is None or hit[0] is not page:
            own = _h(page.kind, page.title, page.params, page.part, page.parts,
                     page.spec.table if page.kind != "map" else None, page.rows if page.kind == "table" else None,
                     getattr(page, "widths", None))
            hit = self.memo[("page", id(page))] = (page, own)
        base = [self._common, hit[1]]
        spec = page.spec
        if page.kind == "map":
            base += [self._effective_recipe(atlas, spec.recipe, page.params)]
        elif page.kind == "table":
            pass
        else:
            facts = sorted(Path(FACTS_DIR).glob("*.csv")) if Path(FACTS_DIR).is_dir() else []
            extra = {f.name: _file_digest(f) for f in facts}
            if isinstance(spec.table.get("recipe"), str) and atlas.path:
                extra["recipe"] = _file_digest(Path(atlas.path).parent / spec.table["recipe"])
            base += [spec.table, extra]
        return _h(*base)

    def _effective_recipe(self, atlas, recipe: Path, params: dict):
        """The recipe as the page draws it: parameters filled, series applied (memoised on the
        file's stamp)."""
        from mbm_sig.atlas import series
        from mbm_sig.maps.recipe import load_recipe
        files = recipe_files(recipe)
        if self._values is None or self._values[0] is not atlas.series_values:     # hashed once a run
            self._values = (atlas.series_values, _h(atlas.series_values))
        k = ("recipe", str(recipe), tuple(_stat(f) for f in [recipe, *files]), _h(params), self._values[1])
        hit = self.memo.get(k)
        if hit is None:
            r = series.apply(load_recipe(str(recipe), params), atlas.series_values)
            hit = self.memo[k] = _h(r.doc, [_file_digest(f) for f in files])
        return hit

    def lookup(self, atlas, body: list, jobs: list) -> dict[int, Path]:
        self.versions.refresh()
        self._stamp = catalogue_stamp(self.versions.cat)
        # the frames read by earlier runs of this process, while the catalogue and the layer
        # definitions are those they were read from
        reads = self.memo.get(("reads",))
        key = (id(self.versions.cat), self._stamp, self.versions.epoch)
        if reads is None or reads[0] != key:
            reads = self.memo[("reads",)] = (key, {})
        _READS["frames"] = reads[1]
        for idx, _, page, out in jobs:
            key = self.keys[idx] = self.page_key(atlas, page)
            data = self._warm_hit(key)
            if data is None:
                data, deps = self.cache.lookup(key, self.versions.of)
                if data is not None:
                    self._remember(key, deps or [], data)
            if data is not None:           # a copy of its own: another process may prune the cache
                self.hits[idx] = self._hit_file(key, data, Path(out))
        return dict(self.hits)

    def _hit_file(self, key: str, data: bytes, out: Path) -> Path:
        """A file holding a page found for ``key``: in a warm process (the memo outlives the
        run) the one written for the same bytes by an earlier run, in a folder of its own that
        lives as long as the memo (written once per page, not in each run's scratch folder:
        a book rewritten after a one-sheet edit writes one page file, not 28); else ``out``."""
        if not self._warm:
            out.write_bytes(data)
            return out
        folder = self.memo.get(("hit-dir",))
        if folder is None:
            import tempfile
            folder = self.memo[("hit-dir",)] = tempfile.TemporaryDirectory(prefix="mbm-warm-pages-")
        had = self.memo.get(("hit-file", key))
        if had is not None and had[0] is data and had[1].is_file():
            return had[1]
        path = Path(folder.name) / f"{key}.pdf"
        write_beside(path, data)
        self.memo[("hit-file", key)] = (data, path)
        return path

    def _warm_hit(self, key: str) -> bytes | None:
        """A page this process already had for ``key``, if the layers it read are unchanged."""
        hit = self.memo.get(("hit", key))
        if hit is not None and all(self.versions.of(d) == v for d, v in hit[0]):
            return hit[1]
        return None

    def _remember(self, key: str, deps: list, data: bytes) -> None:
        k = ("hit", key)
        self.memo[k] = ([(d, self.versions.of(d)) for d in deps], data)
        order = self.memo.setdefault(("hit-order",), [])
        order.append(k)
        while len(order) > PAGES_KEPT:
            gone = order.pop(0)
            self.memo.pop(gone, None)
            if gone not in order:                       # (its file, if a run wrote one)
                had = self.memo.pop(("hit-file", gone[1]), None)
                if had is not None:
                    had[1].unlink(missing_ok=True)

    def done(self, idx: int, path, deps: list) -> None:
        self.rendered[idx] = list(deps)
        self._files[idx] = Path(path)
        if self.paused and len(self.rendered) > PAUSED_PAGES:       # a long rebuild: collected as it goes
            self.paused = False
            gc.enable()

    def store(self) -> None:
        """Write the pages rendered in this run to the cache (after the book: the book does
        not wait for the cache), then keep the cache under its bound."""
        _READS["frames"] = None
        if catalogue_stamp(self.versions.cat) != getattr(self, "_stamp", None):
            self.rendered = {}            # written while the pages rendered: nothing is stored
            self.memo.pop(("reads",), None)
        for idx, deps in self.rendered.items():
            versions = [self.versions.of(d) for d in deps]
            data = self._files[idx].read_bytes()
            self.cache.store(self.keys[idx], deps, versions, data)
            self._remember(self.keys[idx], deps, data)
        for key, data in self._book:
            self.cache.store(key, [], [], data)
        self._book = []
        if self._plans is not None:
            self.memo[("book-plans",)] = self._plans.used()
            self._plans = None
        if self.cache._written:
            self.cache.prune()
            self.cache._written = 0

    # -- the plan and the sources page's methods, kept in a warm process ----------------
    def plan(self, atlas, cat, only, **options):
        """The engine's plan, reused while the atlas definition (recipe titles included), the
        catalogue and the layer definitions are unchanged."""
        from mbm_sig.atlas import engine
        key = ("plan", repr(atlas), catalogue_stamp(cat), self.versions.epoch, tuple(only or ()),
               tuple(sorted(options.items())))
        hit = self.memo.get(key)
        if hit is None:
            self._forget("plan")
            self._forget("page")
            hit = self.memo[key] = engine.plan(atlas, cat, only, **options)
        return hit

    def methods_used(self, atlas) -> list:
        """:func:`pages.methods_used` (the sources page's method paragraphs), each recipe read
        again only when it changed."""
        from types import SimpleNamespace as NS

        from mbm_sig.atlas import pages
        recipes = list(dict.fromkeys(sh.recipe for sec in atlas.sections for sh in sec.sheets if sh.recipe))
        found: set = set()
        memo = self.memo.setdefault(("methods",), {})
        for r in recipes:
            key = (str(r), _stat(r))
            if key not in memo:
                memo[key] = pages.methods_used(NS(sections=[NS(sheets=[NS(recipe=r)])]))
            found.update(memo[key])
        keep = {(str(r), _stat(r)) for r in recipes}
        for key in [k for k in memo if k not in keep]:
            del memo[key]
        return [m for m in pages.METHOD_NOTES if m in found]

    def _forget(self, kind: str) -> None:
        for k in [k for k in self.memo if isinstance(k, tuple) and k[0] == kind]:
            del self.memo[k]

    # -- the book writer's page plans ---------------------------------------------------
    def book_plans(self) -> dict:
        """The plans of the book's pages (:func:`mbm_sig.maps.output.book.page_plan`, by the
        content of the page files) this process made for its last build: a page whose file
        is unchanged is placed in the new book without being parsed. Those this run does not
        use are dropped when it ends (:meth:`store`)."""
        if self._plans is None:
            self._plans = _UsedDict(self.memo.get(("book-plans",)) or {})
        return self._plans

    # -- the book's own pages -------------------------------------------------------------
    def _keep(self, key: str, value) -> None:
        """A book page in the warm memo (the last :data:`BOOK_PAGES_KEPT`)."""
        self.memo[key] = value
        order = self.memo.setdefault(("book-order",), [])
        if key in order:
            order.remove(key)
        order.append(key)
        while len(order) > BOOK_PAGES_KEPT:
            self.memo.pop(order.pop(0), None)

    def book_pdf(self, what: str, inputs, dest: Path, make) -> None:
        """``make(dest)`` writes one of the book's own pages from ``inputs``; memoised."""
        key = _h(tool_key(), render_settings(), "book", what, inputs)
        data = self.memo.get(key)
        if data is None:
            data, _ = self.cache.lookup(key, self.versions.of)
        if data is not None:
            Path(dest).write_bytes(data)
        else:
            make(dest)
            data = Path(dest).read_bytes()
            self._book.append((key, data))
        self._keep(key, data)

    def book_pdfs(self, what: str, inputs, folder: Path, make) -> tuple[list[Path], object]:
        """``make(folder)`` writes several pages and returns (their paths, a value that goes
        with them: the page where the sources start); memoised as a whole."""
        key = _h(tool_key(), render_settings(), "book", what, inputs)
        hit = self.memo.get(key)
        if hit is None:
            data, _ = self.cache.lookup(key, self.versions.of)
            if data is not None:
                try:
                    doc = json.loads(data)
                    hit = ([bytes.fromhex(x) for x in doc["parts"]], doc.get("extra"))
                except (ValueError, KeyError, TypeError):
                    hit = None
        if hit is None:
            made, extra = make(folder)
            parts = [Path(p).read_bytes() for p in made]
            self._book.append((key, json.dumps({"parts": [p.hex() for p in parts], "extra": extra}).encode()))
            self._keep(key, (parts, extra))
            return list(made), extra
        out = []
        for k, data in enumerate(hit[0]):
            p = Path(folder) / f"{what}-{k}.pdf"
            p.write_bytes(data)
            out.append(p)
        self._keep(key, hit)
        return out, hit[1]


# ---------------------------------------------------------------------------------------
# being told of changes: Linux inotify (through ctypes, no dependency)

_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF, _IN_Q_OVERFLOW, _IN_IGNORED = 0x400, 0x800, 0x4000, 0x8000
_IN_ONLYDIR = 0x01000000
_IN_MASK = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
            | _IN_DELETE_SELF | _IN_MOVE_SELF)
#: events after which a file is whole (written and closed, renamed into place, removed)
_IN_DONE = _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_DELETE | _IN_MOVED_FROM | _IN_ATTRIB


class Notifier:
    """The kernel's word on changes to some files (Linux inotify, through ctypes): the folders
    holding them are watched (an editor that saves by renaming a new file over the old one
    is seen too) and :meth:`wait` returns as soon as one of the files is written, renamed or
    removed. :meth:`create` gives None where inotify is missing (another system, no more
    watches allowed): the caller polls instead."""

    def __init__(self, libc, fd: int) -> None:
        self._libc, self.fd = libc, fd
        self._dirs: dict[str, int] = {}        # folder -> watch descriptor
        self._names: dict[int, tuple] = {}     # watch descriptor -> (folder, file names looked at)
        self._pending: dict[str, int] = {}     # file -> the last event seen, not yet settled
        self.touched: set[str] = set()         # files named by an event since :meth:`take`

    @classmethod
    def create(cls) -> Notifier | None:
        if not sys.platform.startswith("linux") or os.environ.get("MBM_SIG_WATCH_POLL"):
            return None
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return None
        return cls(libc, fd) if fd >= 0 else None

    def watch(self, paths, suffixes: dict | None = None) -> bool:
        """Watch these files (and only these: the folders' other files wake nobody), and in the
        folders of ``suffixes`` ({folder: suffix}) any file with that suffix (a new layer
        definition); False when a folder could not be watched (then the caller polls)."""
        want: dict[str, set] = {}
        for p in paths:
            p = Path(os.path.abspath(p))
            want.setdefault(str(p.parent), set()).add(p.name)
        for d, suffix in (suffixes or {}).items():
            want.setdefault(os.path.abspath(d), set()).add("*" + suffix)
        ok = True
        for d in [d for d in self._dirs if d not in want]:
            self._libc.inotify_rm_watch(self.fd, self._dirs.pop(d))
        for d, names in want.items():
            wd = self._dirs.get(d)
            if wd is None:
                if not os.path.isdir(d):            # (its files are missing: looked at anyway)
                    continue
                wd = self._libc.inotify_add_watch(self.fd, os.fsencode(d), _IN_MASK | _IN_ONLYDIR)
                if wd < 0:
                    ok = False
                    continue
                self._dirs[d] = wd
            self._names[wd] = (d, names)
        return ok

    @staticmethod
    def _wanted(name: str, names: set) -> bool:
        return name in names or any(n[0] == "*" and name.endswith(n[1:]) for n in names)

    def _read(self) -> bool:
        """Read the events waiting; True if one concerns a watched file (or events were lost)."""
        import struct
        hit = False
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return hit
            i = 0
            while i + 16 <= len(buf):
                wd, mask, _, n = struct.unpack_from("iIII", buf, i)
                name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode(errors="surrogateescape")
                i += 16 + n
                if mask & (_IN_Q_OVERFLOW | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_IGNORED):
                    hit = True
                    if mask & (_IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF):     # the folder went away
                        for d, w in list(self._dirs.items()):
                            if w == wd:
                                del self._dirs[d]
                    continue
                d, names = self._names.get(wd, ("", ()))
                if name and self._wanted(name, names):
                    hit = True
                    path = os.path.join(d, name)
                    self._pending[path] = mask
                    self.touched.add(path)

    def wait(self, timeout: float) -> bool:
        """Wait at most ``timeout`` s for a change to a watched file; True if one came."""
        import select
        if self._read():
            return True
        try:
            ready, _, _ = select.select([self.fd], [], [], timeout)
        except InterruptedError:            # (a signal: the caller looks at its stop flag)
            return False
        return bool(ready) and self._read()

    def settle(self, quiet: float = SETTLE_SECONDS, most: float = 2.0) -> None:
        """Return once every file an event named is whole: closed after writing, renamed into
        place or removed, or quiet for ``quiet`` s (a writer that keeps its file open)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < most:
            self._read()
            if all(m & _IN_DONE for m in self._pending.values()):
                break
            if not self.wait(quiet):
                break
        self._pending.clear()

    def take(self) -> set[str]:
        """The files named by an event since the last call (their contents are looked at
        again whatever their size and time say: two saves within one tick of the clock).
        The files not yet whole stay pending: :meth:`settle`, called after, waits for them
        (a save seen at its truncation is not read half-written)."""
        self._read()
        out, self.touched = self.touched, set()
        return out

    def close(self) -> None:
        os.close(self.fd)


# ---------------------------------------------------------------------------------------
# the warm atlas (notebooks) and --watch

@dataclass
class Rebuild:
    """What one (re)build did: the book, its pages, the body pages rendered again (titles),
    those taken from the cache, the inputs that changed since the previous build."""

    pdf: Path | None
    pages: int
    rendered: list[str]
    reused: int
    seconds: float
    changed: list[str] = field(default_factory=list)
    result: object = None

    def __repr__(self) -> str:
        return (f"<Rebuild {self.pdf}: {self.pages} pages, {len(self.rendered)} rendered, {self.reused} from the "
                f"cache, {self.seconds:.2f} s>")


class Atlas:
    """An atlas kept warm in this process (a notebook, ``--watch``): :meth:`build` renders it
    (pages found in the sheet cache are reused), :meth:`rebuild` renders again only the pages
    whose inputs changed and rewrites the book, :meth:`watch` rebuilds on every change.

        from mbm_sig.atlas import Atlas
        a = Atlas("sante")
        a.build()                 # <Rebuild out/atlas-sante.pdf: 28 pages, 28 rendered, …>
        # … edit atlases/maps/sante_hopitaux.yaml …
        a.rebuild().rendered      # ['Hôpitaux et établissements de santé']
    """

    def __init__(self, name: str | Path, out_dir: Path | str | None = None, catalogue=None, *,
                 cache: SheetCache | Path | str | None = None, workers: int | None = None, only=None,
                 sheets: bool = False, png: bool = False, progress: bool = False, split_by: str | None = None,
                 limit_mb=DEFAULT_LIMIT_MB):
        from mbm_sig.catalogue import Catalogue
        self.name = name
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.cat = catalogue or Catalogue.open(create=False)
        self.cache = cache if isinstance(cache, SheetCache) else SheetCache(cache, limit_mb)
        self.workers, self.only, self.sheets, self.png, self.progress = workers, only, sheets, png, progress
        self.split_by = split_by
        self.versions = Versions(self.cat)
        self.memo: dict = {}
        self._files: dict[str, tuple] = {}     # watched path -> (stat, digest)
        self._watched: list[Path] | None = None
        self._cat_stamp: tuple | None = None
        self._asked = 0.0                       # when a PostGIS catalogue was last asked for its stamp
        self._data: dict | None = None         # data versions of every layer at the last build
        self._notifier: Notifier | None = None  # while watching where the kernel tells of changes
        self._watching: tuple = ()              # what it watches
        self._touched: set[str] = set()         # files it said were written since the last build
        self.last: Rebuild | None = None
        self._definition: tuple | None = None   # (its files, what was taken from them, the atlas)

    # -- inputs ---------------------------------------------------------------------------
    def inputs(self, atlas=None) -> list[Path]:
        """The files the atlas is made from: its definition, the recipes of its sheets and
        charts (and the files they draw), the layer definitions and sources, the facts files."""
        from mbm_sig.atlas.engine import load_atlas
        from mbm_sig.config import FACTS_DIR, LAYERS_DIR
        out: list[Path] = []
        try:
            atlas = atlas or load_atlas(self.name)
            out.append(Path(atlas.path))
            for sec in atlas.sections:
                for sh in sec.sheets:
                    if sh.recipe:
                        out.append(Path(sh.recipe))
                        out += recipe_files(Path(sh.recipe))
                    elif sh.kind == "chart" and isinstance((sh.table or {}).get("recipe"), str):
                        out.append((Path(atlas.path).parent / sh.table["recipe"]).resolve())
        except Exception:                   # a definition being edited: watch what was watched
            out += [Path(p) for p in self._files if Path(p).suffix == ".yaml" and "layers" not in Path(p).parts]
            from mbm_sig.atlas.engine import ATLASES_DIR
            p = Path(self.name) if Path(self.name).suffix else ATLASES_DIR / f"{self.name}.yaml"
            out.append(p)
        out += sorted(Path(LAYERS_DIR).glob("*.yaml"))
        if Path(FACTS_DIR).is_dir():
            out += sorted(Path(FACTS_DIR).glob("*.csv"))
        return list(dict.fromkeys(out))

    def _inputs_now(self) -> list[Path]:
        """The inputs of the last build, plus any file that appeared in the definitions
        folders (cheap: called on every poll)."""
        from mbm_sig.config import FACTS_DIR, LAYERS_DIR
        if self._watched is None:
            self._watched = self.inputs()
        extra = sorted(Path(LAYERS_DIR).glob("*.yaml"))
        if Path(FACTS_DIR).is_dir():
            extra += sorted(Path(FACTS_DIR).glob("*.csv"))
        return list(dict.fromkeys(self._watched + extra))

    def _snapshot(self, taken: bool = False) -> dict[str, tuple]:
        """Each input's (stat, digest); a file whose stat is unchanged keeps its digest unless
        the kernel said it was written since the last build. ``taken``: the snapshot the
        next changes are measured against (the files written before it are forgotten)."""
        if self._notifier is not None:
            self._touched |= self._notifier.take()
        snap = {}
        for p in self._inputs_now():
            st = _stat(p)
            old = self._files.get(str(p))
            fresh = old and old[0] == st and os.path.abspath(p) not in self._touched
            digest = old[1] if fresh else (_file_digest(p) if st else "missing")
            snap[str(p)] = (st, digest)
        if taken:
            self._touched = set()
        return snap

    def changes(self) -> list[str]:
        """The inputs whose content changed since the last build (files by path, the catalogue
        as ``catalogue``), without building: what :meth:`poll` and ``--watch`` look at."""
        snap = self._snapshot()
        changed = [p for p in set(snap) | set(self._files)
                   if (snap.get(p) or (None, None))[1] != (self._files.get(p) or (None, None))[1]]
        if self.cat.backend.kind != "gpkg":        # a server: asked at most once a second
            if time.monotonic() - self._asked < 1.0:
                return sorted(changed)
            self._asked = time.monotonic()
        stamp = catalogue_stamp(self.cat)
        if stamp != self._cat_stamp:
            if self._data is not None and self._data_versions() == self._data:
                self._cat_stamp = stamp        # opened or rewritten by another program, same rows
            else:
                changed.append("catalogue")
        return sorted(changed)

    def _data_versions(self) -> dict:
        """The data version of every layer of the catalogue (and of the defined ones)."""
        v = Versions(self.cat)
        v.refresh()
        names = set(self.cat.backend.layer_names()) | set(self.cat.definitions())
        return {n: v.data(n) for n in sorted(names)}

    def _note_data(self) -> None:
        """Between two polls: the layers' data versions that the last build saw (kept only
        when the catalogue did not change meanwhile), to tell a catalogue merely opened by
        another program (QGIS) from one whose rows changed."""
        stamp = catalogue_stamp(self.cat)
        if self._data is not None or stamp != self._cat_stamp:
            return
        data = self._data_versions()
        if catalogue_stamp(self.cat) == stamp:
            self._data = data

    # -- building -------------------------------------------------------------------------
    def build(self) -> Rebuild:
        """Render the atlas (pages in the cache are reused) and write the book."""
        return self._build([])

    def rebuild(self) -> Rebuild:
        """Render again the pages whose recipe, layer data, style or other input changed since
        the last build, and rewrite the book (contents, page numbers, bookmarks)."""
        return self._build(self.changes() if self.last is not None else [])

    def poll(self) -> Rebuild | None:
        """One look at the inputs: a rebuild when something changed, else None (``--watch``
        calls it in a loop; tests call it directly)."""
        if self.last is None:
            return self.build()
        changed = self.changes()
        if changed:
            return self._build(self._settled(changed))
        self._note_data()
        return None

    def _settled(self, changed: list[str], wait: float = SETTLE_SECONDS, most: float = 2.0) -> list[str]:
        """The changes once the files stop moving (an editor writing a file in place, a copy
        under way): while watching with the kernel's word, once each file is closed or renamed
        into place (or quiet for ``wait``); else looked at again after ``wait`` until two looks
        agree (at most ``most`` s)."""
        if self._notifier is not None:
            self._notifier.settle(wait, most)
            # no word of a file since the changes were looked at: they are whole as seen
            return (self.changes() or changed) if self._notifier.touched else changed
        t0 = time.monotonic()
        seen = {p: _stat(Path(p)) for p in changed if p != "catalogue"}
        while time.monotonic() - t0 < most:
            time.sleep(wait)
            now = {p: _stat(Path(p)) for p in seen}
            if now == seen:
                break
            seen = now
        return self.changes() or changed

    def _build(self, changed: list[str]) -> Rebuild:
        from mbm_sig.atlas import engine
        from mbm_sig.catalogue import Catalogue, layerdef
        from mbm_sig.config import LAYERS_DIR
        from mbm_sig.maps.recipe import load as recipe_load
        t0 = time.perf_counter()
        if any(Path(p).parent == Path(LAYERS_DIR) for p in changed if p != "catalogue"):
            layerdef.load_layers.cache_clear()
            layerdef.load_sources.cache_clear()
            self.versions.forget_definitions()
        if "catalogue" in changed and self.cat.backend.kind == "gpkg":
            # a fresh catalogue object: the backend's layer caches follow the new file
            self.cat = Catalogue.open(self.cat.url)
            self.versions = Versions(self.cat)
        # files changed with their size and times as they were (two saves within one tick of
        # the clock, seen by the kernel's word): the memos kept by file times are dropped
        same_stat = [p for p in changed if p in self._files and self._files[p][0] == _stat(Path(p))]
        if same_stat:
            engine._read_recipe_doc.cache_clear()
            recipe_load.forget_parsed()
            for k in [k for k in self.memo if isinstance(k, tuple) and k and k[0] in ("recipe", "methods")]:
                del self.memo[k]
        atlas = None
        try:
            atlas = self._load_atlas()
        finally:                    # a definition that does not load: watched until it does
            self._watched = self.inputs(atlas)
            self._files = self._snapshot(taken=True)
            self._cat_stamp, self._data = catalogue_stamp(self.cat), None
        run = Run(self.cache, self.versions, self.memo)
        if atlas.series:            # the comparable series, resolved again only when their inputs change
            from mbm_sig.atlas import series
            key = ("series", repr(atlas.series), self._cat_stamp, self.versions.epoch)
            if key not in self.memo:
                run._forget("series")
                self.memo[key] = series.resolve(atlas.series, self.cat, str(atlas.path))
            atlas.series_values = self.memo[key]
        run.paused = self.last is not None and gc.isenabled()       # (a rebuild: PAUSED_PAGES)
        if run.paused:
            gc.disable()
        try:
            res = engine._render(atlas, self.cat, self.out_dir, self.only, self.sheets, self.png, self.workers,
                                 self.progress, split_by=self.split_by, cache=run)
        finally:
            if run.paused:
                gc.enable()
        body = res.body
        rendered = [body[i].title for i in sorted(run.rendered)]
        self.last = Rebuild(res.pdf, res.pages, rendered, len(run.hits), time.perf_counter() - t0, changed, res)
        return self.last

    def _load_atlas(self):
        """:func:`engine.load_atlas`, read again only when what it takes from its files
        changed: the atlas file (byte for byte), the recipes it names (there, their titles);
        each build gets its own copy of the fields the engine sets (series values, cover)."""
        from dataclasses import replace

        from mbm_sig.atlas import engine

        def seen(paths: list[str]) -> list:
            out: list = []
            for k, p in enumerate(paths):
                try:
                    out.append(Path(p).read_bytes() if k == 0 else engine._recipe_title(Path(p)))
                except Exception:           # noqa: BLE001 - missing, or not YAML: load_atlas says so
                    out.append(None)
            return out
        kept = self._definition
        now = seen(kept[0]) if kept else None      # (looked at before the atlas is read: a file
        if kept is None or now != kept[1]:          # written meanwhile is seen next time)
            atlas = engine.load_atlas(self.name)
            names = [str(p) for p in [atlas.path, *dict.fromkeys(sh.recipe for sec in atlas.sections
                                                                 for sh in sec.sheets if sh.recipe)]]
            kept = self._definition = (names, now if kept and names == kept[0] else seen(names), atlas)
        a = kept[2]
        return replace(a, cover_notes=list(a.cover_notes), method_notes=list(a.method_notes), series=dict(a.series),
                       series_values=dict(a.series_values))

    def _watch_files(self) -> None:
        """Tell the notifier the files of the last build (they change with the atlas)."""
        from mbm_sig.config import FACTS_DIR, LAYERS_DIR
        paths = [str(p) for p in self._inputs_now()]
        if self.cat.backend.kind == "gpkg":
            db = str(self.cat.backend.path)
            paths += [db, f"{db}-wal", f"{db}-journal"]
        key = tuple(paths)
        if key != self._watching and self._notifier is not None:
            if not self._notifier.watch(paths, {LAYERS_DIR: ".yaml", FACTS_DIR: ".csv"}):
                self._notifier.close()             # a folder that cannot be watched: polled
                self._notifier = None
            self._watching = key

    def watch(self, interval: float | None = None, stop=None, report=None) -> None:
        """Rebuild on every change until ``stop()`` is true (or Ctrl-C); ``report(rebuild)``
        is told of each (errors of a rebuild are reported, the watch goes on). On Linux the
        kernel tells of each write (inotify): the rebuild starts as soon as the file is
        closed; the files are looked at anyway every ``interval`` s (default
        :data:`WAKE_SECONDS`; :data:`POLL_SECONDS` where there is no inotify, or with
        ``MBM_SIG_WATCH_POLL=1``)."""
        from mbm_sig.errors import MbmSigError
        self._notifier = Notifier.create()
        try:
            self._watch(interval, stop, report, MbmSigError)
        finally:
            if self._notifier is not None:
                self._notifier.close()
            self._notifier, self._watching = None, ()

    def _watch(self, interval, stop, report, MbmSigError) -> None:
        if self.last is None:
            r = self.build()
            if report:
                report(r)
        if self._notifier is not None:
            self._watch_files()
        while not (stop and stop()):
            try:
                r = self.poll()
            except Exception as exc:            # a file saved half-typed: said once, the watch goes on
                if not isinstance(exc, MbmSigError):
                    if os.environ.get("MBM_SIG_DEBUG"):
                        import traceback
                        traceback.print_exc()
                    exc = MbmSigError(f"{type(exc).__name__}: {exc}")
                self._files = self._snapshot(taken=True)      # report once, wait for the next edit
                self._cat_stamp = catalogue_stamp(self.cat)
                if report:
                    report(exc)
                r = None
            if r is not None and report:
                report(r)
            if self._notifier is not None:
                self._watch_files()
            if self._notifier is not None:
                self._notifier.wait(WAKE_SECONDS if interval is None else interval)
            else:
                time.sleep(POLL_SECONDS if interval is None else interval)


# ---------------------------------------------------------------------------------------
# the command line: mbm-sig atlas NAME --cache | --watch

def _line(r: Rebuild, root: Path) -> str:
    def rel(p):
        try:
            return str(Path(p).resolve().relative_to(root))
        except ValueError:
            return str(p)
    what = ", ".join(f"«{t}»" for t in r.rendered[:3])
    if len(r.rendered) > 3:
        what += f" and {len(r.rendered) - 3} more"
    books = getattr(r.result, "books", None) or []
    out = f"{len(books)} books" if books else f"{r.pdf}"
    text = (f"{time.strftime('%H:%M:%S')} {out}: {r.pages} pages, {len(r.rendered)} rendered"
            + (f" ({what})" if r.rendered else "") + f", {r.reused} from the cache, {r.seconds:.2f} s")
    if r.changed:
        text += " — changed: " + ", ".join(rel(p) if p != "catalogue" else p for p in r.changed)
    return text


def cli_watch(a) -> int:
    """``mbm-sig atlas NAME --cache`` (one run through the sheet cache) or ``--watch``."""
    import signal

    from mbm_sig.config import PROJECT_ROOT
    from mbm_sig.errors import MbmSigError
    try:
        atlas = Atlas(a.name, a.out, only=a.only, sheets=a.sheets, png=a.png, workers=a.workers,
                      progress=not a.quiet and not a.watch, split_by=a.split_by)
        first = atlas.build()
    except MbmSigError as exc:
        print(f"error: {exc.message()}", file=sys.stderr)
        return exc.exit_code
    print(_line(first, PROJECT_ROOT), flush=True)
    if not a.watch:
        return 0
    print(f"watching {len(atlas.inputs())} files and the catalogue {atlas.cat.backend_display()} (Ctrl-C stops)",
          flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))

    def report(r):
        if isinstance(r, MbmSigError):
            print(f"error: {r.message()} (waiting for the next change)", file=sys.stderr, flush=True)
        else:
            print(_line(r, PROJECT_ROOT), flush=True)
    try:
        atlas.watch(stop=lambda: bool(stopping), report=report)
    except KeyboardInterrupt:
        pass
    return 0
