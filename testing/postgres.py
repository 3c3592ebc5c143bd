"""A throwaway PostgreSQL server for tests, from the system's binaries (Debian's ``postgresql``).

``initdb`` and ``postgres`` refuse to run as root, so as root every server command runs as the
``postgres`` user the package made (``runuser``), on a data folder under ``/tmp`` that user may
enter. Fast and disposable: no fsync, trust authentication on loopback only.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from testing.servers import free_port


def binaries() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: ``pg_config --bindir``, else the newest Debian version."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = Path(
            subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        )
        if (found / "initdb").exists():
            return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not versions:
        raise RuntimeError("PostgreSQL's server binaries are missing: run `make system-deps`")
    return versions[-1].parent


def _as_owner() -> tuple[list[str], pwd.struct_passwd | None]:
    if os.geteuid() != 0:
        return [], None
    owner = pwd.getpwnam("postgres")
    return ["runuser", "-u", owner.pw_name, "--"], owner


@contextlib.contextmanager
def postgres_server(database: str = "carm") -> Iterator[str]:
    """A fresh server on a free loopback port with ``database``; yields its URL."""
    prefix, owner = _as_owner()
    bin_dir = binaries()
    base = Path(tempfile.mkdtemp(prefix="carm-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if owner is not None:
        for folder in (base, sockets):
            os.chown(folder, owner.pw_uid, owner.pw_gid)
    port = free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}

    def run(*command: str | Path) -> None:
        done = subprocess.run(
            [*prefix, *map(str, command)],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        if done.returncode:
            raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}):\n{done.stdout}")

    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        run(bin_dir / "initdb", "-D", data, "-U", "carm", "-A", "trust", "-E", "UTF8", "--no-sync")
        run(
            bin_dir / "pg_ctl",
            "-D",
            data,
            "-l",
            base / "server.log",
            "-w",
            "-t",
            "30",
            "start",
            "-o",
            options,
        )
        run(bin_dir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "carm", database)
        yield f"postgresql://carm@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(base, ignore_errors=True)
