"""A throwaway PostgreSQL server for tests: Debian's binaries, a temporary directory.

``initdb`` makes a cluster in a fresh directory and ``pg_ctl`` runs it on a
free loopback port with its unix socket in the same directory, so it touches
nothing of a system server. PostgreSQL refuses to run as root: as root, every
command runs as the ``postgres`` user (``runuser``). ``restart()`` takes the
server down and up again (fast shutdown: connections are cut), which is what
a database restart or failover looks like to the workers.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.smtp import free_port

INSTALL = ("needs Debian's PostgreSQL server: apt-get install postgresql "
           "(./tests/run installs it)")


def binaries() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/N/bin``, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


class PostgreSQL:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        # As root, in /tmp: the postgres user can't reach into root's own temp dirs.
        root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="txmail-pg-", dir="/tmp" if root else None))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_postgres: list[str] = []
        if root:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.as_postgres = ["runuser", "-u", "postgres", "--"]

    def run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self.as_postgres, str(self.bin / program), *args],
                              capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}\n{self.log()}")

    def log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def init(self) -> "PostgreSQL":
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"),
                 "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def restart(self, down: float) -> None:
        """Stop (cutting every connection), stay down ``down`` seconds, start again."""
        self.stop()
        time.sleep(down)
        self.start()

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass  # not running
        shutil.rmtree(self.dir, ignore_errors=True)

    def settings(self) -> dict[str, str]:
        """The ``TXMAIL_TEST_PG_*`` variables ``tests/pg_worker_settings.py`` reads."""
        return {"TXMAIL_TEST_PG_HOST": "127.0.0.1", "TXMAIL_TEST_PG_PORT": str(self.port)}
