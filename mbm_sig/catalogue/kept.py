"""What reading a GeoPackage catalogue found, kept across processes.

Every ``mbm-sig`` command is a new process, and each read of a GeoPackage through GDAL opens
the file again (some 8 ms a call, a layer of one feature too; the first call in a process
also pays GDAL's set-up and importing pyogrio, some 60 ms): a health atlas asks GDAL some
fifteen times before its first page. The answers (a layer as read, the layer names, a
feature count, the provenance log) are kept in the cache folder (``read/``) under the
catalogue's state (:meth:`mbm_sig.catalogue.gpkg.GeoPackageBackend.state`: the file's
content by digest), what was read, and the stack that read and keeps them as installed
(:func:`mbm_sig.stack.installed`: GDAL through pyogrio, pandas, geopandas, shapely, numpy,
pyarrow, pyproj, Python, each by the stat of its installed files): a later
process on the same file reads them back in a fraction of a millisecond to a few
milliseconds instead. A change of the file's content is a new state, so nothing kept is
read for it again; while a writer holds pages in the write-ahead log (QGIS editing a layer)
or its rollback journal (a write under way), nothing is kept or read back, GDAL answers.

The answers are pickled (a layer is a GeoDataFrame: its dtypes, CRS and attributes come
back as read). Pickles can run code when loaded: they are read only from the cache folder
(``MBM_SIG_CACHE``; by default ``var/cache`` of the checkout, or of the working folder for
an installed tool), whose ``read/`` folder is made, or set when this user owns it, for
this user alone (mode 0700); the files are written for this user alone (0600), and one is
loaded only when this user owns it and the folder and no one else may write to either; a
folder that is not so keeps nothing. A file that does not load (cut short, another stack)
is read again from the catalogue and kept anew. The key also holds the code of this module,
of the GeoPackage reader and of the settings module (what they do to GDAL's answer: the
target CRS). At most :data:`KEPT_FILES` files and
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
    from mbm_sig.stack import files_digest, installed
    pkg = Path(mbm_sig.__file__).resolve().parent
    code = files_digest(pkg, [pkg / "catalogue" / "kept.py", pkg / "catalogue" / "gpkg.py", pkg / "config.py"])
    return (mbm_sig.__version__, code, installed(READING_STACK))


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


def _trusted(folder: Path, st: os.stat_result | None = None) -> bool:
    """A kept file (``st``) is loaded only when this user owns it and its folder, and no one
    else may write to either (made so by :func:`_keep`): a pickle can run code when loaded.
    Without ``st``: the folder alone, before a file is written in it."""
    if not hasattr(os, "getuid"):       # (Windows: the user's own profile folders)
        return True
    try:
        fst = os.stat(folder)
    except OSError:
        return False
    uid = os.getuid()
    mine = [fst] if st is None else [fst, st]
    return all(s.st_uid == uid and not s.st_mode & 0o022 for s in mine)


def _own_folder(folder: Path) -> bool:
    """``folder`` made for this user alone (0700), or set so when this user owns it (a
    folder made by hand or by an older version); False when it cannot be (another owner)."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if hasattr(os, "getuid"):
            fst = os.stat(folder)
            if fst.st_uid == os.getuid() and fst.st_mode & 0o077:
                os.chmod(folder, 0o700)
    except OSError:
        return False
    return _trusted(folder)


def _keep(path: Path, what: tuple, out) -> None:
    from mbm_sig.atomic import prune_kept, replace_kept
    try:
        data = pickle.dumps((what, out), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:   # noqa: BLE001 - not picklable: read again next time
        return
    if len(data) > ENTRY_BYTES or not _own_folder(path.parent):
        return
    if replace_kept(path, data, mode=0o600):
        prune_kept(path.parent, ".pickle", KEPT_FILES, KEPT_BYTES)
