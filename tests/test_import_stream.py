"""Streaming import (issue 13 item 6): every import is read, checked and written in batches,
one path for every size; the layer written is the one a one-batch read gives, problems are
named by the file's rows across batches, and a problem or a kill at any moment leaves the old
layer and its provenance (never timings or memory: bench/bench_import.py measures those)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from mbm_sig.catalogue import Catalogue, readers
from mbm_sig.catalogue.validate import ValidationError


def _points(path: Path, n: int, dup_at: int | None = None, bad_at: int | None = None, seed: int = 7) -> Path:
    """n pts_projets rows in EPSG:4326 (row ``dup_at + 1`` repeats row 2's key, row ``bad_at + 1``
    has a porteur outside the domain)."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:05d}" for i in range(n)]
    if dup_at is not None:
        ids[dup_at] = ids[1]
    porteur = ["Association"] * n
    if bad_at is not None:
        porteur[bad_at] = "Club"
    df = pd.DataFrame({"id": ids, "intitule": [f"Projet {i}" for i in ids], "porteur": porteur,
                       "annee": rng.integers(2000, 2026, n), "accepte": rng.integers(0, 2, n).astype(bool)})
    geom = gpd.points_from_xy(rng.uniform(2.5, 3.5, n), rng.uniform(50.2, 50.7, n), crs="EPSG:4326")
    gpd.GeoDataFrame(df, geometry=geom).to_file(path, layer="points", driver="GPKG", engine="pyogrio")
    return path


def _state(cat: Catalogue, name: str):
    df = cat.read(name)
    return df.sort_values("id").reset_index(drop=True), cat.provenance(name)


def _same_state(cat: Catalogue, name: str, before) -> None:
    df, log = _state(cat, name)
    pd.testing.assert_frame_equal(df.drop(columns="geom"), before[0].drop(columns="geom"))
    assert df.geom.geom_equals_exact(before[0].geom, 1e-6).all()
    pd.testing.assert_frame_equal(log, before[1])


def test_batches_write_the_layer_a_single_batch_writes(catalogue, tmp_path, monkeypatch):
    """16 features a batch (7 batches) and the whole file in one batch give the same layer,
    on both backends; the provenance row counts every batch."""
    src = _points(tmp_path / "pts.gpkg", 100)
    monkeypatch.setattr(readers, "STREAM_BATCH", 16)
    calls = []
    real = readers._arrow_batches
    monkeypatch.setattr(readers, "_arrow_batches", lambda *a: calls.append(a[-1]) or real(*a))
    assert catalogue.import_file("pts_projets", src) == 100
    assert calls == [16]
    small = catalogue.read("pts_projets")
    assert catalogue.last_import("pts_projets")["rows"] == 100
    monkeypatch.setattr(readers, "STREAM_BATCH", 10_000)
    assert catalogue.import_file("pts_projets", src) == 100
    whole = catalogue.read("pts_projets")
    assert len(small) == 100 and small.columns.tolist() == whole.columns.tolist()
    pd.testing.assert_frame_equal(small.drop(columns="geom"), whole.drop(columns="geom"))
    assert small.geom.geom_equals_exact(whole.geom, 1e-6).all()
    assert small["id"].is_unique and small.crs.to_epsg() == 2154


def test_problems_across_batches_are_named_by_file_row(catalogue, tmp_path, monkeypatch):
    """A key repeated from an earlier batch and a bad value in a later batch are both reported
    with the file's row numbers; nothing is written: old layer and provenance as they were."""
    monkeypatch.setattr(readers, "STREAM_BATCH", 16)
    catalogue.import_file("pts_projets", _points(tmp_path / "good.gpkg", 50))
    before = _state(catalogue, "pts_projets")
    # row 61 (4th batch) repeats row 2's key; row 91 (6th batch) has a porteur outside the domain
    with pytest.raises(ValidationError) as err:
        catalogue.import_file("pts_projets", _points(tmp_path / "bad.gpkg", 100, dup_at=60, bad_at=90))
    rows = [(p.row, p.field) for p in err.value.problems]
    assert rows == [(61, "id"), (91, "porteur")], err.value.report()
    report = err.value.report()
    assert "bad.gpkg: 2 problems for layer pts_projets; the catalogue was not changed" in report
    assert "row 61, field id, value 'P00001': duplicate key" in report
    assert "row 91, field porteur, value 'Club': not an allowed value" in report
    _same_state(catalogue, "pts_projets", before)


