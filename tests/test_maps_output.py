"""Output room (mbm_sig.maps.output): every save is atomic — on an error or a full disk the
old file is intact and no temporary file is left — and the print font is made on first use,
not at import."""

from __future__ import annotations

import errno
import subprocess
import sys

import numpy as np
import pytest
import shapely

from mbm_sig.errors import Failure
from mbm_sig.maps import Book, Map
from mbm_sig.maps.output import save_figure, write_pdf


def small_map() -> Map:
    g = [shapely.box(650_000 + i * 1000, 7_000_000, 651_000 + i * 1000, 7_001_000) for i in range(4)]
    import geopandas as gpd
    df = gpd.GeoDataFrame({"v": np.arange(4.0)}, geometry=g, crs=2154)
    return Map(extent=df).layer(df, "choro", "v", k=2, legend_title="V").title("Essai")


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part-" in p.name)


@pytest.mark.parametrize("fmt", ["pdf", "png", "svg"])
def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch, fmt):
    out = tmp_path / f"sheet.{fmt}"
    out.write_bytes(b"old sheet")
    fig = small_map().draw().figure

    def full_disk(self, fname, *a, **kw):        # the writer dies half-way, as on a full disk
        with open(fname, "wb") as fh:
            fh.write(b"half a sheet")
        raise OSError(errno.ENOSPC, "No space left on device")

    from matplotlib.figure import Figure
    monkeypatch.setattr(Figure, "savefig", full_disk)
    with pytest.raises(Failure, match="no space left"):
        save_figure(fig, out)
    assert out.read_bytes() == b"old sheet"
    assert leftovers(tmp_path) == []


def test_save_replaces_the_file_whole(tmp_path):
    out = tmp_path / "sheet.pdf"
    out.write_bytes(b"old sheet")
    save_figure(small_map().draw().figure, out)
    assert out.read_bytes().startswith(b"%PDF-")
    assert leftovers(tmp_path) == []


def test_book_failing_midway_leaves_nothing(tmp_path):
    out = tmp_path / "atlas.pdf"
    out.write_bytes(b"old atlas")
    with pytest.raises(RuntimeError, match="page 2 failed"):
        with Book(out, {"Title": "A"}) as book:
            book.add(small_map())
            assert leftovers(tmp_path)                  # pages go to a temporary file
            raise RuntimeError("page 2 failed")
    assert out.read_bytes() == b"old atlas"
    assert leftovers(tmp_path) == []
    with Book(out, {"Title": "A"}) as book:
        book.add(small_map())
    assert out.read_bytes().startswith(b"%PDF-") and leftovers(tmp_path) == []


def test_write_pdf_error_keeps_the_old_file(tmp_path):
    out = tmp_path / "pages.pdf"
    out.write_bytes(b"old pages")

    def figs():
        yield small_map().draw().figure
        raise ValueError("bad page")

    with pytest.raises(ValueError, match="bad page"):
        write_pdf(figs(), out, {"Title": "x"})
    assert out.read_bytes() == b"old pages"
    assert leftovers(tmp_path) == []


def test_no_font_made_at_import():
    """Importing the maps, atlas and recipe modules builds and registers no font."""
    code = ("import mbm_sig.maps, mbm_sig.atlas, mbm_sig.maps.recipe, mbm_sig.maps.sheet\n"
            "from mbm_sig.maps.output import fonts\n"
            "assert fonts.ensure.cache_info().currsize == 0, 'font made at import'\n"
            "from matplotlib import font_manager\n"
            "assert not any(f.name == fonts.FAMILY for f in font_manager.fontManager.ttflist)\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sheets_are_drawn_with_the_collector_paused_and_it_is_put_back(tmp_path, monkeypatch):
    """Map.save, Book.add and write_pdf pause the cyclic garbage collector for one sheet or
    page (drawing and writing) and put it back after, also on an error; a collector the
    caller turned off stays off."""
    import gc

    from mbm_sig.maps import sheet as sheet_mod
    seen = []
    draw = sheet_mod.Map.draw

    def spy(self, fig=None):
        seen.append(gc.isenabled())
        return draw(self, fig)
    monkeypatch.setattr(sheet_mod.Map, "draw", spy)
    assert gc.isenabled()
    small_map().save(tmp_path / "a.pdf")
    assert seen == [False] and gc.isenabled()
    with Book(tmp_path / "b.pdf") as book:
        book.add(small_map())
        assert gc.isenabled()
    assert seen == [False, False]

    def pages():
        for _ in range(2):
            seen.append(gc.isenabled())
            yield small_map().draw().figure
            seen.append(gc.isenabled())
    between = []

    def close(fig):
        between.append(gc.isenabled())
    write_pdf(pages(), tmp_path / "c.pdf", {}, close=close)
    assert between == [False, False] and gc.isenabled()
    assert all(s is False for s in seen[2:])

    def broken(self, fig=None):
        raise RuntimeError("drawing failed")
    monkeypatch.setattr(sheet_mod.Map, "draw", broken)
    with pytest.raises(RuntimeError):
        small_map().save(tmp_path / "d.pdf")
    assert gc.isenabled()
    gc.disable()
    try:
        monkeypatch.setattr(sheet_mod.Map, "draw", draw)
        small_map().save(tmp_path / "e.pdf")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_print_font_has_the_same_bytes_whenever_it_is_built(tmp_path, monkeypatch):
    """The print font (built once per cache folder) carries no build date: two builds a day
    apart give the same file, so books made on two machines have the same bytes."""
    import time
    from pathlib import Path

    import matplotlib

    from mbm_sig.maps.output import fonts
    src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    fonts._build(src, tmp_path / "a.ttf", "")
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 86400)
    fonts._build(src, tmp_path / "b.ttf", "")
    assert (tmp_path / "a.ttf").read_bytes() == (tmp_path / "b.ttf").read_bytes()


