"""No POSIX-only module on the paths users take (issue 12 point 4): the catalogue writes and
the command line run where ``fcntl`` and ``signal.SIGPIPE`` do not exist (Windows), with the
``msvcrt`` lock instead; the lock is exclusive between processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mbm_sig.atomic import file_lock

ROOT = Path(__file__).resolve().parent.parent

WINDOWS_LIKE = textwrap.dedent("""
    import sys, types, signal
    sys.path.insert(0, {tests!r})
    from test_catalogue import ssm_frame
    from mbm_sig import cli
    from mbm_sig.catalogue import Catalogue
    sys.modules["fcntl"] = None                     # import fcntl -> ImportError, as on Windows
    del signal.SIGPIPE
    calls = []
    msvcrt = types.ModuleType("msvcrt")             # the Windows locking call, recorded
    msvcrt.LK_NBLCK, msvcrt.LK_UNLCK = 2, 0
    msvcrt.locking = lambda fd, mode, n: calls.append(mode)
    sys.modules["msvcrt"] = msvcrt
    db = {db!r}
    Catalogue.open(db).write("ssm_dispensaires", ssm_frame(2))
    assert calls == [2, 0], calls
    code = cli.main(["--db", db, "sql", "SELECT count(*) AS n FROM ssm_dispensaires"])
    assert code == 0
    print("ok", len(Catalogue.open(db).read("ssm_dispensaires")))
""")


def test_catalogue_and_cli_without_fcntl_or_sigpipe(tmp_path):
    code = WINDOWS_LIKE.format(tests=str(ROOT / "tests"), db=str(tmp_path / "c.gpkg"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-2:] == ["ok", "2"]


def test_file_lock_is_exclusive_between_processes(tmp_path):
    lock = tmp_path / "x.lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from mbm_sig.atomic import file_lock
        with file_lock({str(lock)!r}):
            print("held", flush=True)
            sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BlockingIOError, match="locked by another process"):
            with file_lock(lock, blocking=False):
                pass
    finally:
        holder.communicate("\n", timeout=30)
    with file_lock(lock, blocking=False):           # free again once the holder is gone
        pass
