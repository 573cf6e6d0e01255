"""Files that appear complete under their final name, or not at all.

Every file the tool writes (atlas books, sheets, exports, fiches, web map files) goes
through :func:`atomic_path` or :func:`atomic_write_bytes`: the content is written to a
temporary file beside the final one, flushed to disk, then renamed over it
(``os.replace``, atomic on POSIX and Windows). On any error, a full disk included, the
temporary file is removed and the old file is left as it was.

:func:`safe_name` turns data (ids, names) into file names that cannot leave their folder.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mbm_sig.errors import Failure, InvalidInput

PART_MARK = ".part-"


def temp_beside(final: Path) -> Path:
    """A fresh temporary name in ``final``'s folder that keeps its extension (drivers and
    savers infer the format from it): ``.NAME.part-XXXXXXXX.EXT``."""
    final = Path(final)
    return final.with_name(f".{final.stem}{PART_MARK}{secrets.token_hex(4)}{final.suffix}")


def write_beside(final: Path, data: bytes, mode: int = 0o666) -> None:
    """``data`` written under a fresh temporary name beside ``final`` (created with ``mode``,
    less the umask) and renamed over it: readers see it whole or not at all. Not flushed to
    disk (for caches: a file cut short reads as none). On an OSError the temporary file is
    removed and the error raised."""
    final = Path(final)
    part = temp_beside(final)
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
        with open(fd, "wb") as fh:
            fh.write(data)
        os.replace(part, final)
    except OSError:
        try:
            part.unlink()
        except OSError:
            pass
        raise


def replace_kept(final: Path, data: bytes, mode: int = 0o666) -> bool:
    """A cache file (what is kept across runs: decisions, font subsets, reads) written by
    :func:`write_beside`, its folder made if needed. False when nothing was kept (a read-only
    or full cache folder: each run makes it again)."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        write_beside(final, data, mode)
        return True
    except OSError:
        return False


#: a part file (``.NAME.part-…``) older than this was left by a process that was stopped
STALE_PART_S = 600


def prune_kept(folder: Path, suffix: str, max_files: int, max_bytes: int | None = None) -> None:
    """A cache folder's files ending in ``suffix`` cut to the ``max_files`` (and ``max_bytes``)
    most recently used (by mtime: readers touch what they use), and the part files stopped
    writers left; nothing when the folder cannot be listed (removed meanwhile)."""
    import time
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    files = []
    for entry in entries:
        if not entry.name.endswith(suffix):
            continue
        try:
            st = entry.stat()
        except OSError:         # (removed meanwhile by another run)
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
        if n >= max_files or (max_bytes is not None and total > max_bytes):
            _unlink(name)


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


_SCRATCH: set[str] = set()


@contextmanager
def scratch(folder: str | os.PathLike) -> Iterator[Path]:
    """While the block runs, files :func:`atomic_path` writes in ``folder`` (or below it), a
    temporary folder removed after use (an atlas's page files), are renamed into place
    without being flushed to disk: nothing in it outlives the folder, so a flush would
    keep nothing. The files made from them (the book) are flushed as always."""
    key = os.path.abspath(folder)
    _SCRATCH.add(key)
    try:
        yield Path(folder)
    finally:
        _SCRATCH.discard(key)


def _durable(final: Path) -> bool:
    if not _SCRATCH:
        return True
    parent = Path(os.path.abspath(final.parent))
    return not any(str(p) in _SCRATCH for p in (parent, *parent.parents))


