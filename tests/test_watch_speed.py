"""What keeps a `--watch` rebuild after a one-recipe edit short (issue 13, target 2): the
basin maps' shared layout decided again with only the edited sheet built and planned anew
(and the same decision as a fresh process), and the pages a warm process already holds
written to files once, not in every run."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT


def _decide(path: Path, cat, fresh: bool) -> dict:
    from mbm_sig.atlas import series
    from mbm_sig.atlas.engine import _check_requires, load_atlas
    if fresh:                                   # as a new process decides it
        series._LAYOUT_MEMO.clear()
        series._MEMBER_MEMO.clear()
        series._WAITING_MEMO.clear()
    atlas = load_atlas(path)
    values = series.resolve(atlas.series, cat, str(atlas.path))
    return series.with_layouts(atlas, cat, lambda spec: _check_requires(cat, spec), values)[series.LAYOUTS]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_layout_after_one_edit_builds_that_sheet_only_and_decides_as_a_new_process(built_gpkg, tmp_path,
                                                                                    monkeypatch):
    import mbm_sig.maps.recipe as recipe_pkg
    from mbm_sig.atlas.series import page_key

    def series_key(recipe):
        return page_key(recipe, {})
    shutil.copytree(ROOT / "atlases", tmp_path / "atlases")
    path = tmp_path / "atlases" / "sante.yaml"
    recipe = tmp_path / "atlases" / "maps" / "sante_hopitaux.yaml"
    first = _decide(path, built_gpkg, fresh=True)
    assert len(first) >= 8
    built: list[str] = []
    real = recipe_pkg.build_map

    def counted(r, cat):
        built.append(Path(r.path).name)
        return real(r, cat)
    monkeypatch.setattr(recipe_pkg, "build_map", counted)
    assert _decide(path, built_gpkg, fresh=False) == first and built == []       # nothing changed
    _edit(recipe, 'fill: "#f7f4ef"', 'fill: "#f7f4ee"')           # a colour: the plan is the same
    assert _decide(path, built_gpkg, fresh=False) == first and built == []
    _edit(recipe, "margin: 0.03", "margin: 0.031")
    assert _decide(path, built_gpkg, fresh=False) == _decide(path, built_gpkg, fresh=True)
    assert built[0] == "sante_hopitaux.yaml" and len(built) == 1 + len(first)
    built.clear()
    # an edit that moves the layout: this sheet asks for the other kind, the group follows
    built.clear()
    kind = first[series_key(recipe)]["layout"]
    other = "side" if kind == "bottom" else "bottom"
    _edit(recipe, "orientation: landscape", f"orientation: landscape\nlayout: {other}")
    warm = _decide(path, built_gpkg, fresh=False)
    assert built == ["sante_hopitaux.yaml"]
    assert warm != first
    built.clear()
    assert warm == _decide(path, built_gpkg, fresh=True) and len(built) == len(first)


@pytest.mark.parametrize("name", ["sante", "patrimoine", "renouvellement"])
def test_recoloured_basin_maps_keep_their_layout(built_gpkg, tmp_path, name):
    """What lets a warm process keep the layout decision over a recolouring (series._uncoloured):
    every colour of every recipe changed, a new process decides the same layouts."""
    import re
    shutil.copytree(ROOT / "atlases", tmp_path / "atlases")
    path = tmp_path / "atlases" / f"{name}.yaml"
    first = _decide(path, built_gpkg, fresh=True)
    n = 0
    for f in (tmp_path / "atlases" / "maps").glob("*.yaml"):
        text, k = re.subn(r'"#([0-9a-fA-F]{6})"', lambda m: f'"#{int(m.group(1), 16) ^ 0x5a3c96:06x}"',
                          f.read_text(encoding="utf-8"))
        f.write_text(text, encoding="utf-8")
        n += k
    assert n > 50 and first
    assert _decide(path, built_gpkg, fresh=True) == first


def test_warm_page_files_are_written_once_and_follow_their_bytes(tmp_path, monkeypatch):
    from mbm_sig.atlas import incremental as inc
    run = inc.Run(inc.SheetCache(tmp_path / "cache"), versions=None, memo={})
    a, b = b"%PDF-1.4 page a", b"%PDF-1.4 page b"
    run._remember("k1", [], a)
    p = run._hit_file("k1", a, tmp_path / "scratch-1.pdf")
    assert p.read_bytes() == a and not (tmp_path / "scratch-1.pdf").exists()
    p.write_bytes(b"not rewritten")                 # the same bytes object again: the file is reused
    assert run._hit_file("k1", a, tmp_path / "scratch-2.pdf") == p and p.read_bytes() == b"not rewritten"
    run._remember("k1", [], b)                      # the key's page rendered again: new bytes
    assert run._hit_file("k1", b, tmp_path / "scratch-3.pdf").read_bytes() == b
    p.unlink()                                      # a file removed behind its back: written again
    assert run._hit_file("k1", b, tmp_path / "scratch-4.pdf").read_bytes() == b
    monkeypatch.setattr(inc, "PAGES_KEPT", 2)
    for k in ("k2", "k3", "k4"):                    # k1 leaves the memo, and its file goes with it
        run._remember(k, [], a)
    assert ("hit", "k1") not in run.memo and not p.exists()
    cold = inc.Run(inc.SheetCache(tmp_path / "cache"), versions=None)        # no warm memo: the run's file
    out = cold._hit_file("k2", a, tmp_path / "scratch-5.pdf")
    assert out == tmp_path / "scratch-5.pdf" and out.read_bytes() == a


def test_union_of_the_same_features_is_kept_and_equal_to_shapely():
    import numpy as np
    import shapely

    from mbm_sig.maps import geom
    a = np.array([shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3),
                  shapely.Polygon([(5, 5), (6, 6), (6, 5), (5, 6)])], dtype=object)    # a bow tie: invalid
    u = geom.union_of(a, valid=True)
    assert u.equals(shapely.union_all(shapely.make_valid(a)))
    assert geom.union_of(list(a), valid=True) is u                 # the same objects: kept
    assert geom.union_of(a[:2]).equals(shapely.union_all(a[:2])) and geom.union_of(a[:2]) is not u
    b = np.array([shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)], dtype=object)   # equal, other objects
    assert geom.union_of(b) is not geom.union_of(a[:2]) and geom.union_of(b).equals(geom.union_of(a[:2]))


def test_a_save_seen_at_its_truncation_is_waited_for_after_take(tmp_path):
    """The watcher looks at the files (take) before it settles: a file still being written
    (opened with truncation, not closed) keeps it waiting until closed or quiet."""
    import time

    from mbm_sig.atlas.incremental import Notifier
    n = Notifier.create()
    if n is None:
        import pytest
        pytest.skip("no inotify on this system")
    try:
        f = tmp_path / "r.yaml"
        f.write_text("a: 1\n")
        assert n.watch([f])
        with open(f, "w") as fh:                # truncated, half written, still open
            fh.write("a:")
            fh.flush()
            assert n.wait(1.0) and str(f) in n.take()
            t0 = time.monotonic()
            n.settle(quiet=0.2)
            assert time.monotonic() - t0 >= 0.15
        assert n.wait(1.0) and str(f) in n.take()
        t0 = time.monotonic()
        n.settle(quiet=5.0)                     # closed: whole at once
        assert time.monotonic() - t0 < 4.0
    finally:
        n.close()
