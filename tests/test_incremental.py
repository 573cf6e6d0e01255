"""Incremental atlas runs (issue 13, target 2): the sheet cache re-renders only the pages whose
inputs changed, the book stays byte-identical to a cold run of the same inputs, and
``mbm-sig atlas --watch`` rebuilds on an edit (real catalogue, real recipes, a small atlas)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, same_bytes
from pypdf import PdfReader

HOSPITALS = "Hôpitaux et établissements de santé"
PUITS = "Les anciens puits de mines par compagnie"
TABLE = "Établissements hospitaliers"

ATLAS = """\
title: Atlas d'essai
producer: Mission Bassin Minier
sections:
  - title: Santé
    sheets:
      - recipe: maps/sante_hopitaux.yaml
  - title: Patrimoine
    sheets:
      - recipe: maps/patri_puits.yaml
      - title: Établissements hospitaliers
        table: {layer: equipements_sante, where: {categorie: Centre hospitalier régional},
                columns: {nom: Établissement, commune: Commune}, sort: nom}
"""


@pytest.fixture(autouse=True)
def _fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")     # 2026-01-01: cold and warm runs agree


def _setup(where: Path, built_gpkg):
    from mbm_sig.catalogue import Catalogue
    d = where / "def"
    (d / "maps").mkdir(parents=True)
    for r in ("sante_hopitaux.yaml", "patri_puits.yaml"):
        shutil.copy(ROOT / "atlases" / "maps" / r, d / "maps" / r)
    (d / "essai.yaml").write_text(ATLAS, encoding="utf-8")
    shutil.copy(built_gpkg.backend.path, where / "cat.gpkg")
    return d, Catalogue.open(str(where / "cat.gpkg")), where / "out", where / "cache"


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory, built_gpkg):
    """The cache of one build of the small atlas (keys hold contents, not places: a copy of
    the atlas and of the catalogue elsewhere finds its pages there)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", "1767225600")
    from mbm_sig.atlas import Atlas
    d, cat, out, cache = _setup(tmp_path_factory.mktemp("warm"), built_gpkg)
    r = Atlas(d / "essai.yaml", out, cat, cache=cache, workers=1).build()
    mp.undo()
    assert len(r.rendered) == 3
    return cache


@pytest.fixture
def small(tmp_path, built_gpkg, warm_cache):
    """A three-page atlas (two real recipes, one table) in its own folder, a copy of the real
    catalogue it may write to, an output folder and a cache folder (a copy of the warm cache)."""
    d, cat, out, cache = _setup(tmp_path, built_gpkg)
    shutil.copytree(warm_cache, cache)
    return d, cat, out, cache


def _atlas(small, **kw):
    from mbm_sig.atlas import Atlas
    d, cat, out, cache = small
    return Atlas(d / "essai.yaml", out, cat, cache=cache, workers=1, **kw)


def _cold(small, where):
    """The same inputs rendered by a plain run (no cache, new catalogue object)."""
    from mbm_sig.atlas import render_atlas
    from mbm_sig.catalogue import Catalogue
    d, cat, _, _ = small
    return render_atlas(d / "essai.yaml", where, catalogue=Catalogue.open(cat.url), workers=1, progress=False).pdf


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_recipe_edit_rerenders_that_sheet_only_and_the_book_is_a_cold_run(small, tmp_path):
    shutil.rmtree(small[3])                                # an empty cache: every page is rendered
    a = _atlas(small)
    first = a.build()
    assert sorted(first.rendered) == sorted([HOSPITALS, PUITS, TABLE]) and first.pages == 6
    assert a.rebuild().rendered == []                      # nothing changed: every page from the cache
    _edit(small[0] / "maps" / "sante_hopitaux.yaml", 'fill: "#f7f4ef"', 'fill: "#e0dccf"')
    r = a.rebuild()
    assert r.rendered == [HOSPITALS] and r.reused == 2
    assert [Path(p).name for p in r.changed] == ["sante_hopitaux.yaml"]
    same_bytes(r.pdf, _cold(small, tmp_path / "cold"))