def fsync_path(path: Path) -> None:
    """Flush a written file's content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:          # Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe_os_error(exc: OSError, path: Path) -> str:
    """One line for an OSError met while writing ``path``."""
    if exc.errno == errno.ENOSPC:
        why = "no space left on the device"
    elif exc.errno == errno.EDQUOT:
        why = "disk quota exceeded"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = "permission denied"
    elif exc.errno == errno.EROFS:
        why = "read-only file system"
    else:
        why = exc.strerror or str(exc)
    return f"cannot write {path}: {why} (the previous file, if any, is unchanged)"


@contextmanager
def atomic_path(final: str | os.PathLike, *, sidecars: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; when the block ends without error the
    temporary file is flushed and renamed to ``final``.

    ``sidecars``: extensions of companion files the writer makes next to the temporary
    path (a shapefile's ``.shx``, ``.dbf``…); they are renamed with it, the main file
    last. On an error every temporary file is removed and an ``OSError`` becomes a
    :class:`~mbm_sig.errors.Failure` naming the file.
    """
    final = Path(final)
    tmp = temp_beside(final)
    companions = [(tmp.with_suffix(ext), final.with_suffix(ext)) for ext in sidecars]
    try:
        yield tmp
        if not tmp.exists():
            raise Failure(f"cannot write {final}: the writer produced no file")
        durable = _durable(final)
        for src, _ in companions + [(tmp, final)]:
            if durable and src.exists():
                fsync_path(src)
        for src, dst in companions:
            if src.exists():
                os.replace(src, dst)
        os.replace(tmp, final)
        if durable:
            fsync_dir(final.parent)
    except OSError as exc:
        _remove(tmp, companions)
        raise Failure(describe_os_error(exc, final)) from exc
    except BaseException:
        _remove(tmp, companions)
        raise


def _remove(tmp: Path, companions) -> None:
    for p in [tmp] + [src for src, _ in companions]:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass


def atomic_write_bytes(final: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``final`` atomically; returns the final path."""
    final = Path(final)
    with atomic_path(final) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return final


def atomic_write_text(final: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``final`` atomically; returns the final path."""
    return atomic_write_bytes(final, text.encode(encoding))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}


def safe_name(text, max_length: int = 80) -> str:
    """A file-name part made from data: accents folded, anything but letters, digits,
    ``.``, ``_`` and ``-`` replaced by ``_``, no leading dot, never empty, never a
    Windows device name. ``../../x`` becomes ``x``-like text, never a path."""
    s = unicodedata.normalize("NFKD", str(text))
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = _UNSAFE.sub("_", s).strip("._-")
    s = re.sub(r"\.{2,}", ".", s)[:max_length].strip("._-")
    if not s:
        raise InvalidInput(f"{text!r} gives no usable file name")
    if s.split(".")[0].upper() in _WINDOWS_RESERVED:
        s = "_" + s
    return s


def inside(folder: str | os.PathLike, name: str) -> Path:
    """``folder / name``, refused when it would resolve outside ``folder``."""
    base = Path(folder).resolve()
    target = (base / name).resolve()
    if target != base and base not in target.parents:
        raise InvalidInput(f"{name!r} would be written outside {folder}")
    return target


def remove_stale_parts(folder: str | os.PathLike) -> None:
    """Remove temporary files a killed writer left in ``folder``."""
    for p in Path(folder).glob(f".*{PART_MARK}*"):
        try:
            p.unlink()
        except OSError:
            pass


@contextmanager
def file_lock(path: str | os.PathLike, blocking: bool = True) -> Iterator[None]:
    """An exclusive lock held on the file ``path`` (created if needed) for the block:
    ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows. With ``blocking=False`` a
    lock held elsewhere raises :class:`BlockingIOError` at once. The lock goes with the
    process: a killed holder never leaves it behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+b")
    try:
        try:
            import fcntl
        except ImportError:           # Windows
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise BlockingIOError(errno.EWOULDBLOCK, f"{path} is locked by another process") from None
                raise
        else:
            import msvcrt
            import time
            fh.seek(0)
            while True:
                try:
                    msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
                    break
                except OSError:
                    if not blocking:
                        raise BlockingIOError(errno.EWOULDBLOCK, f"{path} is locked by another process") from None
                    time.sleep(0.05)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)
            else:
                import msvcrt
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
    finally:
        fh.close()
