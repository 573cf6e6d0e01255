"""Connections (issue 9 point 2): every way a PostGIS server can fail gives one clear line,
no traceback, no hang, and the old layer intact.

The silent server and the server refusing the password are local sockets made here; the
rest runs against the throwaway PostGIS of ``scripts/test.sh``.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from test_catalogue import ssm_frame
from test_cli import mbm  # noqa: F401  (fixture: mbm-sig in this process)

ROOT = Path(__file__).resolve().parent.parent
MBM = [sys.executable, "-m", "mbm_sig.cli"]


@pytest.fixture(autouse=True)
def _restore_db_setting(monkeypatch):
    """cli.main(["--db", X, …]) in this process sets MBM_SIG_DB: restored after each test."""
    monkeypatch.setenv("MBM_SIG_DB", os.environ.get("MBM_SIG_DB", ""))
    if not os.environ["MBM_SIG_DB"]:
        monkeypatch.delenv("MBM_SIG_DB")


def run(*args, env=None, timeout=60):
    e = dict(os.environ, MBM_SIG_DEBUG="", **(env or {}))
    t0 = time.monotonic()
    r = subprocess.run(MBM + list(args), capture_output=True, text=True, env=e, cwd=ROOT, timeout=timeout)
    r.seconds = time.monotonic() - t0
    return r


def one_line(r) -> str:
    err = r.stderr.strip()
    assert "Traceback" not in err, err
    assert err.count("\n") == 0 and err.startswith("error: "), err
    return err


class FakeServer:
    """A TCP server on loopback: ``silent`` accepts and never answers; ``password``
    speaks just enough of the PostgreSQL protocol to refuse the password."""

    def __init__(self, mode: str):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.mode == "password":
                threading.Thread(target=self._refuse, args=(c,), daemon=True).start()

    def _refuse(self, c):
        try:
            while True:
                n = struct.unpack("!i", c.recv(4))[0]
                body = c.recv(n - 4)
                code = struct.unpack("!i", body[:4])[0]
                if code in (80877103, 80877104):      # SSLRequest, GSSENCRequest: not here
                    c.sendall(b"N")
                    continue
                break
            c.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            c.recv(4096)
            fields = (b"SFATAL\0VFATAL\0C28P01\0M"
                      b'password authentication failed for user "analyste"\0\0')
            c.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)
        except OSError:
            pass

    def close(self):
        self.stop = True
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def server(request):
    s = FakeServer(request.param)
    yield s
    s.close()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("server", ["silent"], indirect=True)
@pytest.mark.parametrize("command", [["layers"], ["sql", "SELECT 1"], ["import", "ssm_dispensaires", "{f}"]])
def test_silent_server_does_not_hang(server, command, tmp_path):
    f = tmp_path / "d.geojson"
    ssm_frame(2).to_file(f)
    url = f"postgresql://analyste@127.0.0.1:{server.port}/sig"
    r = run("--db", url, *[c.format(f=f) for c in command], env={"MBM_SIG_CONNECT_TIMEOUT": "1"})
    assert r.returncode == 1
    assert one_line(r) == f"error: cannot connect to {url}: no answer within 1 s (MBM_SIG_CONNECT_TIMEOUT)"
    assert r.seconds < 15


@pytest.mark.parametrize("server", ["password"], indirect=True)
def test_wrong_password_one_line_without_the_password(server, mbm):
    url = f"postgresql://analyste:s3cret@127.0.0.1:{server.port}/sig"
    r = mbm("--db", url, "layers")
    assert r.returncode == 1
    line = one_line(r)
    assert line == (f"error: cannot connect to postgresql://analyste:***@127.0.0.1:{server.port}/sig: "
                    'password authentication failed for user "analyste"')
    assert "s3cret" not in r.stderr + r.stdout


def test_closed_port_and_unknown_host(mbm):
    port = free_port()
    r = mbm("--db", f"postgresql://u@127.0.0.1:{port}/sig", "layers")
    assert r.returncode == 1
    assert one_line(r) == f"error: cannot connect to postgresql://u@127.0.0.1:{port}/sig: Connection refused"
    r = mbm("--db", "postgresql://u@serveur-inconnu.invalid/sig", "layers", env={"MBM_SIG_CONNECT_TIMEOUT": "3"})
    assert r.returncode == 1
    line = one_line(r)
    assert line.startswith("error: cannot connect to postgresql://u@serveur-inconnu.invalid/sig: ")
    assert "serveur-inconnu.invalid" in line.split(": ", 2)[2]
    assert r.seconds < 20


def test_connect_timeout_setting_is_checked(mbm):
    r = mbm("--db", "postgresql://u@127.0.0.1:1/sig", "layers", env={"MBM_SIG_CONNECT_TIMEOUT": "dix"})
    assert r.returncode == 2
    assert one_line(r) == "error: setting MBM_SIG_CONNECT_TIMEOUT='dix': expected a number >= 0"


# --------------------------------------------------------------------------------------
# against the real server

@pytest.fixture
def pg_admin():
    from conftest import PG_URL, _new_pg_database, _drop_pg_database
    url = _new_pg_database()
    roles = []
    eng = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")

    def role(name_prefix, *grants):
        name = f"{name_prefix}_{uuid.uuid4().hex[:6]}"
        with eng.connect() as con:
            con.exec_driver_sql(f'CREATE ROLE "{name}" LOGIN')
        here = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
        with here.connect() as con:
            for g in grants:
                con.exec_driver_sql(g.format(role=f'"{name}"'))
        here.dispose()
        roles.append(name)
        return url.replace("postgres@", f"{name}@")

    yield url, role, eng
    _drop_pg_database(url)
    with eng.connect() as con:
        for r in roles:
            con.exec_driver_sql(f'DROP ROLE IF EXISTS "{r}"')
    eng.dispose()


@pytest.mark.postgis
def test_database_without_postgis(pg_admin, tmp_path, mbm):
    url, role, eng = pg_admin
    name = "mbm_nopostgis_" + uuid.uuid4().hex[:6]
    with eng.connect() as con:
        con.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        bare = url.rsplit("/", 1)[0] + "/" + name
        user = role("carto", f'GRANT ALL ON DATABASE "{name}" TO {{role}}', f'ALTER DATABASE "{name}" OWNER TO {{role}}')
        user = user.rsplit("/", 1)[0] + "/" + name
        f = tmp_path / "d.geojson"
        ssm_frame(2).to_file(f)
        r = mbm("--db", user, "import", "ssm_dispensaires", str(f))
        assert r.returncode == 1
        line = one_line(r)
        assert "PostGIS is not installed in this database" in line and "CREATE EXTENSION postgis" in line
        r = mbm("--db", bare, "layers")
        assert r.returncode == 2
        assert one_line(r).startswith(f"error: catalogue {bare} (schema mbm) does not exist")
    finally:
        with eng.connect() as con:
            con.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgis
def test_role_without_privilege_keeps_the_old_layer(pg_admin, tmp_path, mbm):
    url, role, eng = pg_admin
    from mbm_sig.catalogue import Catalogue
    cat = Catalogue.open(url)
    cat.write("ssm_dispensaires", ssm_frame(3))
    cat.backend.dispose()
    reader = role("lecteur", "GRANT USAGE ON SCHEMA mbm TO {role}", "GRANT SELECT ON ALL TABLES IN SCHEMA mbm TO {role}")
    f = tmp_path / "d.geojson"
    ssm_frame(5).to_file(f)
    r = mbm("--db", reader, "import", "ssm_dispensaires", str(f))
    assert r.returncode == 1
    line = one_line(r)
    assert "lacks a privilege" in line and "permission denied" in line and "mbm-sig roles" in line
    r = mbm("--db", url, "sql", "SELECT count(*) AS n FROM ssm_dispensaires")
    assert r.returncode == 0 and r.stdout.split()[1] == "3", r.stderr


@pytest.mark.postgis
def test_connection_lost_during_import(pg_admin, tmp_path, monkeypatch, capsys):
    """The server ends the session just before the commit: one line, the old layer kept."""
    url, role, eng = pg_admin
    from mbm_sig import cli
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.catalogue.postgis import PostGISBackend
    cat = Catalogue.open(url)
    cat.write("ssm_dispensaires", ssm_frame(3))
    before = cat.read("ssm_dispensaires")

    def cut(self, con):
        pid = con.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with eng.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        time.sleep(0.2)
    monkeypatch.setattr(PostGISBackend, "_before_commit", cut)
    f = tmp_path / "d.geojson"
    ssm_frame(5).to_file(f)
    code = cli.main(["--db", url, "import", "ssm_dispensaires", str(f)])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.count("\n") == 0 and err.startswith(f"error: connection to {url} lost during write: ")
    assert err.endswith("(nothing was changed: the transaction rolled back)")
    monkeypatch.undo()
    after = Catalogue.open(url)
    assert len(after.read("ssm_dispensaires")) == 3
    assert list(after.read("ssm_dispensaires")["id"]) == list(before["id"])
    assert len(after.provenance("ssm_dispensaires")) == 1
    cat.backend.dispose()
    after.backend.dispose()


@pytest.mark.postgis
def test_statement_timeout_setting(pg_admin, mbm):
    url, role, eng = pg_admin
    from mbm_sig.catalogue import Catalogue
    Catalogue.open(url).write("ssm_dispensaires", ssm_frame(1))
    r = mbm("--db", url, "sql", "SELECT pg_sleep(5) IS NULL AS slept", env={"MBM_SIG_STATEMENT_TIMEOUT": "0.5"})
    assert r.returncode == 1
    assert one_line(r) == "error: SQL cancelled after 0.5 s (MBM_SIG_STATEMENT_TIMEOUT)"
    assert r.seconds < 5