def test_change_that_must_not_invalidate(small, tmp_path):
    """A comment, a touched file, a YAML spelling of the same values: the same pages."""
    a = _atlas(small)
    a.build()
    before = Path(a.last.pdf).read_bytes()
    rec = small[0] / "maps" / "patri_puits.yaml"
    _edit(rec, "page: A4", "page: 'A4'   # quoted, same value")
    rec.write_text(rec.read_text(encoding="utf-8") + "\n# une note de cartographe\n", encoding="utf-8")
    os.utime(small[0] / "essai.yaml")
    assert a.changes()                                     # the file did change …
    r = a.rebuild()
    assert r.rendered == [] and r.reused == 3              # … not what any page is drawn from
    assert Path(r.pdf).read_bytes() == before


def test_catalogue_opened_elsewhere_is_no_change(small):
    """A catalogue file touched (opened by QGIS, rewritten with the same rows): no rebuild;
    a row changed: a rebuild."""
    a = _atlas(small)
    a.build()
    assert a.poll() is None                                # idle: notes the layers' versions
    os.utime(small[1].backend.path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert a.poll() is None
    cat = small[1]
    cat.write("puits", cat.read("puits").iloc[1:].copy())
    r = a.poll()
    assert r is not None and r.rendered == [PUITS] and r.changed == ["catalogue"]


@pytest.mark.parametrize("told", ["inotify", "polling"])
def test_watch_reports_a_broken_edit_and_goes_on(small, told, monkeypatch):
    """The watch loop, driven in-process: a recipe saved with a typo is reported (once), the
    watch goes on, the fixed recipe gives a new book; a half-typed YAML file likewise. Told of
    the edits by the kernel (Linux inotify) or looking at the files (elsewhere, or
    MBM_SIG_WATCH_POLL=1)."""
    from mbm_sig.atlas.incremental import Notifier
    from mbm_sig.errors import MbmSigError
    if told == "polling":
        monkeypatch.setenv("MBM_SIG_WATCH_POLL", "1")
        assert Notifier.create() is None
    elif Notifier.create() is None:
        pytest.skip("no inotify on this system")
    a = _atlas(small)
    rec = small[0] / "maps" / "patri_puits.yaml"
    text = rec.read_text(encoding="utf-8")
    steps = [lambda: rec.write_text(text.replace("margin: 0.03", "margn: 0.03"), encoding="utf-8"),
             lambda: rec.write_text(text + "layers: [unclosed\n", encoding="utf-8"),
             lambda: rec.write_text(text.replace("linewidth: 0.2\n", "linewidth: 0.3\n"), encoding="utf-8")]
    events: list = []

    def stop():
        if len(events) > len(steps):
            return True
        step = len(events) - 1
        if step < len(steps) and not getattr(steps[step], "done", False):
            steps[step]()
            steps[step].done = True
        return False
    a.watch(interval=0.001, stop=stop, report=events.append)
    assert len(events[0].rendered) == 0 and isinstance(events[1], MbmSigError) and "margn" in events[1].message()
    assert isinstance(events[2], MbmSigError) and "YAML" in events[2].message().upper()
    assert events[3].rendered == [PUITS]


def test_watch_sees_an_edit_that_keeps_size_and_time(small, tmp_path):
    """Two saves within one tick of the file system's clock, the same size (a colour
    changed): the file's size and times say nothing, the kernel's word does (inotify) — the
    sheet is rendered again and the book is the cold run's."""
    from mbm_sig.atlas.incremental import Notifier
    if Notifier.create() is None:
        pytest.skip("no inotify on this system")
    a = _atlas(small)
    a.build()
    rec = small[0] / "maps" / "patri_puits.yaml"
    st = rec.stat()
    events: list = []

    def stop():
        if not events and not getattr(stop, "done", False):
            _edit(rec, "linewidth: 0.2\n", "linewidth: 0.3\n")                # same size
            os.utime(rec, ns=(st.st_atime_ns, st.st_mtime_ns))               # same time
            assert (rec.stat().st_size, rec.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
            stop.done = True
        return bool(events)
    a.watch(interval=0.5, stop=stop, report=events.append)
    assert events[0].rendered == [PUITS]
    same_bytes(events[0].pdf, _cold(small, tmp_path / "cold"))


def test_notifier_wakes_for_the_watched_files_only(tmp_path):
    """The kernel's word on the watched files: a write, a save by renaming over the file, a
    new file of a watched kind; nothing for the folder's other files; settled once closed."""
    from mbm_sig.atlas.incremental import Notifier
    n = Notifier.create()
    if n is None:
        pytest.skip("no inotify on this system")
    try:
        (tmp_path / "layers").mkdir()
        watched, other = tmp_path / "a.yaml", tmp_path / "b.yaml"
        watched.write_text("x: 1\n")
        assert n.watch([watched], {tmp_path / "layers": ".yaml"})
        other.write_text("y: 1\n")
        assert not n.wait(0.05)                                # another file of the folder
        watched.write_text("x: 2\n")
        assert n.wait(1.0) and str(watched) in n.take()
        tmp = tmp_path / ".a.yaml.swp"
        tmp.write_text("x: 3\n")
        os.replace(tmp, watched)                               # an editor's atomic save
        assert n.wait(1.0) and str(watched) in n.take()
        (tmp_path / "layers" / "new.yaml").write_text("name: new\n")
        assert n.wait(1.0) and str(tmp_path / "layers" / "new.yaml") in n.take()
        with open(watched, "w") as fh:                         # written, not yet closed
            fh.write("x: 4\n")
            fh.flush()
            assert n.wait(1.0)
            t0 = time.monotonic()
            n.settle(quiet=0.2)
            assert time.monotonic() - t0 >= 0.15               # waited for quiet: no close yet
        assert n.wait(1.0)
        t0 = time.monotonic()
        n.settle(quiet=5.0)
        assert time.monotonic() - t0 < 4.0                     # closed: whole at once
    finally:
        n.close()


def test_book_plans_follow_the_page_files(tmp_path):
    """The book writer's plans kept from one book to the next are found by the content of the
    page files: a file rewritten under the same name is planned again (never its old page),
    and a book made from kept plans is the book made from scratch."""
    from matplotlib.figure import Figure

    from mbm_sig.atlas import engine, pages
    from mbm_sig.maps.output.book import BookWriter, file_plan

    def page(path, text):
        fig = Figure(figsize=(210 / 25.4, 297 / 25.4))
        fig.text(0.5, 0.5, text)
        pages.save_pdf([fig], path, {"CreationDate": None})
        return path

    def book(files, plans, out):
        planned = [file_plan(f, k > 0, plans) for k, f in enumerate(files)]
        overlays = engine._number_overlays([p.size_mm for p in planned], tmp_path)
        with open(out, "wb") as fh:
            w = BookWriter(fh, plans)
            for k, p in enumerate(planned):
                w.add_plan(p, overlays[k] if k > 0 else None)
            w.close([("Première", 0, None)], {"Title": "essai"})
        return out.read_bytes()

    files = [page(tmp_path / f"p{k}.pdf", f"Page {k}") for k in range(3)]
    kept: dict = {}
    first = book(files, kept, tmp_path / "b1.pdf")
    assert first == book(files, {}, tmp_path / "b0.pdf")
    page(files[1], "Page une, refaite")                        # the same file name, new content
    again = book(files, kept, tmp_path / "b2.pdf")
    assert again != first
    assert again == book(files, {}, tmp_path / "b3.pdf")
    assert "refaite" in subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(tmp_path / "b2.pdf"), "-"],
                                       capture_output=True, text=True, check=True).stdout


def test_a_book_written_once_plans_one_page_at_a_time(tmp_path, built_gpkg, monkeypatch):
    """A cold run's book (no warm memo) plans each page as it places it and drops it: the book
    writer's memory does not grow with the page count (the 1534-page communes atlas). Each
    page's size, read without planning the page, is its plan's; the book is a cold run's
    (watch tests: a warm run, every plan kept, writes the same bytes)."""
    import weakref

    from mbm_sig.atlas import engine
    from mbm_sig.maps.output import book as bk

    alive: weakref.WeakSet = weakref.WeakSet()
    most = [0]
    real_init, real_add = bk.PagePlan.__init__, bk.BookWriter.add_plan

    def init(self, *a, **k):
        real_init(self, *a, **k)
        alive.add(self)

    def add(self, plan, *a, **k):
        most[0] = max(most[0], sum(1 for p in alive if type(p) is bk.PagePlan))
        return real_add(self, plan, *a, **k)
    monkeypatch.setattr(bk.PagePlan, "__init__", init)
    monkeypatch.setattr(bk.BookWriter, "add_plan", add)
    sized: list = []
    real_write = engine._write_book

    def write(atlas, cat, body, pending, page_files, *a, **k):
        for f in page_files.values():
            sized.append(bk.file_page_size(f) == bk.file_plan(f, True, {}).size_mm)
        return real_write(atlas, cat, body, pending, page_files, *a, **k)
    monkeypatch.setattr(engine, "_write_book", write)
    res = engine.render_atlas("renouvellement", out_dir=tmp_path, catalogue=built_gpkg, progress=False,
                              workers=1)
    assert res.pages > 10 and most[0] == 1
    assert len(sized) == len(res.body) and all(sized)


