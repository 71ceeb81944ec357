"""Real processes for the sending tests: task workers, a throwaway Redis, a throwaway PostgreSQL."""

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(settings_dict=None):
    """The URL of the test database, for a worker started by a test."""
    db = settings_dict or connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def wait_for(predicate, seconds, every=0.2, between=None):
    """Poll `predicate` until it is true or `seconds` have passed; run `between` at each turn."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        if between is not None:
            between()
        time.sleep(every)
    return predicate()


def children_by_parent():
    parents = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    return parents


def descendants(pid):
    """Every process under `pid` (RQ runs each task in a child with a process group of its own)."""
    tree, found, todo = children_by_parent(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Worker:
    """A task worker process: RQ's (`rqworker`) or the database's (`db_worker`), logging to a file."""

    def __init__(self, env, log, *, kind="rq", scheduler=True):
        self.env, self.log, self.kind, self.scheduler = env, Path(log), kind, scheduler
        self.process = None
        self.starts = 0

    def command(self):
        manage = [sys.executable, str(ROOT / "manage.py")]
        if self.kind == "db":
            return [*manage, "db_worker", "--interval", "0.1", "--no-startup-delay", "--no-reload"]
        # What deploy/ runs, with the scheduler of deferred tasks in one worker or in each.
        options = ["--with-scheduler"] if self.scheduler else []
        return [*manage, "rqworker", "--job-class", "django_tasks_rq.Job", *options, "default"]

    def start(self):
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                self.command(), env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1
        return self

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def running_a_task(self):
        """Whether the worker has a work horse: RQ's child running a task, in its own group."""
        if not self.alive():
            return False
        for pid in descendants(self.process.pid):
            try:
                if os.getpgid(pid) == pid:
                    return True
            except ProcessLookupError:
                continue
        return False

    def connected_from(self, port):
        """Whether the worker (or its work horse) holds the TCP connection from local `port`."""
        sockets = set()
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            for fd in glob.glob(f"/proc/{pid}/fd/*"):
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:["):
                        sockets.add(link[len("socket:[") : -1])
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] in sockets:
                        return True
        return False

    def kill(self):
        """SIGKILL the worker and everything under it, as a machine that loses power would."""
        for pid in [*descendants(self.process.pid), self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return self.process.wait(timeout=30)

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.kill()
        self.process = None

    def tail(self, lines=30):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Supervisor:
    """Restart a worker that exits, 2 seconds later, as systemd does in production (deploy/'s
    Restart=always, RestartSec=2)."""

    def __init__(self, workers, delay=2):
        self.workers, self.delay = workers, delay
        self.exited = {}

    def __call__(self):
        now = time.monotonic()
        for worker in self.workers:
            if worker.process is None or worker.alive():
                continue
            exited = self.exited.setdefault(id(worker), now)
            if now - exited >= self.delay:
                del self.exited[id(worker)]
                worker.start()

    def report(self):
        return "\n\n".join(f"--- {w.log.name}, {w.starts} starts\n{w.tail()}" for w in self.workers)


class ThrowawayRedis:
    """A redis-server of the test's own, without persistence: stopping it loses every queued task."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        import redis

        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def answers():
            try:
                return client.ping()
            except redis.RedisError:
                return False

        if not wait_for(answers, 20, every=0.05):
            raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def postgres_bindir():
    """The server programs of the machine's PostgreSQL (initdb, pg_ctl), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own, in a temporary folder, on a free port.

    initdb refuses to run as root: then the cluster belongs to the `postgres` account.
    """

    def __init__(self, bindir):
        self.bindir = Path(bindir)
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="infolettre-pg-"))
        self.data = self.folder / "data"
        self.owner = None
        if os.geteuid() == 0:
            self.owner = pwd.getpwnam("postgres")
            os.chown(self.folder, self.owner.pw_uid, self.owner.pw_gid)

    def _command(self, program, *args):
        command = [str(self.bindir / program), *args]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner.pw_name, "--", *command]
        return command

    def _pg_ctl(self, *args):
        return self._command("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), *args)

    def start(self):
        subprocess.run(
            [
                *self._command("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres"),
                *("-E", "UTF8", "--no-sync"),
            ],
            check=True,
            capture_output=True,
        )
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        subprocess.run(self._pg_ctl("-o", options, "-w", "start"), check=True, capture_output=True)

    def restart(self):
        """Begin a clean restart (what `systemctl restart postgresql` does); return its process."""
        return subprocess.Popen(
            self._pg_ctl("-m", "fast", "-w", "restart"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self):
        subprocess.run(self._pg_ctl("-m", "immediate", "-w", "stop"), capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def copy_database(self, source, name):
        """Create database `name` here as a copy of `source` (a settings dict) on its own server."""
        env = {**os.environ, "PGPASSWORD": source.get("PASSWORD") or ""}
        dump = subprocess.run(
            [
                *(str(self.bindir / "pg_dump"), "--no-owner", "--no-privileges"),
                *("-h", source["HOST"], "-p", str(source["PORT"]), "-U", source["USER"]),
                source["NAME"],
            ],
            check=True,
            capture_output=True,
            env=env,
        ).stdout
        psql = [
            str(self.bindir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
        ]
        subprocess.run([*psql, "-q", "-c", f'CREATE DATABASE "{name}"'], check=True)
        subprocess.run(
            [*psql, "-q", "-v", "ON_ERROR_STOP=1", "-d", name],
            input=dump,
            check=True,
            capture_output=True,
        )
        return {
            **source,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "NAME": name,
            "USER": "postgres",
            "PASSWORD": "",
        }


def rq_workers_listening(redis_url, count, seconds=60):
    """Wait until `count` RQ workers have registered with Redis (they start in a few seconds)."""
    import redis
    from rq import Worker as RQWorker

    connection = redis.Redis.from_url(redis_url)
    return wait_for(lambda: RQWorker.count(connection=connection) >= count, seconds)


class TerminatedBackends:
    """A restart's effect on the clients, where no cluster of the test's own can be made: every
    connection to the database is cut (new ones are accepted at once, unlike a real restart)."""

    def __init__(self, settings_dict):
        self.db = settings_dict

    def restart(self):
        import psycopg

        with psycopg.connect(
            host=self.db["HOST"],
            port=self.db["PORT"],
            user=self.db["USER"],
            password=self.db.get("PASSWORD") or None,
            dbname=self.db["NAME"],
            autocommit=True,
        ) as cut:
            cut.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        return Finished()


class Finished:
    def wait(self, timeout=None):
        return 0
