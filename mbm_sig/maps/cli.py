"""``mbm-sig map RECIPE [-o OUT.pdf] [--png] [--svg] [--cmyk] [-p key=value ...]``"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cli_map(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mbm-sig map", description="Render one map recipe to PDF (or PNG/SVG).")
    ap.add_argument("recipe", help="recipe YAML (e.g. atlases/maps/densite_bassin.yaml)")
    ap.add_argument("-o", "--out", help="output file (default: OUT_DIR/<recipe>.pdf)")
    ap.add_argument("--png", action="store_true", help="also write a PNG (300 dpi)")
    ap.add_argument("--svg", action="store_true", help="also write an SVG")
    ap.add_argument("--cmyk", action="store_true", help="convert the PDF to CMYK with Ghostscript")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                    help="template parameter of the recipe, e.g. -p siren=246200364 -p 'nom=CA de Lens - Liévin'")
    a = ap.parse_args(argv)
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.config import settings
    from mbm_sig.errors import MbmSigError
    from mbm_sig.maps.output import save_figure
    from mbm_sig.maps.recipe import build_map, load_recipe
    params = {}
    for p in a.param:
        if "=" not in p:
            print(f"error: mbm-sig map: parameter {p!r} is not KEY=VALUE", file=sys.stderr)
            return 2
        k, v = p.split("=", 1)
        params[k] = v
    out = Path(a.out) if a.out else settings().out_dir / (Path(a.recipe).stem + ".pdf")
    try:
        r = load_recipe(a.recipe, params)
        m, used = build_map(r, Catalogue.open())
        info = m.draw()
        md = dict(m.metadata)
        written = []
        main_fmt = out.suffix.lstrip(".").lower() or "pdf"
        save_figure(info.figure, out, fmt=main_fmt, metadata=md, cmyk=a.cmyk and main_fmt == "pdf")
        written.append(out)
        for flag, ext in ((a.png, "png"), (a.svg, "svg")):
            if flag and main_fmt != ext:
                p = out.with_suffix("." + ext)
                save_figure(info.figure, p, fmt=ext, metadata=md)
                written.append(p)
    except MbmSigError as exc:          # invalid input: 2, failure: 1 (mbm_sig.errors)
        print(f"error: {exc.message()}", file=sys.stderr)
        return exc.exit_code
    dropped = sum(1 for _ in info.labels)
    print(f"{', '.join(map(str, written))}: {info.page} {info.orientation}, 1:{info.scale:,.0f}, "
          f"{dropped} labels, layers {', '.join(used)}")
    return 0


if __name__ == "__main__":
    sys.exit(cli_map())