def test_a_page_size_read_wrong_before_the_book_fails_and_writes_no_book(tmp_path, built_gpkg, monkeypatch):
    """The sizes the page numbers are drawn for are checked against each page's plan: a size
    read wrong is an error naming the page file, and no book is written."""
    from mbm_sig.atlas import engine
    from mbm_sig.maps.output import book as bk
    monkeypatch.setattr(bk, "file_page_size", lambda f: (100.0, 100.0))
    with pytest.raises(bk.BookError, match=r"cover\.pdf: page size \(210\.\d+, 29\d\.\d+\) read as \(100\.0, 100\.0\)"):
        engine.render_atlas("renouvellement", out_dir=tmp_path, catalogue=built_gpkg, progress=False, workers=1)
    assert not list(tmp_path.glob("*.pdf"))


def test_a_parallel_runs_workers_plan_the_pages_for_the_book(tmp_path, built_gpkg, monkeypatch):
    """Each page's plan is made by the process that renders it and written beside the page
    file; the book places those plans (parsing none of the body pages again); on two processes
    it is the book of a run on one process."""
    from mbm_sig.atlas import engine
    from mbm_sig.maps.output import book as bk
    one = engine.render_atlas("renouvellement", out_dir=tmp_path / "j1", catalogue=built_gpkg, progress=False,
                              workers=1)
    kept: list = []
    real = bk.read_plan_file

    def spy(path, overlay, plans):
        kept.append(Path(str(path) + bk.PLAN_SUFFIX).exists())
        return real(path, overlay, plans)
    monkeypatch.setattr(bk, "read_plan_file", spy)
    two = engine.render_atlas("renouvellement", out_dir=tmp_path / "j2", catalogue=built_gpkg, progress=False,
                              workers=2)
    assert two.pdf.read_bytes() == one.pdf.read_bytes()
    assert sum(kept) == len(two.body) and len(kept) == two.pages      # the body pages: kept plans


def test_recent_plans_keep_what_pages_share():
    """A cold book's plans: the last used are kept, what every page meets (a font) stays."""
    from mbm_sig.maps.output.book import RecentPlans
    plans = RecentPlans(size=3)
    plans["font"] = "F"
    for k in range(10):                       # each page: its own object, then the shared font
        plans[("page", k)] = k
        assert plans.get("font") == "F"
    assert len(plans) == 3 and ("page", 9) in plans and ("page", 7) not in plans
    assert plans.get("missing") is None


def test_a_new_process_rerenders_only_what_changed(small):
    _atlas(small).build()
    _edit(small[0] / "maps" / "patri_puits.yaml", "linewidth: 0.2\n", "linewidth: 0.25\n")
    r = _atlas(small).build()                              # a new Atlas: no memo, the cache on disk
    assert r.rendered == [PUITS] and r.reused == 2


