"""The installed stack, known by its files: what a cache kept across runs is keyed on besides
its inputs (an atlas's decisions, its pages, the catalogue's reads): :func:`code_digest` (the
package's code and the drawing stack) and :func:`installed` (given packages).

Each package is known by where it is installed and the stat of its first file (an install
or upgrade writes new files: a new inode and time), found without importing it (some
0.1 ms a package, where asking the installed distributions' metadata takes some 2 ms):
the same answer whatever the process has imported so far. Not its folder: Python writes
``__pycache__`` into it on first use, which would change the key after the first run of an
install made without bytecode. A wheel's bundled libraries (``NAME.libs``, pyogrio's GDAL)
are counted with their package; a library the system provides (a GDAL that a pyogrio built
from source links to) is not.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path


@functools.lru_cache(maxsize=16)
def installed(modules: tuple[str, ...]) -> tuple:
    """(Python's version, then per module: its name, origin and the stat of its origin and of
    the files of a ``NAME.libs`` folder beside it; None for a module not installed)."""
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
        entry: list = [name, str(origin), _stat(origin)]
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
    import mbm_sig
    pkg = Path(mbm_sig.__file__).resolve().parent
    return files_digest(pkg, sorted(pkg.rglob("*.py")), repr((mbm_sig.__version__, installed(DRAWING_STACK))))


def files_digest(root: Path, files, extra: str = "") -> str:
    """A digest of ``files`` (under ``root``) by name and content, and of ``extra``."""
    import hashlib
    h = hashlib.blake2b(digest_size=20)
    for f in files:
        h.update(str(Path(f).relative_to(root)).encode() + b"\0" + Path(f).read_bytes() + b"\0")
    h.update(extra.encode())
    return h.hexdigest()
