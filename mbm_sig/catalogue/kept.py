"""What reading a GeoPackage catalogue found, kept across processes.

Every ``mbm-sig`` command is a new process, and each read of a GeoPackage through GDAL opens
the file again (some 8 ms a call, a layer of one feature too; the first call in a process
also pays GDAL's set-up and importing pyogrio, some 60 ms): a health atlas asks GDAL some
fifteen times before its first page. The answers (a layer as read, the layer names, a
feature count, the provenance log) are kept in the cache folder (``read/``) under the
catalogue's state (:meth:`mbm_sig.catalogue.gpkg.GeoPackageBackend.state`: the file's
content by digest), what was read, and the versions of the stack that read and keeps them
(GDAL through pyogrio, pandas, geopandas, shapely, numpy, pyarrow, pyproj, Python): a later
process on the same file reads them back in a fraction of a millisecond to a few
milliseconds instead. A change of the file's content is a new state, so nothing kept is
read for it again; while a writer holds pages in the write-ahead log (QGIS editing a layer)
nothing is kept or read back, GDAL answers.

The answers are pickled (a layer is a GeoDataFrame: its dtypes, CRS and attributes come
back as read). Pickles can run code when loaded: the folder is the user's own cache
(``MBM_SIG_CACHE``, by default ``var/cache`` beside the code), as trusted as the code
itself, and the tool never reads pickles from anywhere else. A file that does not load
(cut short, another stack) is read again from the catalogue and kept anew. At most
:data:`KEPT_FILES` files and :data:`KEPT_BYTES` bytes are kept, the least recently read
dropped first; an answer larger than :data:`ENTRY_BYTES` is not kept (reading it back would
hold it twice in memory). A read-only or full cache folder keeps nothing: GDAL answers.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path

#: bumped when what is kept for a read changes
FORMAT = 1
KEPT_FILES = 256
KEPT_BYTES = 256 << 20
ENTRY_BYTES = 32 << 20

_STACK: tuple | None = None


def _stack() -> tuple:
    """The versions of what makes and reads back the answers. pyogrio is known by its files'
    stat (a wheel brings its own GDAL), not imported: a process whose reads are all kept
    never imports it."""
    global _STACK
    if _STACK is None:
        import importlib.util

        import geopandas
        import numpy
        import pandas
        import pyarrow
        import pyproj
        import shapely
        spec = importlib.util.find_spec("pyogrio")
        ogr: tuple = ()
        if spec is not None and spec.origin:
            folder = Path(spec.origin).parent
            for name in sorted(os.listdir(folder)):
                if name.startswith(("_version", "_io", "_ogr")):
                    st = (folder / name).stat()
                    ogr += ((name, st.st_size, st.st_mtime_ns),)
        _STACK = (sys.version, pandas.__version__, geopandas.__version__, shapely.__version__,
                  numpy.__version__, pyarrow.__version__, pyproj.__version__, str(spec and spec.origin), ogr)
    return _STACK


def kept_read(state_of, what: tuple, read):
    """``read()`` (an answer of GDAL about the catalogue whose state ``state_of()`` gives:
    ``what`` names the question), kept across processes as the module says. Kept only when
    the state is the same after the read as before (a file replaced meanwhile: the answer
    may be of either, and is not kept)."""
    state = state_of()
    path = _path(state, what)
    if path is None:
        return read()
    try:
        with open(path, "rb") as fh:
            kept_what, out = pickle.load(fh)
        if kept_what == what:
            try:
                os.utime(path)          # recently read: dropped last
            except OSError:
                pass
            return out
    except Exception:   # noqa: BLE001 - absent, cut short, or of another stack: read again
        pass
    out = read()
    if state_of() == state:
        _keep(path, what, out)
    return out


def _path(state, what: tuple) -> Path | None:
    """The file of an answer; None while a writer holds pages in the write-ahead log."""
    if state is None or state[-1] is not None:
        return None
    from mbm_sig.config import settings
    key = hashlib.blake2b(repr((FORMAT, state, what, _stack())).encode(), digest_size=20).hexdigest()
    return settings().cache_dir / "read" / f"{key}.pickle"


def _keep(path: Path, what: tuple, out) -> None:
    from mbm_sig.atomic import replace_kept
    try:
        data = pickle.dumps((what, out), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:   # noqa: BLE001 - not picklable: read again next time
        return
    if len(data) > ENTRY_BYTES or not replace_kept(path, data):
        return
    _prune(path.parent)


def _prune(folder: Path) -> None:
    """Least recently read first, until at most :data:`KEPT_FILES` files and :data:`KEPT_BYTES`."""
    files = []
    for entry in os.scandir(folder):
        if entry.name.endswith(".pickle") and not entry.name.startswith("."):    # (not a part)
            try:
                st = entry.stat()
            except OSError:
                continue
            files.append((st.st_mtime_ns, st.st_size, entry.path))
    files.sort(reverse=True)
    total = 0
    for n, (_, size, name) in enumerate(files):
        total += size
        if n >= KEPT_FILES or total > KEPT_BYTES:
            try:
                os.unlink(name)
            except OSError:
                pass
