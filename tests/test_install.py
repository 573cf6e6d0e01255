"""Install anywhere: the wheel carries layers/, atlases/ and data/; installed into a fresh
virtual environment outside the checkout it builds the catalogue, lists the layers, renders
the health atlas and reads a layer from Python; MBM_SIG_DEFINITIONS points it at an agency's
own definitions.

Fast and offline: the wheel is built without build isolation and installed with --no-deps;
the dependencies come from the project's venv through a .pth file (measured: about 20 s on 2 cores)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    dist = tmp / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "-w", str(dist), str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = dist.glob("mbm_sig-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
                        str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies of the project's venv (a .pth line adds the folder, not its .pth files:
    # the checkout's editable install stays out)
    Path(site, "mbm-sig-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp / "elsewhere"
    work.mkdir()
    return wheel, venv, work


def run(venv, work, *args, env=None, check=True):
    e = {k: v for k, v in os.environ.items() if not k.startswith("MBM_SIG_") or k == "MBM_SIG_DATA_DIR"}
    e.pop("PYTHONPATH", None)
    e.update({"MBM_SIG_CACHE": str(ROOT / "var" / "cache"), "MBM_SIG_DB": str(work / "catalogue.gpkg")})
    e.update(env or {})
    r = subprocess.run([str(venv / "bin" / args[0]), *args[1:]], cwd=work, capture_output=True, text=True,
                       env=e, timeout=600)
    if check:
        assert r.returncode == 0, (args, r.stdout[-1500:], r.stderr[-3000:])
    return r


def test_wheel_carries_definitions(installed):
    wheel, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("layers/sources.yaml", "layers/communes.yaml", "atlases/sante.yaml",
              "atlases/maps/sante_arrondissement.yaml", "data/concessions.csv"):
        assert f"mbm_sig/_definitions/{f}" in names, f
    repo = sorted(p.relative_to(ROOT).as_posix() for d in ("layers", "atlases", "data")
                  for p in (ROOT / d).rglob("*") if p.is_file())
    assert sorted(n.split("_definitions/", 1)[1] for n in names if "_definitions/" in n) == repo
    assert "mbm_sig/web/static/leaflet/leaflet.js" in names and "mbm_sig/qgis/probe.py" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]


def test_installed_package_runs_outside_checkout(installed, data_dir):
    _, venv, work = installed
    r = run(venv, work, "python", "-c", "import mbm_sig, mbm_sig.config as c; print(mbm_sig.__file__); "
            "print(c.LAYERS_DIR)")
    pkg, layers = r.stdout.split()
    assert str(venv) in pkg and str(venv) in layers and str(ROOT) not in pkg
    run(venv, work, "mbm-sig", "build", "-q")
    assert (work / "catalogue.gpkg").is_file()
    r = run(venv, work, "mbm-sig", "layers", "--json")
    counts = {row["name"]: row["count"] for row in json.loads(r.stdout)}
    assert counts["puits"] == 636 and counts["communes"] > 1000
    run(venv, work, "mbm-sig", "atlas", "sante", "-o", str(work / "out"))
    assert (work / "out" / "atlas-sante.pdf").stat().st_size > 100_000
    r = run(venv, work, "python", "-c", "from mbm_sig import Catalogue; "
            "print(len(Catalogue.open().read('puits', where={'compagnie': None})) >= 0, "
            "len(Catalogue.open().read('communes', where={'insee': '62498'})))")
    assert r.stdout.split() == ["True", "1"]
    assert not (Path(pkg).parent.parent / "var").exists()     # nothing written inside site-packages


def test_agency_definitions_override(installed, tmp_path):
    _, venv, work = installed
    own = tmp_path / "agence"
    for d in ("layers", "atlases", "data"):
        shutil.copytree(ROOT / d, own / d)
    p = own / "layers" / "puits.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("title: Anciens puits de mines",
                                                       "title: Puits de l'agence", 1), encoding="utf-8")
    r = run(venv, work, "mbm-sig", "layers", "--json", env={"MBM_SIG_DEFINITIONS": str(own)})
    titles = {row["name"]: row["title"] for row in json.loads(r.stdout)}
    assert titles["puits"] == "Puits de l'agence"
    r = run(venv, work, "mbm-sig", "layers", env={"MBM_SIG_DEFINITIONS": str(tmp_path / "nowhere")},
            check=False)
    assert r.returncode == 2 and "MBM_SIG_DEFINITIONS" in r.stderr and "Traceback" not in r.stderr