def test_repeated_key_inside_one_batch_and_whole_file_problems_said_once(catalogue, tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "STREAM_BATCH", 16)
    path = _points(tmp_path / "dup.gpkg", 40, dup_at=5)           # rows 2 and 6: the same batch
    with pytest.raises(ValidationError) as err:
        catalogue.import_file("pts_projets", path)
    assert [(p.row, p.field, p.reason) for p in err.value.problems] == [(6, "id", "duplicate key")]
    gdf = gpd.read_file(_points(tmp_path / "ok.gpkg", 40)).drop(columns="intitule")   # a required column missing
    gdf.to_file(tmp_path / "nocol.gpkg", driver="GPKG", engine="pyogrio")
    with pytest.raises(ValidationError) as err:
        catalogue.import_file("pts_projets", tmp_path / "nocol.gpkg")
    assert [str(p) for p in err.value.problems] == [
        "file, field intitule: required field is missing from the file"]     # once, not per batch
    assert not catalogue.has_data("pts_projets")


def test_an_empty_file_never_wipes_the_layer(catalogue, tmp_path):
    catalogue.import_file("pts_projets", _points(tmp_path / "good.gpkg", 5))
    before = _state(catalogue, "pts_projets")
    empty = gpd.read_file(tmp_path / "good.gpkg").iloc[:0]
    empty.to_file(tmp_path / "empty.gpkg", driver="GPKG", engine="pyogrio")
    with pytest.raises(ValidationError, match="file: the file holds no rows"):
        catalogue.import_file("pts_projets", tmp_path / "empty.gpkg")
    _same_state(catalogue, "pts_projets", before)


def test_read_user_file_gives_every_batch(tmp_path, monkeypatch):
    from mbm_sig.catalogue.layerdef import load_layers
    monkeypatch.setattr(readers, "STREAM_BATCH", 7)
    gdf = readers.read_user_file(_points(tmp_path / "p.gpkg", 30), load_layers()["pts_projets"])
    assert len(gdf) == 30 and gdf["id"].tolist() == [f"P{i:05d}" for i in range(30)]
    assert gdf.crs.to_epsg() == 4326


# -- kills ------------------------------------------------------------------------------

KILLED = r"""
import sys, time
from mbm_sig.catalogue import Catalogue, readers, validate
readers.STREAM_BATCH = 50
real = validate.check
def slow(*a, **k):
    out = real(*a, **k)
    print("batch", flush=True)
    time.sleep(0.05)
    return out
validate.check = slow
Catalogue.open(sys.argv[1]).import_file("pts_projets", sys.argv[2])
print("done", flush=True)
"""


