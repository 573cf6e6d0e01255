"""Issue 13 behaviour (never timings: bench/ measures speed): the per-commune example atlas,
parallel rendering giving the same bytes as one worker, commands importing only what they use."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, same_bytes

from mbm_sig.atlas.engine import load_atlas, plan, render_atlas


def small_communes_atlas(tmp_path: Path, codes: list[str]) -> Path:
    """atlases/communes.yaml restricted to a few communes (the recipe by absolute path)."""
    text = (ROOT / "atlases" / "communes.yaml").read_text(encoding="utf-8")
    cov = 'where: {departement: ["59", "62"]}'
    assert cov in text
    text = text.replace(cov, "where: {insee: [%s]}" % ", ".join(f'"{c}"' for c in codes))
    text = text.replace("recipe: maps/", f"recipe: {ROOT / 'atlases' / 'maps'}/")
    path = tmp_path / "communes-small.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_communes_atlas_has_one_page_per_commune_in_insee_order(built_gpkg):
    body, pending = plan(load_atlas("communes"), built_gpkg)
    communes = built_gpkg.read("communes", columns=["insee", "nom"])
    assert len(communes) == 1534 and not pending
    assert [p.params["insee"] for p in body] == sorted(communes["insee"])
    lens = next(p for p in body if p.params["insee"] == "62498")
    assert lens.kind == "map" and lens.title == "Lens (62498)" and lens.file_name == "commune-62498"


def test_two_workers_write_the_same_bytes_as_one(built_gpkg, tmp_path, monkeypatch):
    """This process and a worker forked from it (sharing the layers and drawing modules loaded
    before the fork) take the pages from one shared counter, and this one writes the books'
    own pages while the worker draws its first sheets: the book, and each book of a split atlas,
    is byte-identical to the one-worker book."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    path = small_communes_atlas(tmp_path, ["59001", "59350", "62041", "62498", "62510"])
    one = render_atlas(path, out_dir=tmp_path / "j1", catalogue=built_gpkg, progress=False, workers=1)
    two = render_atlas(path, out_dir=tmp_path / "j2", catalogue=built_gpkg, progress=False, workers=2)
    assert one.sheets == two.sheets == 5
    assert [p.params["insee"] for p in two.body] == ["59001", "59350", "62041", "62498", "62510"]
    assert same_bytes(one.pdf, two.pdf)
    split = [render_atlas(path, out_dir=tmp_path / f"s{j}", catalogue=built_gpkg, progress=False, workers=j,
                          split_by="departement") for j in (1, 2)]
    assert [b.value for b in split[1].books] == ["59", "62"] and [b.pages for b in split[1].books] == [5, 6]
    for a, b in zip(split[0].books, split[1].books, strict=True):
        assert same_bytes(a.pdf, b.pdf)


def test_a_worker_that_dies_is_a_failure_naming_its_sheet(built_gpkg, tmp_path, monkeypatch):
    """A forked worker killed while it draws a sheet (here: it ends at its first page) stops the
    atlas with a failure naming that sheet; no book is written."""
    from mbm_sig.atlas import engine
    from mbm_sig.atlas.errors import AtlasFailure
    parent = os.getpid()
    real = engine._render_page

    def dies_in_a_worker(job):
        if os.getpid() != parent:
            os._exit(3)
        return real(job)
    monkeypatch.setattr(engine, "_render_page", dies_in_a_worker)
    path = small_communes_atlas(tmp_path, ["59001", "59350", "62041", "62498"])
    with pytest.raises(AtlasFailure, match=r"sheet «.+ \(\d{5}\)» \(recipe .+commune_densite.yaml\) failed: "
                                           r"its worker process ended \(exit status 3\)"):
        render_atlas(path, out_dir=tmp_path / "o", catalogue=built_gpkg, progress=False, workers=2)
    assert not (tmp_path / "o" / "atlas-communes.pdf").exists()