def test_font_subsets_kept_beside_the_font_are_those_made_again(tmp_path, monkeypatch):
    """A print-font subset kept beside the font (PATH.subsets) by one process is read back by
    the next instead of made again, the same bytes and glyph map as made now; a side file cut
    short, or one of another font file (its stat changed), is made again."""
    import shutil

    from matplotlib import font_manager
    from matplotlib.backends import _backend_pdf_ps as pdf_ps

    from mbm_sig.maps.output import fonts
    font = tmp_path / "MBMSans-v3.ttf"
    shutil.copyfile(font_manager.findfont(fonts.FAMILY), font)
    glyphs = frozenset(range(3, 60))
    made = []

    def make():
        made.append(1)
        with pdf_ps.get_glyphs_subset(font_manager.FontPath(str(font), 0), set(glyphs)) as sub:
            return pdf_ps.font_as_file(sub.font).getvalue(), dict(sub.glyph_index_map)

    first = fonts.kept_subset(str(font), 0, glyphs, make)
    fonts._SUBSET_FILES.clear()                         # a new process: read from the side file
    assert fonts.kept_subset(str(font), 0, glyphs, make) == first and len(made) == 1
    assert first == make()                              # what subsetting gives now
    made.clear()
    side = tmp_path / "MBMSans-v3.ttf.subsets"
    side.write_bytes(side.read_bytes()[:100])           # cut short
    fonts._SUBSET_FILES.clear()
    assert fonts.kept_subset(str(font), 0, glyphs, make) == first and len(made) == 1
    with open(font, "ab") as fh:                        # another font file: its stat changes
        fh.write(b"\0\0\0\0")
    fonts._SUBSET_FILES.clear()
    fonts.kept_subset(str(font), 0, glyphs, make)
    assert len(made) == 2


def test_pages_of_plain_text_embed_the_same_font_objects(tmp_path):
    """Two sheets whose text uses only the print font's core characters embed the same font
    dictionaries (subset name, widths, maps): a book stores them once. Their text still
    extracts as written. (matplotlib's own path, fast path off, embeds each page's glyphs.)"""
    import re

    from mbm_sig.maps.output import pdftext

    paths = []
    for k, title in enumerate(["Abancourt", "Zuydcoote : 12,5 % (Œuvre)"]):
        path = tmp_path / f"s{k}.pdf"
        small_map().title(title).save(path)
        paths.append(path)
    names = [set(re.findall(rb"/FontName /([A-Z]{6}\+[\w-]+)", p.read_bytes())) for p in paths]
    assert names[0] and (names[0] == names[1]) == pdftext.active()
    text = subprocess.run(["pdftotext", str(paths[1]), "-"], capture_output=True, text=True, check=True).stdout
    assert "Zuydcoote : 12,5 % (Œuvre)" in text


def test_fonts_written_again_from_the_kept_objects_are_matplotlibs(tmp_path):
    """The print font's objects kept from one file and written again in another (renumbered)
    are the bytes matplotlib writes there: a book whose fonts come from the kept objects of a
    lone sheet (other object numbers) is the book written with nothing kept; so is a sheet
    saved twice."""
    from mbm_sig.maps.output import pdftext

    def book(path):
        with Book(path, {"Title": "A", "CreationDate": None}) as b:
            b.add(small_map())
            b.add(small_map().title("Zuydcoote"))
        return path.read_bytes()

    pdftext._EMBEDDED.clear()
    fresh = book(tmp_path / "fresh.pdf")
    pdftext._EMBEDDED.clear()
    small_map().save(tmp_path / "one.pdf", metadata={"CreationDate": None})
    first = (tmp_path / "one.pdf").read_bytes()
    kept = dict(pdftext._EMBEDDED)
    assert kept or not pdftext.active()
    assert book(tmp_path / "again.pdf") == fresh
    small_map().save(tmp_path / "two.pdf", metadata={"CreationDate": None})
    assert (tmp_path / "two.pdf").read_bytes() == first
