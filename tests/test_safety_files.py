"""Files the tool writes appear complete or not at all, and data never become paths
(issue 9 points 3–5): exports of every format and atlas books on a really full disk (a
small tmpfs), catalogues that do not exist, layers never built, fiches with hostile ids.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mbm_sig.errors import CatalogueMissing, Failure, InvalidInput
from test_catalogue import ssm_frame
from test_cli import mbm  # noqa: F401  (fixture: mbm-sig in this process)

ROOT = Path(__file__).resolve().parent.parent
MBM = [sys.executable, "-m", "mbm_sig.cli"]


def run(*args, env=None):
    e = dict(os.environ, MBM_SIG_DEBUG="", **(env or {}))
    return subprocess.run(MBM + list(args), capture_output=True, text=True, env=e, cwd=ROOT, timeout=300)


def one_line(r) -> str:
    err = r.stderr.strip()
    assert "Traceback" not in err, err
    assert err.count("\n") == 0 and err.startswith("error: "), err
    return err


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != "filler"}


@pytest.fixture
def small_disk(tmp_path):
    """A 6 MB tmpfs: a real file system that fills up."""
    disk = tmp_path / "disk"
    disk.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}): the full-disk tests need root")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int = 32 * 1024) -> None:
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(disk / "filler", "wb") as fh:
        try:
            fh.write(b"\0" * max(0, free - leave))
        except OSError:
            pass


# --------------------------------------------------------------------------------------
# full disk

@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp", ".fgb", ".csv"])
def test_export_on_full_disk_keeps_old_file(built_gpkg, small_disk, suffix, mbm):
    out = small_disk / f"communes{suffix}"
    r = mbm("--db", built_gpkg.url, "export", "communes", str(out), "--where", "insee=62498")
    assert r.returncode == 0, r.stderr
    before = listing(small_disk)
    assert out.name in before
    fill(small_disk)
    r = mbm("--db", built_gpkg.url, "export", "communes", str(out))
    assert r.returncode == 1
    line = one_line(r)
    assert line.startswith(f"error: cannot write {out}: ") and "unchanged" in line, line
    assert listing(small_disk) == before            # old file(s) intact, no temporary file left


def test_atlas_book_and_sheets_on_full_disk(built_gpkg, small_disk):
    from mbm_sig.atlas.engine import render_atlas
    only = ["Arrondissement de Lens"]
    res = render_atlas("sante", out_dir=small_disk, catalogue=built_gpkg, only=only, sheets=True,
                       progress=False, workers=1)
    assert res.pdf.exists() and res.sheet_files
    before = {p.relative_to(small_disk): p.read_bytes() for p in small_disk.rglob("*") if p.is_file()}
    fill(small_disk, leave=8 * 1024)
    with pytest.raises(Failure, match="no space left on the device"):
        render_atlas("sante", out_dir=small_disk, catalogue=built_gpkg, only=only, sheets=True,
                     progress=False, workers=1)
    after = {p.relative_to(small_disk): p.read_bytes() for p in small_disk.rglob("*")
             if p.is_file() and p.name != "filler"}
    assert after == before


# --------------------------------------------------------------------------------------
# no silent empties

@pytest.mark.parametrize("command", [
    ["layers"], ["export", "puits", "{tmp}/p.gpkg"], ["sql", "SELECT 1"],
    ["map", "atlases/maps/densite_bassin.yaml", "-o", "{tmp}/m.pdf"], ["atlas", "sante", "-o", "{tmp}"],
    ["web", "-o", "{tmp}/web"], ["fiche", "cite", "BI-0001", "-o", "{tmp}/f.pdf"],
])
def test_reading_a_missing_catalogue_names_it(tmp_path, command, mbm):
    db = tmp_path / "absent" / "catalogue.gpkg"
    args = [c.format(tmp=tmp_path) for c in command]
    for r in (mbm("--db", str(db), *args), mbm(*args, "--db", str(db))):    # global option before or after
        assert r.returncode == 2
        assert one_line(r).startswith(f"error: catalogue {db} does not exist: create it with `mbm-sig --db {db} build`")
    assert not db.exists() and not db.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_python_reads_of_missing_catalogue_raise(tmp_path):
    from mbm_sig.catalogue import Catalogue
    db = tmp_path / "c.gpkg"
    with pytest.raises(CatalogueMissing):
        Catalogue.open(str(db), create=False)
    cat = Catalogue.open(str(db))
    assert set(cat.layers()["status"]) == {"never built"}
    for call in (lambda: cat.read("puits"), lambda: cat.sql("SELECT 1"),
                 lambda: cat.export("puits", tmp_path / "p.gpkg")):
        with pytest.raises(CatalogueMissing, match="c.gpkg does not exist"):
            call()
    assert not db.exists() and not (tmp_path / "p.gpkg").exists()


def test_layer_never_built_is_shown_and_refused(catalogue, tmp_path):
    catalogue.write("ssm_dispensaires", ssm_frame(2))
    df = catalogue.layers().set_index("name")
    assert df.loc["ssm_dispensaires", "status"] == "imported" or df.loc["ssm_dispensaires", "status"] == "built"
    assert df.loc["puits", "status"] == "never built" and df.loc["puits", "fill"].startswith("`mbm-sig")
    assert df.loc["trame_verte", "fill"].endswith("import trame_verte FILE`")
    with pytest.raises(InvalidInput, match=r"layer puits holds no data in .*: fill it with `mbm-sig.* build puits`"):
        catalogue.export("puits", tmp_path / "p.geojson")
    assert not (tmp_path / "p.geojson").exists()


def _drop_behind_the_back(cat, name):
    if cat.backend.kind == "gpkg":
        import sqlite3
        con = sqlite3.connect(cat.backend.path)
        con.execute(f'DROP TABLE "{name}"')
        con.commit()
        con.close()
    else:
        with cat.backend.engine.begin() as con:
            con.exec_driver_sql(f'DROP TABLE mbm."{name}"')


def test_table_dropped_behind_the_back_is_reported_and_repaired(catalogue, tmp_path, mbm):
    catalogue.write("ssm_dispensaires", ssm_frame(3))
    _drop_behind_the_back(catalogue, "ssm_dispensaires")
    df = catalogue.layers().set_index("name")
    assert df.loc["ssm_dispensaires", "status"] == "missing"
    r = mbm("--db", catalogue.url, "layers")
    assert r.returncode == 0
    assert "warning: layer ssm_dispensaires was written but its table is gone" in r.stderr
    r = mbm("--db", catalogue.url, "export", "ssm_dispensaires", str(tmp_path / "x.csv"))
    assert r.returncode == 2 and "import ssm_dispensaires FILE" in one_line(r)
    f = tmp_path / "d.geojson"
    ssm_frame(4).to_file(f)
    r = mbm("--db", catalogue.url, "import", "ssm_dispensaires", str(f))
    assert r.returncode == 0, r.stderr
    assert len(catalogue.read("ssm_dispensaires")) == 4
    assert catalogue.layers().set_index("name").loc["ssm_dispensaires", "status"] == "imported"


# --------------------------------------------------------------------------------------
# data never become paths

def test_fiche_with_hostile_id_stays_in_its_folder(built_gpkg, tmp_path, mbm):
    from mbm_sig.catalogue import Catalogue
    import shutil
    db = tmp_path / "c.gpkg"
    shutil.copyfile(built_gpkg.backend.path, db)
    cat = Catalogue.open(str(db))
    cites = cat.read("cites_minieres")
    first = cites["id"].iloc[0]
    cites.loc[0, "id"] = "../../../evil"
    cat.write("cites_minieres", cites.rename_geometry("geometry"))
    out = tmp_path / "out"
    r = mbm("--db", str(db), "fiche", "cite", "../../../evil", env={"MBM_SIG_OUT": str(out)})
    assert r.returncode == 0, r.stderr
    assert [p.name for p in out.iterdir()] == ["fiche-cite-evil.pdf"]
    assert not list(tmp_path.parent.parent.glob("evil*")) and not list(tmp_path.glob("evil*"))
    assert first != "../../../evil"


def test_safe_name_and_inside():
    from mbm_sig.atomic import inside, safe_name
    assert safe_name("../../../x") == "x"
    assert safe_name("Cité n°1 / Lens") == "Cite_n_1_Lens"
    assert safe_name("CON") == "_CON"
    with pytest.raises(InvalidInput):
        safe_name("../..")
    with pytest.raises(InvalidInput, match="outside"):
        inside("/tmp/out", "../x.pdf")