def test_layer_data_change_rerenders_the_pages_reading_it(small, tmp_path):
    """New rows: the pages reading the layer are rendered again, from the new rows (not from
    the frames this process read for its first build)."""
    shutil.rmtree(small[3])                                # every page rendered: its reads kept
    a = _atlas(small)
    a.build()
    cat = small[1]
    hop = cat.read("equipements_sante")
    cat.write("equipements_sante", hop.iloc[1:].copy())   # one hospital less (the tool's atomic write)
    r = a.rebuild()
    assert "catalogue" in r.changed
    assert sorted(r.rendered) == sorted([HOSPITALS, TABLE])   # the puits sheet does not read it
    same_bytes(r.pdf, _cold(small, tmp_path / "cold"))


def test_edit_in_place_of_the_geopackage_is_seen(small, tmp_path):
    """A layer edited in place (as QGIS does, through SQLite), not through the tool."""
    import sqlite3
    a = _atlas(small)
    a.build()
    import shapely

    def bounds(blob):                        # a GeoPackage geometry: header, envelope, WKB
        env = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(blob[3] >> 1) & 7]
        return shapely.from_wkb(bytes(blob[8 + env:])).bounds
    con = sqlite3.connect(small[1].backend.path)
    con.create_function("ST_IsEmpty", 1, lambda g: int(g is None))   # what GeoPackage's R-tree triggers call
    for k, fn in enumerate(("ST_MinX", "ST_MinY", "ST_MaxX", "ST_MaxY")):
        con.create_function(fn, 1, lambda g, k=k: bounds(g)[k])
    with con:
        con.execute("UPDATE puits SET compagnie = NULL WHERE rowid = (SELECT min(rowid) FROM puits)")
    con.close()
    r = a.rebuild()
    assert r.rendered == [PUITS]
    same_bytes(r.pdf, _cold(small, tmp_path / "cold"))     # the new rows, not the frames read before


def test_style_and_tool_and_settings_are_in_the_key(small, monkeypatch, tmp_path):
    """A layer definition (style) changed: the pages that read the layer miss, the others hit;
    a new tool version or another render setting: every page misses."""
    from dataclasses import replace

    from mbm_sig.atlas import engine, incremental
    a = _atlas(small)
    a.build()
    cat = small[1]
    atlas = engine.load_atlas(small[0] / "essai.yaml")

    def hits():
        run = incremental.Run(a.cache, incremental.Versions(cat), {})
        body, _ = engine.plan(atlas, cat)
        jobs = [(i, atlas, p, str(tmp_path / f"page-{i}.pdf")) for i, p in enumerate(body)]
        return sorted(body[i].title for i in run.lookup(atlas, body, jobs))

    assert hits() == sorted([HOSPITALS, PUITS, TABLE])
    real = type(cat).layer_def

    def restyled(self, name):
        ld = real(self, name)
        return replace(ld, style={**ld.style, "size": 7}) if name == "equipements_sante" else ld
    with monkeypatch.context() as m:
        m.setattr(type(cat), "layer_def", restyled)
        assert hits() == [PUITS]
    with monkeypatch.context() as m:
        m.setattr(incremental, "tool_key", lambda: "another version")
        assert hits() == []
    with monkeypatch.context() as m:
        m.setenv("MBM_SIG_PDF_FASTPATH", "0")
        assert hits() == []
    assert hits() == sorted([HOSPITALS, PUITS, TABLE])


def test_pages_record_what_they_read(small, tmp_path):
    a = _atlas(small)
    a.build()
    from mbm_sig.atlas import incremental
    run = incremental.Run(a.cache, incremental.Versions(small[1]), {})
    from mbm_sig.atlas import engine
    atlas = engine.load_atlas(small[0] / "essai.yaml")
    body, _ = engine.plan(atlas, small[1])
    run.lookup(atlas, body, [(i, atlas, p, str(tmp_path / f"page-{i}.pdf")) for i, p in enumerate(body)])
    deps = {body[i].title: set(a.cache.lookup(run.keys[i], run.versions.of)[1]) for i in range(len(body))}
    assert {"communes", "arrondissements", "bassin_minier", "equipements_sante", "departements"} <= deps[HOSPITALS]
    assert {"puits", "concessions", "communes"} <= deps[PUITS] and "equipements_sante" not in deps[PUITS]


