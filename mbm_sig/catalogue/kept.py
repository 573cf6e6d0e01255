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
back as read). Pickles can run code when loaded: they are read only from the cache folder
(``MBM_SIG_CACHE``; by default ``var/cache`` of the checkout, or of the working folder for
an installed tool), whose ``read/`` folder is made for this user alone (mode 0700), and a
file is loaded only when this user owns it and the folder and no one else may write to the
folder. A file that does not load (cut short, another stack) is read again from the
catalogue and kept anew. The key also holds the code of this module and of the GeoPackage
reader (what they do to GDAL's answer). At most :data:`KEPT_FILES` files and
:data:`KEPT_BYTES` bytes are kept, the least recently read dropped first; an answer whose
pickle is larger than :data:`ENTRY_BYTES` is not kept. A read-only or full cache folder
keeps nothing: GDAL answers.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
from pathlib import Path

#: bumped when what is kept for a read changes
FORMAT = 1
KEPT_FILES = 256
KEPT_BYTES = 256 << 20
ENTRY_BYTES = 32 << 20

#: the packages whose versions decide what a read gives (pyogrio brings GDAL in its wheel)
READING_STACK = ("pyogrio", "pandas", "geopandas", "shapely", "numpy", "pyarrow", "pyproj")


@functools.lru_cache(maxsize=1)
def _stack() -> tuple:
    """What makes and reads back the answers: the reading stack as installed
    (:func:`mbm_sig.stack.installed`, without importing pyogrio: a process whose reads are all
    kept never imports it) and this module's and the GeoPackage reader's code, by content."""
    import mbm_sig
    from mbm_sig.stack import installed
    here = Path(__file__).resolve().parent
    code = hashlib.blake2b(digest_size=16)
    for name in ("kept.py", "gpkg.py"):
        code.update((here / name).read_bytes())
    return (mbm_sig.__version__, code.hexdigest(), installed(READING_STACK))


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
            if not _trusted(path.parent, os.fstat(fh.fileno())):
                raise PermissionError(path)
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
    """The file of an answer; None while a writer holds pages in the write-ahead log (or the
    file is unknown)."""
    if state is None or state[-1] is not None or state[1] is None:
        return None
    from mbm_sig.config import settings
    key = hashlib.blake2b(repr((FORMAT, state, what, _stack())).encode(), digest_size=20).hexdigest()
    return settings().cache_dir / "read" / f"{key}.pickle"


def _trusted(folder: Path, st: os.stat_result) -> bool:
    """A kept file is loaded only when this user owns it and its folder, and no one else may
    write to the folder (made so by :func:`_keep`): a pickle can run code when loaded."""
    if not hasattr(os, "getuid"):       # (Windows: the user's own profile folders)
        return True
    try:
        fst = os.stat(folder)
    except OSError:
        return False
    uid = os.getuid()
    return st.st_uid == uid and fst.st_uid == uid and not fst.st_mode & 0o022


def _keep(path: Path, what: tuple, out) -> None:
    from mbm_sig.atomic import replace_kept
    try:
        data = pickle.dumps((what, out), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:   # noqa: BLE001 - not picklable: read again next time
        return
    if len(data) > ENTRY_BYTES:
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return
    if replace_kept(path, data):
        _prune(path.parent)


#: a part file (``.NAME.part-…``) older than this was left by a process that was stopped
STALE_PART_S = 600


def _prune(folder: Path) -> None:
    """Least recently read first, until at most :data:`KEPT_FILES` files and :data:`KEPT_BYTES`
    (and the part files stopped writers left); nothing when the folder cannot be listed."""
    import time
    files = []
    try:
        entries = list(os.scandir(folder))
    except OSError:             # (removed meanwhile: a user clearing the cache)
        return
    for entry in entries:
        if not entry.name.endswith(".pickle"):
            continue
        try:
            st = entry.stat()
        except OSError:
            continue
        if entry.name.startswith("."):          # a part being written, or left by a stopped writer
            if st.st_mtime < time.time() - STALE_PART_S:
                _unlink(entry.path)
            continue
        files.append((st.st_mtime_ns, st.st_size, entry.path))
    files.sort(reverse=True)
    total = 0
    for n, (_, size, name) in enumerate(files):
        total += size
        if n >= KEPT_FILES or total > KEPT_BYTES:
            _unlink(name)


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass
