"""Issue 13, target 3 (both cores): what the parallel run shares between its processes stays what
each would have read itself (never timings: bench/bench_whole.py --phase-only measures them)."""
from __future__ import annotations

from mbm_sig.atlas import engine
from mbm_sig.atlas.engine import load_atlas, plan
from mbm_sig.catalogue import Catalogue


def _fresh(cat: Catalogue) -> Catalogue:
    """The same GeoPackage file, opened anew (nothing read yet, as in a new process)."""
    return Catalogue.open(cat.url)


def test_the_warm_up_counts_each_layer_as_the_files_metadata_does(built_gpkg, tmp_path):
    """The warm-up counts the pages' layers in memory (their rows as read) instead of asking GDAL
    for the file's feature count in each forked process: the same numbers, every layer."""
    for name in built_gpkg.backend.layer_names():
        fresh = _fresh(built_gpkg)
        assert len(fresh.read(name)) == _fresh(built_gpkg).backend.count(name), name
    for atlas_name in ("sante", "patrimoine", "renouvellement"):
        atlas = load_atlas(atlas_name)
        cat = _fresh(built_gpkg)
        body, _ = plan(atlas, cat)
        engine._warm(atlas, cat, body, tmp_path)
        counted = cat.backend._counts[1]
        used = engine._used_layers(body) & set(cat.backend.layer_names())
        assert used and used <= set(counted)
        for name in used:
            assert counted[name] == _fresh(built_gpkg).backend.count(name), (atlas_name, name)


def test_what_the_deciding_worker_read_is_kept_only_for_the_same_file(built_gpkg):
    """The deciding worker sends the provenance log, each layer's last import and the counts it
    read; the parent keeps them (as if it had read them) while the file is the one they were
    read from, and never in place of what it read itself."""
    atlas = load_atlas("sante")
    worker = _fresh(built_gpkg)
    body, _ = plan(atlas, worker)
    decided = engine._decide(atlas, worker, body)
    assert {"_log", "_last", "_counts"} <= set(decided["read"])
    assert decided["read"]["_last"] is not None and decided["towns"] is not None

    parent = _fresh(built_gpkg)
    engine._install(decided, parent)
    assert parent.last_import("communes") == _fresh(built_gpkg).last_import("communes")
    assert parent.backend.log().equals(_fresh(built_gpkg).backend.log())
    assert parent.backend._counts[1]["communes"] == _fresh(built_gpkg).backend.count("communes")

    # read from another state of the file (another stamp): not kept
    stale = {a: (("another", "stamp"), v[1]) for a, v in decided["read"].items() if v is not None}
    other = _fresh(built_gpkg)
    engine._install({"read": stale}, other)
    assert other.backend._last is None and other.backend._log is None and other.backend._counts is None

    # counts this process already has stay; the others are added
    mine = _fresh(built_gpkg)
    stamp = mine.backend._stamp()
    mine.backend._counts = (stamp, {"communes": -1})
    engine._install({"read": {"_counts": (stamp, {"communes": 5, "departements": 7})}}, mine)
    assert mine.backend._counts[1] == {"communes": -1, "departements": 7}