def test_pages_expected_to_cost_most_start_first(built_gpkg):
    """The parallel run starts the maps before the charts and tables, the maps drawing most
    features first, and the longest tables before the short ones (the santé atlas's plan)."""
    from mbm_sig.atlas import engine
    body, _ = plan(load_atlas("sante"), built_gpkg)
    count = lambda name: built_gpkg.backend.count(name) if built_gpkg.has_data(name) else 0  # noqa: E731
    costs = [engine._cost(p, count) for p in body]
    maps = [c for p, c in zip(body, costs, strict=True) if p.kind == "map"]
    tables = [(sum(len(q.rows) for q in [p, *p.shared]), c) for p, c in zip(body, costs, strict=True)
              if p.kind == "table"]
    assert maps and tables and min(maps) > max(c for _, c in tables)
    assert len(set(maps)) > 1               # maps told apart by the features their layers hold
    assert all((n1 < n2) == (c1 < c2) for n1, c1 in tables for n2, c2 in tables if n1 != n2)


def test_book_stores_each_page_once_with_its_number_and_shared_fonts_once(built_gpkg, tmp_path, monkeypatch):
    """The book writer appends each page file's objects as written: every page carries its
    «n / total» (the overlay), the print font's stable subsets are stored once however many
    pages use them, the bookmarks point at the pages."""
    import hashlib
    import re

    from pypdf import PdfReader
    from mbm_sig import atomic
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    flushed = []
    monkeypatch.setattr(atomic, "fsync_path", lambda p: flushed.append(Path(p)))
    path = small_communes_atlas(tmp_path, ["59001", "59350", "62041", "62498"])
    res = render_atlas(path, out_dir=tmp_path / "o", catalogue=built_gpkg, progress=False, workers=1, sheets=True)
    # the page files are scratch (not flushed to disk one by one); the book and sheets are
    assert {p.parent for p in flushed} == {tmp_path / "o", tmp_path / "o" / "communes"}
    assert len(flushed) == 1 + len(res.sheet_files)
    reader = PdfReader(res.pdf)
    assert len(reader.pages) == res.pages
    for k, page in enumerate(reader.pages[1:], start=2):
        assert f"{k} / {res.pages}" in page.extract_text(), k
    assert "Lens (62498)" in reader.pages[[p.title for p in res.body].index("Lens (62498)") + 2].extract_text()
    marks = {o.title: reader.get_destination_page_number(o) for o in reader.outline if not isinstance(o, list)}
    assert marks["Sommaire"] == 1 and marks["Sources et méthodes"] == res.pages - 1

    def font_files(data: bytes) -> list[str]:
        out = []
        for m in re.finditer(rb"/Length1 \d+ /Length (\d+)[^>]*>>\s*stream\r?\n", data):
            out.append(hashlib.sha1(data[m.end():m.end() + int(m.group(1))]).hexdigest())
        return out
    book = font_files(res.pdf.read_bytes())
    per_sheet = [f for s in res.sheet_files for f in font_files(s.read_bytes())]
    assert len(per_sheet) == 2 * len(res.sheet_files)          # each sheet embeds its regular and bold subsets
    assert len(book) == len(set(book))                          # the book stores each subset once
    assert set(per_sheet) <= set(book)


def test_swapped_page_numbers_are_what_matplotlib_draws_for_each_page(tmp_path):
    """Page numbers that measure alike share one drawn template, its digits swapped: the
    content is the one matplotlib writes for that page's own overlay, byte for byte."""
    from mbm_sig.atlas import engine, pages
    from mbm_sig.maps.output import book
    sizes = [(210.0, 297.0)] * 104 + [(297.0, 210.0)] * 8
    overlays = engine._number_overlays(sizes, tmp_path)
    assert len(overlays) == len(sizes) and all(len(o) == 3 for o in overlays)
    templates = {(id(o[0]), o[1]) for o in overlays}
    assert len(templates) < len(sizes) / 4
    pages.save_pdf((pages.number_overlay(k + 1, len(sizes), s) for k, s in enumerate(sizes)), tmp_path / "own.pdf",
                   {"CreationDate": None})
    own = book.Source.open(tmp_path / "own.pdf")

    def content(src, num):
        page = src.obj(num)[0]
        return book._decoded(src, *src.obj(book._one_content(src, page).num))
    for k, (src, num, (old, new)) in enumerate(overlays):
        assert new == f"{k + 1} / {len(sizes)}"
        swapped = content(src, num).replace(book._literal(old), book._literal(new))
        assert swapped == content(own, own.pages()[k]), k


def test_book_writer_refuses_a_file_it_cannot_read_naming_it(tmp_path):
    from mbm_sig.maps.output.book import BookError, Source
    bad = tmp_path / "page.pdf"
    bad.write_bytes(b"%PDF-1.5\n1 0 obj\n<< >>\nendobj\n")
    with pytest.raises(BookError, match="page.pdf: no startxref"):
        Source.open(bad)


def _modules_after(args: list[str], db: str) -> set[str]:
    """The top-level packages `mbm-sig ARGS` has imported when it returns."""
    code = ("import sys\nfrom mbm_sig.cli import main\nrc = main(sys.argv[1:])\n"
            "print('MODULES', ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n")
    env = dict(os.environ, MBM_SIG_DB=db)
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def test_layers_does_not_import_the_drawing_stack(built_gpkg):
    mods = _modules_after(["layers"], built_gpkg.url)
    assert "mbm_sig" in mods
    assert not mods & {"matplotlib", "pypdf", "PIL", "fontTools", "tqdm"}, mods & {"matplotlib", "pypdf"}


def test_the_command_module_imports_no_data_or_drawing_stack():
    r = subprocess.run([sys.executable, "-c", "import sys, mbm_sig.cli\n"
                        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert not set(r.stdout.split()) & {"pandas", "geopandas", "numpy", "matplotlib", "pyogrio", "shapely"}


def test_a_quiet_atlas_imports_no_pdf_library_nor_progress_bar(built_gpkg, tmp_path):
    path = small_communes_atlas(tmp_path, ["59350", "62498"])
    mods = _modules_after(["atlas", str(path), "-q", "-o", str(tmp_path), "-j", "1"], built_gpkg.url)
    assert "matplotlib" in mods and (tmp_path / "atlas-communes.pdf").exists()
    assert not mods & {"pypdf", "tqdm"}, mods & {"pypdf", "tqdm"}


def test_reads_by_row_index_give_the_rows_a_mask_gives(built_gpkg):
    """A ``where`` on a cached GeoPackage layer selects its rows through the layer's row index
    (positions per value, made in one pass): the same rows, in the same order, with the same
    types as comparing every row, for one value, several, missing ones, two fields, and the
    integer fields converted once in the cached layer."""
    import numpy as np
    import pandas as pd

    from mbm_sig.catalogue.gpkg import filter_frame
    cat = built_gpkg
    whole = cat.read("communes")
    assert str(whole["population"].dtype) == "Int64"
    lens = whole.loc[whole["insee"] == "62498"]
    cases = [{"insee": "62498"}, {"insee": ["62498", "59001", "59178", "00000"]}, {"insee": "00000"},
             {"insee": []}, {"arrondissement": "627"}, {"arrondissement": ["627", "596"], "bassin_minier": True},
             {"departement": "62", "population": int(lens["population"].iloc[0])},
             {"bassin_minier": False}, {"epci_siren": ["200068120", None]}, {"insee": ["62498", np.nan]},
             {"chef_lieu": None}]
    for where in cases:
        got = cat.read("communes", where=where)
        want = filter_frame(whole, where).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got.crs == whole.crs and got.geometry.name == "geom", where
    assert len(cat.read("communes", where={"insee": ["59178", "62498"]})) == 2
    # rows taken by position are the caller's: changing them leaves the layer as it is
    one = cat.read("communes", where={"insee": "62498"})
    one.loc[0, "nom"] = "changed"
    assert cat.read("communes", where={"insee": "62498"})["nom"].iloc[0] == "Lens"


def test_the_basin_maps_layout_kept_across_runs_is_the_one_decided(built_gpkg, tmp_path, monkeypatch):
    """The layout the basin maps share (series.with_layouts, which builds every one of them) and
    the series' values (series.resolve) are kept in the cache folder: a later process (nothing in memory) reads back exactly what
    deciding gives, without deciding; another recipe text or other series values are another
    key, decided again."""
    import shutil

    from mbm_sig.atlas import engine, series
    monkeypatch.setenv("MBM_SIG_CACHE", str(tmp_path / "cache"))
    maps = tmp_path / "maps"
    shutil.copytree(ROOT / "atlases" / "maps", maps)
    text = (ROOT / "atlases" / "sante.yaml").read_text(encoding="utf-8").replace("recipe: maps/", f"recipe: {maps}/")
    (tmp_path / "sante.yaml").write_text(text, encoding="utf-8")
    atlas = load_atlas(tmp_path / "sante.yaml")
    values = series.resolve(atlas.series, built_gpkg, str(atlas.path))
    assert engine._series_values(atlas, built_gpkg) == values
    atlas.series_values = values
    decided = series.with_layouts(atlas, built_gpkg, lambda spec: engine._check_requires(built_gpkg, spec))
    assert decided.get(series.LAYOUTS)               # the health atlas's basin maps form groups
    series._LAYOUT_MEMO.clear()
    first = engine._layouts(atlas, built_gpkg)
    assert [f.suffix for f in (tmp_path / "cache" / "decided").iterdir()] == [".marshal"] * 2
    series._LAYOUT_MEMO.clear()                        # as a new process
    with monkeypatch.context() as m:
        m.setattr(series, "with_layouts", lambda *a, **k: pytest.fail("decided again"))
        m.setattr(series, "resolve", lambda *a, **k: pytest.fail("resolved again"))
        again = engine._layouts(atlas, built_gpkg)
        assert engine._series_values(atlas, built_gpkg) == values
    assert again == first == decided and list(again) == list(decided)
    key = engine._decision_key("layouts", atlas, built_gpkg, {})
    assert engine._decision_key("layouts", atlas, built_gpkg, {"x": 1}) != key
    assert engine._decision_key("series", atlas, built_gpkg, {}) != key
    recipe = next(Path(sh.recipe) for sec in atlas.sections for sh in sec.sheets if sh.recipe)
    recipe.write_text(recipe.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert engine._decision_key("layouts", atlas, built_gpkg, {}) != key


def test_the_coverage_series_layouts_kept_across_runs_are_the_ones_decided(built_gpkg, tmp_path, monkeypatch):
    """The layout a coverage series' sheets share (``series_of``: decided by building every sheet
    of the series) is kept in the cache folder after a run: a later process (nothing in memory)
    adopts exactly the orientation and grid deciding gives, without deciding, and draws the same
    book; another recipe text is another key, decided again."""
    import shutil

    from mbm_sig.atlas import engine
    from mbm_sig.maps.recipe import build
    monkeypatch.setenv("MBM_SIG_CACHE", str(tmp_path / "cache"))
    maps = tmp_path / "maps"
    shutil.copytree(ROOT / "atlases" / "maps", maps)
    text = (ROOT / "atlases" / "renouvellement.yaml").read_text(encoding="utf-8")
    (tmp_path / "renouvellement.yaml").write_text(text.replace("recipe: maps/", f"recipe: {maps}/"), encoding="utf-8")
    atlas = tmp_path / "renouvellement.yaml"
    build.forget_series_layouts()
    first = render_atlas(atlas, catalogue=built_gpkg, out_dir=tmp_path / "a", workers=1, progress=False)
    decided = {k: v for k, v in build.series_layouts().items() if k[0].startswith(str(maps))}
    assert decided, "the renouvellement atlas has a coverage series (its arrondissements)"
    build.forget_series_layouts()                            # as a new process
    with monkeypatch.context() as m:
        m.setattr(build._Builder, "_decide_series_layout", lambda *a, **k: pytest.fail("decided again"))
        again = render_atlas(atlas, catalogue=built_gpkg, out_dir=tmp_path / "b", workers=1, progress=False)
    adopted = {k: v for k, v in build.series_layouts().items() if k[0].startswith(str(maps))}
    assert list(adopted) == list(decided)
    for k, (o, lay) in decided.items():
        assert adopted[k][0] == o and adopted[k][1].grid == lay.grid        # the same floats, exactly
    assert same_bytes(first.pdf, again.pdf)
    # the recipe edited (a comment): another key, decided again on the next run
    recipe = next(Path(k[0]) for k in decided)
    recipe.write_text(recipe.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    build.forget_series_layouts()
    calls = []
    orig = build._Builder._decide_series_layout
    with monkeypatch.context() as m:
        m.setattr(build._Builder, "_decide_series_layout", lambda self, *a: calls.append(1) or orig(self, *a))
        render_atlas(atlas, catalogue=built_gpkg, out_dir=tmp_path / "c", workers=1, progress=False)
    assert calls
    build.forget_series_layouts()