def test_a_kill_at_any_moment_leaves_the_old_layer_and_provenance(tmp_path):
    """SIGKILL after 1, 7, 19 and 20 batches (reading, checking, writing into the temporary copy)
    and during the final replace: the catalogue opens with the old layer and provenance, or,
    once the import is complete, with the new one; never anything in between."""
    db = tmp_path / "c.gpkg"
    cat = Catalogue.open(str(db))
    cat.import_file("pts_projets", _points(tmp_path / "old.gpkg", 30))
    before = _state(cat, "pts_projets")
    src = _points(tmp_path / "new.gpkg", 1000, seed=8)          # 20 batches
    outcomes = []
    for after in (1, 7, 19, 20):
        p = subprocess.Popen([sys.executable, "-c", KILLED, str(db), str(src)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
        for _ in range(after):
            assert p.stdout.readline().strip() == "batch"
        if after == 20:
            time.sleep(0.2)                      # the last batch checked: inside the writer's end
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        cat = Catalogue.open(str(db))
        n = len(cat.read("pts_projets"))
        assert n in (30, 1000), n
        outcomes.append(n)
        if n == 30:
            _same_state(cat, "pts_projets", before)
        else:
            assert cat.last_import("pts_projets")["rows"] == 1000
            cat.import_file("pts_projets", tmp_path / "old.gpkg")
            before = _state(cat, "pts_projets")
    assert outcomes[:3] == [30, 30, 30], outcomes
    cat.import_file("pts_projets", tmp_path / "old.gpkg")      # the next writer clears what was left
    assert [q.name for q in tmp_path.iterdir() if ".tmp." in q.name] == []


def test_a_write_keeps_the_catalogue_file_mode(tmp_path):
    """The replaced catalogue keeps the permissions it had (a shared, group-readable file is
    not made private by the temporary copy)."""
    db = tmp_path / "c.gpkg"
    cat = Catalogue.open(str(db))
    cat.import_file("pts_projets", _points(tmp_path / "a.gpkg", 5))
    db.chmod(0o664)
    cat.import_file("pts_projets", _points(tmp_path / "b.gpkg", 6))
    assert db.stat().st_mode & 0o777 == 0o664 and len(cat.read("pts_projets")) == 6


def test_points_reprojected_as_to_crs_gives_them_to_the_bit():
    """2D points made anew from their reprojected coordinates are the points ``to_crs`` gives,
    to the last bit; a batch with a missing, empty, 3D or non-point geometry goes through
    ``to_crs`` itself (and gives the same points)."""
    import shapely

    from mbm_sig.catalogue.validate import _in_target_crs
    from mbm_sig.config import TARGET_CRS
    rng = np.random.default_rng(3)
    pts = shapely.points(np.column_stack([rng.uniform(1.6, 4.2, 5000), rng.uniform(50.0, 51.1, 5000)]))
    for geoms in (pts, np.append(pts[:10], [None]), np.append(pts[:10], shapely.from_wkt("POINT EMPTY")),
                  np.append(pts[:10], shapely.from_wkt("POINT Z (3 50.5 7)")),
                  np.append(pts[:10], shapely.from_wkt("LINESTRING (3 50.5, 3.1 50.6)"))):
        gs = gpd.GeoSeries(geoms, crs="EPSG:4326")
        ours = _in_target_crs(gs)
        theirs = np.asarray(gs.to_crs(TARGET_CRS).values, dtype=object)
        assert len(ours) == len(theirs)
        assert (shapely.to_wkb(ours) == shapely.to_wkb(theirs)).all()
    same = gpd.GeoSeries(pts[:3], crs=TARGET_CRS)
    assert (_in_target_crs(same) == np.asarray(same.values, dtype=object)).all()


def test_keys_repeated_from_earlier_batches_are_found_in_any_order(catalogue, tmp_path, monkeypatch):
    """Keys in descending order, three of them repeating keys of earlier batches (the lookup
    sorts each batch's hashes): each reported at its own file row, and nothing else."""
    monkeypatch.setattr(readers, "STREAM_BATCH", 16)
    path = _points(tmp_path / "desc.gpkg", 80)
    gdf = gpd.read_file(path)
    ids = [f"P{i:05d}" for i in range(80)][::-1]
    for row, earlier in ((20, 3), (47, 18), (79, 0)):
        ids[row] = ids[earlier]
    gdf["id"] = ids
    gdf.to_file(tmp_path / "desc2.gpkg", driver="GPKG", engine="pyogrio")
    with pytest.raises(ValidationError) as err:
        catalogue.import_file("pts_projets", tmp_path / "desc2.gpkg")
    assert [(p.row, p.field, p.reason) for p in err.value.problems] == [
        (21, "id", "duplicate key"), (48, "id", "duplicate key"), (80, "id", "duplicate key")]