def test_title_change_renumbers_contents_and_bookmarks(small, tmp_path):
    a = _atlas(small)
    a.build()
    _edit(small[0] / "maps" / "sante_hopitaux.yaml", f"title: {HOSPITALS}", "title: Les hôpitaux du bassin")
    r = a.rebuild()
    assert r.rendered == ["Les hôpitaux du bassin"]
    reader = PdfReader(r.pdf)
    assert "Les hôpitaux du bassin" in [o.title for o in reader.outline if not isinstance(o, list)] + \
        [o.title for sub in reader.outline if isinstance(sub, list) for o in sub]
    toc = subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(r.pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    assert "Les hôpitaux du bassin" in toc and HOSPITALS not in toc
    same_bytes(r.pdf, _cold(small, tmp_path / "cold"))


def test_sheet_added_renumbers_the_book(small, tmp_path):
    """A sheet added to the atlas: only it is rendered, with the basin map it now shares its
    layout with (the same extent: one frame decided over both); the cover's count, the
    contents, the page numbers and bookmarks of the pages after it follow (the book is a cold
    run's)."""
    a = _atlas(small)
    a.build()
    shutil.copy(ROOT / "atlases" / "maps" / "sante_age_0_19.yaml", small[0] / "maps" / "age.yaml")
    _edit(small[0] / "essai.yaml", "      - recipe: maps/sante_hopitaux.yaml\n",
          "      - recipe: maps/sante_hopitaux.yaml\n      - recipe: maps/age.yaml\n")
    r = a.rebuild()
    assert sorted(r.rendered) == sorted([HOSPITALS, "Structure par âge — part des moins de 20 ans"])
    assert r.reused == 2 and r.pages == 7
    outline = [o.title for o in PdfReader(r.pdf).outline if not isinstance(o, list)]
    assert outline[-1] == "Sources et méthodes"
    same_bytes(r.pdf, _cold(small, tmp_path / "cold"))


def test_cache_is_bounded_atomic_and_shrugs_off_damage(small):
    from mbm_sig.atlas.incremental import SheetCache
    a = _atlas(small)
    a.build()
    root = small[3]
    objects = sorted((root / "objects").rglob("*.pdf"))
    assert len(objects) >= 3 and not list(root.rglob("*.part-*"))
    assert a.last.rendered == []                           # the copy of the warm cache serves this copy
    puits = next(o for o in objects if b"Les anciens puits" in o.read_bytes())
    puits.write_bytes(puits.read_bytes()[:1000])          # a page cut short (a crash): a miss
    r = _atlas(small).build()
    assert r.rendered == [PUITS]
    for m in (root / "manifests").rglob("*.json"):         # a damaged manifest is a miss, not an error
        m.write_text("{not json", encoding="utf-8")
    r = _atlas(small).build()
    assert len(r.rendered) == 3
    small_cache = SheetCache(root, limit_mb=0.05)
    removed = small_cache.prune()
    assert removed > 0 and small_cache.size() <= 0.05 * 1024 * 1024
    r = _atlas(small).build()                             # entries pruned: rendered again, no error
    assert len(r.rendered) >= 1 and Path(r.pdf).exists()


def _build_in_child(args):
    from mbm_sig.atlas import Atlas
    from mbm_sig.catalogue import Catalogue
    atlas, out, url, cache = args
    return len(Atlas(atlas, out, Catalogue.open(url), cache=cache, workers=1).build().rendered)


def test_two_processes_share_the_cache(small, tmp_path):
    """Two processes (forked) building the same atlas into one empty cache at the same time:
    both books are whole and identical, the cache holds no temporary file, and a third build
    finds every page there."""
    import multiprocessing as mp
    d, cat, out, cache = small
    shutil.rmtree(cache)
    jobs = [(d / "essai.yaml", tmp_path / f"o{k}", cat.url, cache) for k in range(2)]
    with mp.get_context("fork").Pool(2) as pool:
        pool.map(_build_in_child, jobs)
    same_bytes(tmp_path / "o0" / "atlas-essai.pdf", tmp_path / "o1" / "atlas-essai.pdf")
    assert not list(cache.rglob("*.part-*"))
    assert _atlas(small).build().rendered == []


def test_watch_command_rebuilds_on_edits(small, tmp_path):
    """`mbm-sig atlas PATH --watch` in a subprocess: a recipe edit, then a style edit of a layer
    definition (an agency's definitions folder), each gives a new book; SIGTERM stops it."""
    d, cat, out, cache = small
    defs = tmp_path / "defs"
    shutil.copytree(ROOT / "layers", defs / "layers")
    shutil.copytree(ROOT / "data", defs / "data")
    (defs / "atlases").mkdir()
    from mbm_sig.maps.output import fonts
    fonts.ensure()
    shutil.copytree(fonts._cache_dir(), tmp_path / "vc" / "fonts")       # the print font, made once
    shutil.copytree(cache, tmp_path / "vc" / "atlas-pages")               # the sheet cache, warm
    env = dict(os.environ, MBM_SIG_DEFINITIONS=str(defs), MBM_SIG_CACHE=str(tmp_path / "vc"), MPLBACKEND="Agg")
    p = subprocess.Popen([sys.executable, "-m", "mbm_sig.cli", "--db", cat.url, "atlas", str(d / "essai.yaml"),
                          "-o", str(out), "-j", "1", "--watch"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def wait_for(pred, timeout=120):
        t0 = time.time()
        while time.time() - t0 < timeout:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if pred(line):
                return line
        raise AssertionError("".join(lines) + p.stderr.read() if p.poll() is not None else "".join(lines))
    try:
        wait_for(lambda s: s.startswith("watching"))
        pdf = out / "atlas-essai.pdf"
        first = pdf.stat().st_ino
        _edit(d / "maps" / "patri_puits.yaml", "linewidth: 0.2\n", "linewidth: 0.3\n")
        line = wait_for(lambda s: "changed:" in s)
        assert "1 rendered («Les anciens puits de mines par compagnie»)" in line, line
        assert pdf.stat().st_ino != first
        _edit(defs / "layers" / "equipements_sante.yaml", "  size: 6\n", "  size: 7\n")
        line = wait_for(lambda s: "changed:" in s)
        rendered = line.split("changed")[0]
        assert "equipements_sante.yaml" in line and "«Hôpitaux" in rendered and "puits" not in rendered, line
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
    assert rc == 0


def test_layer_versions_on_both_backends(catalogue, built_gpkg):
    """A layer's data version: stable while its rows are, new when a write changes them, on
    GeoPackage and on PostGIS; the catalogue's stamp moves with the write."""
    from mbm_sig.atlas.incremental import Versions, catalogue_stamp

    def version(name):
        v = Versions(catalogue)
        v.refresh()
        return v.data(name)
    puits = built_gpkg.read("puits")
    catalogue.write("puits", puits)
    first, stamp = version("puits"), catalogue_stamp(catalogue)
    assert version("puits") == first and version("terrils") == "absent"
    catalogue.write("puits", puits.iloc[1:].copy())
    assert version("puits") != first and catalogue_stamp(catalogue) != stamp
    catalogue.write("puits", puits)
    assert version("puits") == first              # the same rows again: the same version


def test_gpkg_state_survives_a_write_that_changes_nothing(built_gpkg, tmp_path, monkeypatch):
    """A GeoPackage's state is its content: a write transaction that changes no row (what QGIS
    does when it opens a layer: the SQLite header's change counters move, the file's mtime too)
    keeps it, and with it the decisions an atlas kept; a changed row gives a new state. The
    digest is kept under the file's stat (cache folder ``state/``), so an unchanged file is not
    read again by the next process."""
    import sqlite3

    from mbm_sig.catalogue import Catalogue, gpkg
    monkeypatch.setenv("MBM_SIG_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "c.gpkg"
    shutil.copy(built_gpkg.backend.path, path)
    cat = Catalogue.open(str(path))
    before, header = cat.backend.state(), path.read_bytes()[:100]
    con = sqlite3.connect(path)
    with con:                                               # the same value again: a header write
        con.execute(f"PRAGMA application_id = {con.execute('PRAGMA application_id').fetchone()[0]}")
    con.close()
    assert path.read_bytes()[:100] != header               # the change counter moved
    assert cat.backend.state() == before
    assert list((tmp_path / "cache" / "state").glob("*.json"))
    gpkg._DIGESTS.clear()
    def unread(*a, **k):
        raise AssertionError("the catalogue was read again")
    monkeypatch.setattr(gpkg, "open", unread, raising=False)
    assert cat.backend.state() == before                   # from the kept digest, file not read
    monkeypatch.undo()
    monkeypatch.setenv("MBM_SIG_CACHE", str(tmp_path / "cache"))
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE gpkg_contents SET description = 'modifiée' WHERE table_name = 'puits'")
    con.close()
    assert cat.backend.state() != before


def test_facts_file_change_rerenders_the_chart(small, monkeypatch, tmp_path):
    """A chart drawn from a facts file (data/*.csv): an edit of the file re-renders the chart
    only; so does a new production date every page (the credits carry it)."""
    from mbm_sig import config
    facts = tmp_path / "data"
    shutil.copytree(ROOT / "data", facts)
    monkeypatch.setattr(config, "FACTS_DIR", facts)
    chart = "Procédures de sortie des concessions : les chiffres du document"
    _edit(small[0] / "essai.yaml", "  - title: Patrimoine\n", f"""  - title: Séquelles
    sheets:
      - title: "{chart}"
        chart: {{name: sequelles_bilan, csv: sequelles_bilan.csv, layers: [concessions]}}
  - title: Patrimoine
""")
    a = _atlas(small)
    assert a.build().rendered == [chart]
    _edit(facts / "sequelles_bilan.csv", "total,—,concessions,45,", "total,—,concessions,46,")
    r = a.rebuild()
    assert r.rendered == [chart] and str(facts / "sequelles_bilan.csv") in r.changed
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(1767225600 + 40 * 86400))
    assert len(a.rebuild().rendered) == 4


def test_a_rebuild_reads_the_definition_again_only_when_it_changed_and_collects_after_its_book(small,
                                                                                             monkeypatch):
    """A warm rebuild after a recipe edit: the atlas definition is not read again (it is after
    an edit of the atlas file), and the cyclic collector is paused until the book is written
    (a rebuild of more than PAUSED_PAGES pages is collected as it goes); the collector is on
    again afterwards and the book is a cold run's."""
    import gc

    from mbm_sig.atlas import engine
    from mbm_sig.atlas import incremental as inc
    a = _atlas(small)
    a.build()
    loads, collecting = [], []
    real_load, real_write = engine.load_atlas, engine._write_book
    monkeypatch.setattr(engine, "load_atlas", lambda *x: loads.append(1) or real_load(*x))
    monkeypatch.setattr(engine, "_write_book", lambda *x, **k: collecting.append(gc.isenabled()) or real_write(*x, **k))
    recipe = small[0] / "maps" / "sante_hopitaux.yaml"
    _edit(recipe, 'fill: "#f7f4ef"', 'fill: "#f7f4ee"')
    assert a.rebuild().rendered == [HOSPITALS]
    assert loads == [] and collecting == [False] and gc.isenabled()
    monkeypatch.setattr(inc, "PAUSED_PAGES", 0)
    _edit(recipe, 'fill: "#f7f4ee"', 'fill: "#f7f4ed"')
    _edit(small[0] / "essai.yaml", "title: Atlas d'essai", "title: Atlas d'essai 2")
    r = a.rebuild()
    assert loads == [1] and collecting == [False, True] and gc.isenabled()
    same_bytes(r.pdf, _cold(small, small[2].parent / "cold"))
