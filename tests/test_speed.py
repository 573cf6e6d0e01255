"""Issue 13 behaviour (never timings: bench/ measures speed): the per-commune example atlas,
parallel rendering giving the same bytes as one worker, commands importing only what they use."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    """The parent renders the first page (warming the caches the forked workers inherit),
    the workers the rest: the book is byte-identical to the one-worker book."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    path = small_communes_atlas(tmp_path, ["59001", "59350", "62041", "62498", "62510"])
    one = render_atlas(path, out_dir=tmp_path / "j1", catalogue=built_gpkg, progress=False, workers=1)
    two = render_atlas(path, out_dir=tmp_path / "j2", catalogue=built_gpkg, progress=False, workers=2)
    assert one.sheets == two.sheets == 5
    assert [p.params["insee"] for p in two.body] == ["59001", "59350", "62041", "62498", "62510"]
    assert same_bytes(one.pdf, two.pdf)


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
