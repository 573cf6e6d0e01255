"""``mbm-sig build``: fill the catalogue from every configured source, idempotently.

Each layer whose definition has a ``build`` section is rebuilt from its sources (registry
packages, mirror files, facts of data/); a layer whose source is missing is reported in
one line and skipped, the others build. All rebuilt layers replace the old ones in one
atomic write, each with a provenance row (source files, checksum, rows, date, version).
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

import mbm_sig.catalogue.builders_renouvellement  # noqa: F401  (registers its builders)
from mbm_sig.catalogue import Catalogue, file_checksum
from mbm_sig.catalogue.builders import (
    BUILDERS,
    BuildContext,
    MissingSource,
    clean_names,
    french_strings,
    number_within,
    run_steps,
)
from mbm_sig.catalogue.layerdef import LayerDef, load_layers
from mbm_sig.catalogue.validate import ValidationError
from mbm_sig.config import settings
from mbm_sig.errors import InvalidInput, UnknownName


def build_layer(ctx: BuildContext, ld: LayerDef):
    """The frame of layer ``ld``: its named builder (``build.builder``, registered by the
    builder modules imported above) or its ``build.steps``."""
    ctx.current = ld.name
    if "builder" in ld.build:
        fn = BUILDERS.get(ld.build["builder"])
        if fn is None:
            raise ValueError(f"{ld.path}: unknown builder {ld.build['builder']!r}")
        gdf = clean_names(ctx, french_strings(fn(ctx, ld), ld), ld)
    else:
        gdf = clean_names(ctx, french_strings(run_steps(ctx, ld), ld), ld)
    if ld.build.get("number"):
        # numbered on the names as printed (spellings applied: «Rés. du Parc» is «Résidence du Parc»)
        gdf = number_within(gdf, ld.build["number"])
    return gdf


@dataclass
class BuildResult:
    layer: str
    status: str      # "built", "kept" (user import), "skipped", "failed"
    rows: int = 0
    message: str = ""


def dependencies(ld: LayerDef) -> list[str]:
    deps = list(ld.build.get("after", []))
    if "from" in ld.build:
        deps.append(ld.build["from"])
    return deps


def build_order(defs: dict[str, LayerDef], names=None) -> list[str]:
    """Buildable layers in dependency order (stable: file order otherwise)."""
    if names is not None:
        unknown = [n for n in names if n not in defs]
        if unknown:
            raise UnknownName(f"unknown layer {unknown[0]!r}; known layers: {', '.join(defs)}")
        manual = [n for n in names if not defs[n].build]
        if manual:
            raise UnknownName(f"layer {manual[0]!r} has no source to build from: fill it with "
                           f"`mbm-sig import {manual[0]} FILE`")
    wanted = [n for n in defs if defs[n].build and (names is None or n in names)]
    order, seen = [], set()

    def visit(n, stack=()):
        if n in seen:
            return
        if n in stack:
            raise InvalidInput(f"build dependency cycle: {' -> '.join(stack + (n,))}")
        for d in dependencies(defs[n]):
            if d not in defs:
                raise InvalidInput(f"{defs[n].path}: depends on unknown layer {d!r}")
            visit(d, stack + (n,))
        seen.add(n)
        order.append(n)
    for n in wanted:
        visit(n)
    return order


def build(catalogue: Catalogue | None = None, names=None, data_dir=None, progress: bool = True,
          out=sys.stderr, force: bool = False) -> list[BuildResult]:
    """Rebuild the buildable layers. A layer whose last write is a user import is kept
    (its user data would be lost) unless ``force``; it still feeds the layers built after it."""
    cat = catalogue or Catalogue.open()
    defs = load_layers()
    ctx = BuildContext(settings=settings(db_url=cat.url, data_dir=data_dir))
    results, frames, sources, sums = [], {}, {}, {}
    order = build_order(defs, names)
    bar = tqdm(order, desc="build", unit="layer", file=out, disable=not progress, leave=False)
    for name in bar:
        bar.set_postfix_str(name)
        ld = defs[name]
        last = cat.last_import(name) if not force else None
        if last is not None and last["action"] == "import":
            kept = cat.read(name)
            ctx.built[name] = kept.rename_geometry("geometry") if ld.has_geometry else kept
            results.append(BuildResult(name, "kept", rows=len(kept), message=(
                f"imported from {Path(str(last['source'])).name} on {str(last['imported_at'])[:10]}; "
                f"`mbm-sig build --force {name}` rebuilds it from the sources")))
            continue
        try:
            raw = build_layer(ctx, ld)
            frame = cat.prepare(name, raw, source=f"build {name}")
        except MissingSource as exc:
            results.append(BuildResult(name, "skipped", message=str(exc)))
            continue
        except ValidationError as exc:
            results.append(BuildResult(name, "failed", message=exc.report()))
            continue
        ctx.built[name] = frame.rename_geometry("geometry") if ld.has_geometry else frame
        frames[name] = frame
        files = ctx.used_files.get(name, [])
        sources[name] = "; ".join(str(f) for f in files)
        h = hashlib.sha256("".join(file_checksum(f) for f in files).encode())
        sums[name] = h.hexdigest()
        results.append(BuildResult(name, "built", rows=len(frame), message="; ".join(ctx.notes.get(name, []))))
    bar.close()
    if frames:
        cat.write_many(frames, sources, action="build", checksums=sums)
    return results


def report(results: list[BuildResult], out=sys.stderr) -> None:
    for r in results:
        if r.status == "built":
            print(f"  built    {r.layer:<24} {r.rows:>6} rows  {r.message}".rstrip(), file=out)
        elif r.status == "kept":
            print(f"  kept     {r.layer:<24} {r.rows:>6} rows  {r.message}", file=out)
        elif r.status == "skipped":
            print(f"  skipped  {r.layer:<24} {r.message}", file=out)
        else:
            print(f"  FAILED   {r.layer:<24} {r.message}", file=out)
