"""A local PostgreSQL for the cluster's Dagster instance: initdb into a state folder (once), then the
server in the foreground on 127.0.0.1 (a supervised child, or a test fixture's process).

PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user (the
Debian package creates it) through `runuser`, and the data folder is chown'ed to it. The password
of the `vectra` role is generated once and kept owner-only next to the data folder."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from vectra_capture.store.atomic import atomic_write_bytes, ensure_dir

ROLE = "vectra"
DATABASE = "dagster"
SERVICE_USER = "postgres"  # who runs the server when we are root
# Debian/Ubuntu keep the server binaries off PATH, one folder per major version
BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql*/bin")


class PostgresMissing(RuntimeError):
    """No initdb/postgres binaries on this machine."""


def find_bin_dir() -> Path:
    """The folder holding initdb and postgres: PATH first, then the distributions' usual places."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(on_path).resolve().parent
    for pattern in BIN_GLOBS:
        for folder in sorted(glob.glob(pattern), reverse=True):  # the newest version first
            if (Path(folder) / "initdb").exists() and (Path(folder) / "postgres").exists():
                return Path(folder)
    raise PostgresMissing("PostgreSQL server binaries (initdb, postgres) not found: install them with "
                          "`apt-get install -y postgresql` (Debian/Ubuntu) or put them on PATH")


class PostgresStateUnreachable(RuntimeError):
    """As root, the server runs as `postgres`, which must be able to enter the state folder."""


@dataclass
class LocalPostgres:
    state_dir: Path  # holds pgdata/, the socket folder and the password file
    port: int

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "pgdata"

    @property
    def password_file(self) -> Path:
        return self.state_dir / "pg_password"

    @property
    def socket_dir(self) -> Path:
        return self.state_dir / "pgsocket"

    def env(self) -> dict[str, str]:
        """The settings deploy/dagster.yaml reads (the same names a managed database would fill in)."""
        return {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": ROLE,
                "DAGSTER_PG_PASSWORD": self.password_file.read_text().strip(), "DAGSTER_PG_DB": DATABASE}

    def _as_service_user(self, args: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return args
        return ["runuser", "-u", SERVICE_USER, "--", *args]

    def _hand_over(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVICE_USER)
            os.chown(path, user.pw_uid, user.pw_gid)

    def init(self) -> None:
        """initdb once (a role `vectra` with a generated password, scram-sha-256 over TCP)."""
        bin_dir = find_bin_dir()
        ensure_dir(self.socket_dir)  # private folders (the store's mode)
        if os.geteuid() == 0:  # the server's user must pass through the cluster's state folder (not list it)
            parent = self.state_dir.parent
            parent.chmod(parent.stat().st_mode | 0o011)
        self._hand_over(self.state_dir)
        self._hand_over(self.socket_dir)
        if subprocess.run(self._as_service_user(["test", "-w", str(self.state_dir)]), cwd="/").returncode:
            raise PostgresStateUnreachable(f"{self.state_dir}: the {SERVICE_USER} user cannot reach it (a parent "
                                           "folder is private); choose a state folder under one others may enter")
        if (self.data_dir / "PG_VERSION").exists():
            return
        if not self.password_file.exists():
            atomic_write_bytes(self.password_file, (secrets.token_urlsafe(24) + "\n").encode())
        self.password_file.chmod(0o600)
        self._hand_over(self.password_file)  # initdb reads it as the service user
        subprocess.run(self._as_service_user([
            str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", ROLE, "--pwfile", str(self.password_file),
            "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        ]), check=True, capture_output=True, cwd="/")

    def server_command(self) -> list[str]:
        """The server in the foreground, on 127.0.0.1 only."""
        return self._as_service_user([
            str(find_bin_dir() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
            "-h", "127.0.0.1", "-k", str(self.socket_dir),
        ])

    def connect(self, database: str = "postgres"):  # noqa: ANN201 - psycopg2 connection
        env = self.env()
        return psycopg2.connect(host="127.0.0.1", port=self.port, user=ROLE, password=env["DAGSTER_PG_PASSWORD"],
                                dbname=database, connect_timeout=3)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the server accepts connections; then the `dagster` database exists."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                con = self.connect()
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        con.autocommit = True  # CREATE DATABASE runs outside a transaction
        with con.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{DATABASE}"')
        con.close()
