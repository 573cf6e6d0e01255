"""The installed stack, known by its files: what a cache kept across runs is keyed on besides
its inputs (an atlas's decisions, its pages, the catalogue's reads): :func:`code_digest` (the
package's code and the drawing stack) and :func:`installed` (given packages).

Each package is known by where it is installed and the stat of its first file and of its
folder (an upgrade writes new files, so both change), found without importing it (some
0.1 ms a package, where asking the installed distributions' metadata takes some 2 ms):
the same answer whatever the process has imported so far. A wheel's bundled libraries
(``NAME.libs``, pyogrio's GDAL) are counted with their package.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path


@functools.lru_cache(maxsize=16)
def installed(modules: tuple[str, ...]) -> tuple:
    """(Python's version, then per module: its name, origin and the stat of its origin, of its
    folder and of the files of a ``NAME.libs`` folder beside it; None for a module not installed)."""
    out: list = [sys.version]
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin:
            out.append((name, None))
            continue
        origin = Path(spec.origin)
        folder = origin.parent
        entry: list = [name, str(origin), _stat(origin), _stat(folder)]
        libs = folder.parent / f"{folder.name}.libs"
        if spec.submodule_search_locations is not None and libs.is_dir():
            entry += [(f.name, _stat(f)) for f in sorted(libs.iterdir())]
        out.append(tuple(entry))
    return tuple(out)


def _stat(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


#: the packages whose versions decide what a page looks like (kept decisions and pages)
DRAWING_STACK = ("matplotlib", "fontTools", "numpy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio",
                 "mapclassify", "PIL", "pypdf")


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """The package's code (every module, by content), its version and the drawing stack as
    installed (:func:`installed`): what decides a layout or a page besides its inputs."""
    import hashlib

    import mbm_sig
    h = hashlib.blake2b(digest_size=20)
    pkg = Path(mbm_sig.__file__).resolve().parent
    for f in sorted(pkg.rglob("*.py")):
        h.update(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes() + b"\0")
    h.update(repr((mbm_sig.__version__, installed(DRAWING_STACK))).encode())
    return h.hexdigest()
