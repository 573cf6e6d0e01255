"""Render the example recipes of this folder to their pictures (72 dpi, reduced palette).

    python docs/examples/render.py [NAME…]      # catalogue: MBM_SIG_DB or var/catalogue.gpkg

Each recipe is rendered to a PDF in a temporary folder, turned into a PNG by poppler's
``pdftoppm`` and written next to the recipe (``NAME.png``), replaced in one step.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def render(names: list[str]) -> None:
    from PIL import Image

    from mbm_sig import Catalogue
    from mbm_sig.atomic import atomic_write_bytes
    from mbm_sig.maps.recipe import load_recipe, render_recipe

    os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")
    cat = Catalogue.open(os.environ.get("MBM_SIG_DB") or str(HERE.parents[1] / "var" / "catalogue.gpkg"))
    paths = [HERE / f"{n}.yaml" for n in names] if names else sorted(HERE.glob("*.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            pdf = Path(tmp) / f"{path.stem}.pdf"
            render_recipe(load_recipe(path), cat, pdf)
            png = subprocess.run(["pdftoppm", "-png", "-r", "72", "-singlefile", str(pdf)], check=True,
                                 capture_output=True).stdout
            im = Image.open(io.BytesIO(png)).convert("RGB").quantize(
                colors=96, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            out = io.BytesIO()
            im.save(out, format="PNG", optimize=True)
            atomic_write_bytes(path.with_suffix(".png"), out.getvalue())
            print(f"{path.with_suffix('.png').name}: {len(out.getvalue()) // 1024} KB")


if __name__ == "__main__":
    render(sys.argv[1:])
