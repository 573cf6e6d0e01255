"""What reading a GeoPackage found, kept across processes (mbm_sig.catalogue.kept): a layer
read back from the cache folder is the layer GDAL reads (columns, dtypes, values, geometries,
CRS), GDAL is not asked again for it, and a change of the file, a writer's pending log, a
file cut short or a cache folder that cannot be written each give GDAL's answer."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from mbm_sig.catalogue import Catalogue, gpkg, kept


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("MBM_SIG_CACHE", str(folder))
    return folder / "read"


@pytest.fixture
def asked(monkeypatch):
    """The calls made to GDAL (pyogrio) by the GeoPackage backend, by function name."""
    import pyogrio
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name):
            fn = getattr(pyogrio, name)
            if not callable(fn):
                return fn

            def counted(*a, **k):
                calls.append(name)
                return fn(*a, **k)
            return counted
    monkeypatch.setattr(gpkg, "_ogr", lambda: Counting())
    return calls


def _fresh(path) -> Catalogue:
    """A new catalogue object on the file: nothing read in memory, as in a new process."""
    return Catalogue.open(str(path))


def _same_frame(a, b) -> None:
    assert type(a) is type(b)
    assert list(a.columns) == list(b.columns)
    assert [str(t) for t in a.dtypes] == [str(t) for t in b.dtypes]
    assert a.index.equals(b.index) and type(a.index) is type(b.index)
    if isinstance(a, gpd.GeoDataFrame):
        assert a.geometry.name == b.geometry.name and a.crs == b.crs
        assert shapely.equals_identical(a.geometry.values, b.geometry.values).all()
        a, b = pd.DataFrame(a.drop(columns=a.geometry.name)), pd.DataFrame(b.drop(columns=b.geometry.name))
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_every_layer_of_the_real_catalogue_reads_back_as_gdal_reads_it(built_gpkg, cache, asked):
    path = built_gpkg.backend.path
    first = _fresh(path)
    names = first.backend.layer_names()
    assert len(names) >= 15
    by_gdal = {name: first.read(name) for name in names}
    log_by_gdal = first.backend.log()
    assert asked.count("read_dataframe") == len(names) + 1 and asked.count("list_layers") == 1
    assert len(list(cache.glob("*.pickle"))) == len(names) + 2        # the layers, the names, the log
    asked.clear()
    second = _fresh(path)
    assert second.backend.layer_names() == names
    for name in names:
        _same_frame(second.read(name), by_gdal[name])
    _same_frame(second.backend.log(), log_by_gdal)
    assert asked == []
    # what a map sheet asks for: a filtered read, the feature counts
    communes = second.read("communes", where={"departement": ["62"]})
    assert len(communes) and set(communes["departement"]) == {"62"}
    assert asked == []
    assert second.backend.count("communes") == len(by_gdal["communes"])
    assert asked == ["read_info"]
    assert _fresh(path).backend.count("communes") == len(by_gdal["communes"]) and asked == ["read_info"]


def _tiny(path, values) -> Catalogue:
    cat = Catalogue.open(str(path))
    frame = gpd.GeoDataFrame({"code": values, "n": list(range(len(values)))},
                             geometry=[shapely.Point(700_000 + i, 7_000_000) for i in range(len(values))],
                             crs="EPSG:2154")
    cat.backend.replace_layers({"points": frame}, [])
    return cat


def test_a_changed_file_is_read_by_gdal_again(tmp_path, cache, asked):
    path = tmp_path / "c.gpkg"
    _tiny(path, ["a", "b"])
    assert list(_fresh(path).backend.read("points")["code"]) == ["a", "b"]
    _tiny(path, ["c", "d"])              # same size, same layer: another content
    asked.clear()
    assert list(_fresh(path).backend.read("points")["code"]) == ["c", "d"]
    assert "read_dataframe" in asked


def test_a_writers_pending_log_is_never_kept(tmp_path, cache):
    path = tmp_path / "c.gpkg"
    cat = _tiny(path, ["a"])
    reads = []
    assert kept.kept_read(cat.backend.state, ("test",), lambda: reads.append(1) or "one") == "one"
    assert kept.kept_read(cat.backend.state, ("test",), lambda: reads.append(1) or "two") == "one"
    # a writer's pages in the write-ahead log (QGIS editing a layer): GDAL answers each time
    (tmp_path / "c.gpkg-wal").write_bytes(b"\0" * 4096)
    assert cat.backend.state()[-1] is not None
    assert kept.kept_read(cat.backend.state, ("test",), lambda: reads.append(1) or "three") == "three"
    assert kept.kept_read(cat.backend.state, ("test",), lambda: reads.append(1) or "four") == "four"
    assert len(reads) == 3 and len(list(cache.glob("*.pickle"))) == 1


def test_an_answer_read_while_the_file_changed_is_not_kept(tmp_path, cache):
    path = tmp_path / "c.gpkg"
    cat = _tiny(path, ["a"])

    def replaced_meanwhile():
        _tiny(path, ["b", "c"])
        return "read during the change"
    assert kept.kept_read(cat.backend.state, ("test",), replaced_meanwhile) == "read during the change"
    assert not list(cache.glob("*.pickle"))


def test_a_kept_file_cut_short_is_read_again_and_kept_anew(tmp_path, cache, asked):
    path = tmp_path / "c.gpkg"
    _tiny(path, ["a", "b"])
    _fresh(path).backend.read("points")
    files = sorted(cache.glob("*.pickle"))
    for f in files:
        f.write_bytes(f.read_bytes()[:20])
    asked.clear()
    assert list(_fresh(path).backend.read("points")["code"]) == ["a", "b"]
    assert asked.count("read_dataframe") == 1
    asked.clear()
    assert list(_fresh(path).backend.read("points")["code"]) == ["a", "b"] and asked == []


def test_a_cache_folder_that_cannot_be_written_keeps_nothing(tmp_path, monkeypatch, asked):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("MBM_SIG_CACHE", str(blocker))
    path = tmp_path / "c.gpkg"
    _tiny(path, ["a"])
    asked.clear()
    for _ in range(2):
        assert list(_fresh(path).backend.read("points")["code"]) == ["a"]
    assert asked.count("read_dataframe") == 2


def test_the_least_recently_read_are_dropped_first(tmp_path, cache, monkeypatch):
    import os
    import time
    monkeypatch.setattr(kept, "KEPT_FILES", 3)
    path = tmp_path / "c.gpkg"
    _tiny(path, ["a"])
    cat = _fresh(path)
    old = time.time() - 100
    answers = [kept.kept_read(cat.backend.state, ("test", k), lambda k=k: k) for k in range(3)]
    assert answers == [0, 1, 2] and len(list(cache.glob("*.pickle"))) == 3
    state = cat.backend.state()
    for k in range(3):
        os.utime(kept._path(state, ("test", k)), (old + k, old + k))
    assert kept.kept_read(cat.backend.state, ("test", 0), lambda: "again") == 0     # read: kept longest
    kept.kept_read(cat.backend.state, ("test", 3), lambda: 3)
    assert len(list(cache.glob("*.pickle"))) == 3
    assert kept.kept_read(cat.backend.state, ("test", 0), lambda: "again") == 0
    assert kept.kept_read(cat.backend.state, ("test", 1), lambda: "again") == "again"   # the oldest went


def test_a_file_opened_by_qgis_keeps_its_answers(tmp_path, cache, asked):
    """GDAL writes the SQLite header's change counters of a file it opens (QGIS opening a layer):
    the content is the same, so are the answers."""
    import os
    path = tmp_path / "c.gpkg"
    _tiny(path, ["a", "b"])
    _fresh(path).backend.read("points")
    with open(path, "r+b") as fh:
        fh.seek(24)
        counter = int.from_bytes(fh.read(4), "big")
        fh.seek(24)
        fh.write((counter + 7).to_bytes(4, "big"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000))
    asked.clear()
    assert list(_fresh(path).backend.read("points")["code"]) == ["a", "b"] and asked == []


def test_a_folder_others_may_write_to_is_not_trusted(tmp_path, cache, asked):
    import os
    path = tmp_path / "c.gpkg"
    cat = _tiny(path, ["a"])
    _fresh(path).backend.read("points")
    assert cache.is_dir() and not cache.stat().st_mode & 0o077        # made for this user alone
    assert kept.kept_read(cat.backend.state, ("test",), lambda: "one") == "one"
    os.chmod(cache, 0o777)
    assert kept.kept_read(cat.backend.state, ("test",), lambda: "read again") == "read again"   # not loaded
    assert not cache.stat().st_mode & 0o077        # closed again (this user's) before it kept the answer
    assert kept.kept_read(cat.backend.state, ("test",), lambda: "three") == "read again"


def test_a_folder_of_another_user_keeps_nothing(tmp_path, cache, asked, monkeypatch):
    import os
    path = tmp_path / "c.gpkg"
    cat = _tiny(path, ["a"])
    assert kept.kept_read(cat.backend.state, ("test",), lambda: "one") == "one"
    me = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: me + 1)       # the folder and its files: another's
    assert kept.kept_read(cat.backend.state, ("test",), lambda: "two") == "two"
    assert kept.kept_read(cat.backend.state, ("test",), lambda: "three") == "three"
    assert len(list(cache.glob("*.pickle"))) == 1 and cache.stat().st_uid == me


def test_the_keys_do_not_depend_on_what_the_process_imported(tmp_path):
    """The decisions' and reads' keys name the installed stack, not the modules imported so far
    (pyogrio is imported only where GDAL is asked)."""
    import subprocess
    import sys
    code = ("import sys; from mbm_sig.stack import code_digest; from mbm_sig.catalogue import kept; "
            "assert 'pyogrio' not in sys.modules; a, b = code_digest(), kept._stack(); import pyogrio; "
            "code_digest.cache_clear(); kept._stack.cache_clear(); "
            "from mbm_sig.stack import installed; installed.cache_clear(); "
            "print(a == code_digest(), b == kept._stack())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_pruning_keeps_the_newest_and_clears_what_stopped_writers_left(tmp_path):
    import os
    import time

    from mbm_sig.atomic import STALE_PART_S, prune_kept
    now = time.time()
    for k in range(5):
        f = tmp_path / f"{k}.pickle"
        f.write_bytes(b"x" * 10)
        os.utime(f, (now - 100 + k, now - 100 + k))
    stale, fresh = tmp_path / ".9.part-00000000.pickle", tmp_path / ".8.part-11111111.pickle"
    stale.write_bytes(b"")
    fresh.write_bytes(b"")
    os.utime(stale, (now - STALE_PART_S - 5, now - STALE_PART_S - 5))
    (tmp_path / "other.json").write_bytes(b"{}")
    prune_kept(tmp_path, ".pickle", 3)
    assert sorted(f.name for f in tmp_path.iterdir()) == [".8.part-11111111.pickle", "2.pickle", "3.pickle",
                                                          "4.pickle", "other.json"]
    prune_kept(tmp_path, ".pickle", 10, max_bytes=25)          # the two newest fit in 25 bytes
    assert sorted(f.name for f in tmp_path.glob("[0-9].pickle")) == ["3.pickle", "4.pickle"]
    prune_kept(tmp_path / "gone", ".pickle", 3)                # (removed meanwhile: nothing to do)


def test_a_file_others_may_write_to_is_not_loaded(tmp_path, cache, asked):
    import os
    path = tmp_path / "c.gpkg"
    _tiny(path, ["a"])
    _fresh(path).backend.read("points")
    files = list(cache.glob("*.pickle"))
    assert files and all(not f.stat().st_mode & 0o077 for f in files)      # written for this user alone
    for f in files:
        os.chmod(f, 0o666)
    asked.clear()
    assert list(_fresh(path).backend.read("points")["code"]) == ["a"]
    assert "read_dataframe" in asked                                     # not loaded: GDAL read it


def test_an_open_folder_of_this_user_is_closed_before_anything_is_kept(tmp_path, cache, asked):
    import os
    cache.mkdir(parents=True)
    os.chmod(cache, 0o755)                      # (made by hand, or by an older version)
    path = tmp_path / "c.gpkg"
    _tiny(path, ["a"])
    _fresh(path).backend.read("points")
    assert not cache.stat().st_mode & 0o077 and list(cache.glob("*.pickle"))
    asked.clear()
    assert list(_fresh(path).backend.read("points")["code"]) == ["a"] and asked == []


def test_nothing_is_kept_while_a_rollback_journal_is_there(tmp_path, cache, asked):
    """A writer in SQLite's rollback mode (a write under way) has its journal beside the file:
    the catalogue's state says so, and GDAL answers until it is gone."""
    path = tmp_path / "c.gpkg"
    _tiny(path, ["a"])
    journal = tmp_path / "c.gpkg-journal"
    journal.write_bytes(b"\0" * 512)           # (its header zeroed: what a writer in PERSIST mode leaves)
    assert _fresh(path).backend.state()[-1][0] == "-journal"
    asked.clear()
    for _ in range(2):
        assert list(_fresh(path).backend.read("points")["code"]) == ["a"]
    assert asked.count("read_dataframe") == 2 and not list(cache.glob("*.pickle"))
    journal.unlink()
    assert _fresh(path).backend.state()[-1] is None
    _fresh(path).backend.read("points")
    asked.clear()
    assert list(_fresh(path).backend.read("points")["code"]) == ["a"] and asked == []
