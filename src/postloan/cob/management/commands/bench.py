"""``postloan bench cob --loans N [--days D] [--database sqlite|postgres] [--format text|json]``.

Runs the close-of-business benchmark (``postloan.cob.bench``) on a scratch database it makes and removes:
never the database this command was started with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from postloan.cob import runner

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


class Command(BaseCommand):
    help = "Benchmarks. `postloan bench cob --loans N [--days D]` times the close of business on a scratch database."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        cob = sub.add_parser("cob", help="generate N loans on a scratch database and time D days of close of business")
        cob.add_argument("--loans", type=int, required=True, help="number of loans (e.g. 100000)")
        cob.add_argument("--days", type=int, default=1, help="business days closed (default 1)")
        cob.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite",
                         help="scratch database: a SQLite file in a temporary directory (default), or a PostgreSQL "
                              "database created on the server of --postgres-url and dropped afterwards")
        cob.add_argument("--postgres-url", default=None,
                         help="server for --database postgres (default: DATABASE_URL if it is PostgreSQL, else "
                              f"{DEFAULT_POSTGRES}); only its host, port and credentials are used")
        cob.add_argument("--format", choices=["text", "json"], default="text")
        cob.add_argument("--partition", type=int, default=None,
                         help="loans per partition (default: POSTLOAN_COB_PARTITION or 10000)")
        cob.add_argument("--seed", type=int, default=20260302)
        cob.add_argument("--sample", type=int, default=200, help="loans checked against a full replay (default 200)")
        cob.add_argument("--profile", metavar="FILE", help="write cProfile statistics of the measured run to FILE")
        cob.add_argument("--keep", action="store_true", help="keep the scratch database and print where it is")
        cob.add_argument("--reuse", action="store_true",
                         help="keep the generated portfolio (a SQLite file under POSTLOAN_BENCH_CACHE or "
                              "~/.cache/postloan-bench, or a PostgreSQL template database) and start later runs "
                              "with the same --loans, --days, --seed and code from a copy of it")
        cob.add_argument("--workers", type=int, default=0,
                         help="PostgreSQL only: run the partitions on this many Celery worker processes (one task "
                              "at a time each) through the Redis of --redis-url, as production does")
        cob.add_argument("--redis-url", default="redis://127.0.0.1:6379/14",
                         help="broker for --workers (database n; results go to database n + 1; both flushed)")

    def handle(self, *args, subcommand, loans, days, database, postgres_url, format, partition, seed, sample,
               profile, keep, reuse, workers, redis_url, **options):
        if loans < 1:
            raise CommandError("--loans: give a positive number")
        if not 1 <= days <= 200:
            raise CommandError("--days: give a number from 1 to 200")
        if partition is not None and partition < 1:
            raise CommandError("--partition: give a positive number")
        if workers and database != "postgres":
            raise CommandError("--workers: the close of business runs on Celery workers only on PostgreSQL")
        text = format == "text"
        tmp = Path(tempfile.mkdtemp(prefix="postloan-bench-"))
        scratch = None
        try:
            if database == "sqlite":
                url = f"sqlite:///{tmp / 'bench.sqlite3'}"
            else:
                scratch = _ScratchPostgres(postgres_url or _postgres_server())
                url = scratch.create(f"postloan_bench_{os.getpid()}")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith("POSTLOAN_") or k in ("POSTLOAN_COB_PARTITION", "POSTLOAN_LANGUAGE")}
            env |= {"DATABASE_URL": url, "POSTLOAN_DATA_DIR": str(tmp), "DJANGO_SETTINGS_MODULE":
                    "postloan.config.settings", "PYTHONUNBUFFERED": "1"}
            if partition:
                env["POSTLOAN_COB_PARTITION"] = str(partition)
            env.pop("POSTLOAN_COB_KILL_AFTER", None)

            def phase(name: str, *extra: str) -> dict:
                started = time.monotonic()
                cmd = [sys.executable, "-m", "postloan.cob.bench", name, "--loans", str(loans), "--days", str(days),
                       "--seed", str(seed), "--sample", str(sample), *extra]
                proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=None if text else subprocess.PIPE,
                                      text=True)
                if proc.returncode != 0:
                    raise CommandError(f"bench {name} failed ({proc.returncode}):\n{(proc.stderr or '')[-4000:]}")
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                if text:
                    self.stderr.write(f"{name}: {time.monotonic() - started:.1f} s")
                return result

            if text:
                self.stderr.write(f"scratch {database} database: {url}")
            saved = _Saved(database, loans, days, seed) if reuse else None
            generated = saved.restore(tmp / "bench.sqlite3", scratch) if saved else None
            migrate = subprocess.run([sys.executable, "-m", "postloan.cli", "migrate", "-v", "0"], env=env,
                                     capture_output=True, text=True)
            if migrate.returncode != 0:
                raise CommandError(f"migrate failed:\n{migrate.stderr[-4000:]}")
            if generated is None:
                generated = phase("generate")
                if saved:
                    saved.save(tmp / "bench.sqlite3", scratch, generated)
            elif text:
                self.stderr.write(f"portfolio copied from {saved.where}")
            pool = _Workers(workers, redis_url, env, tmp) if workers else None
            try:
                if pool:
                    env |= pool.env
                    pool.start()
                measured = phase("measure", *(["--profile", str(Path(profile).resolve())] if profile else []))
            finally:
                if pool:
                    pool.stop()
                    for key in pool.env:
                        env.pop(key, None)
            checked = phase("check")
        finally:
            if keep:
                self.stderr.write(f"kept: DATABASE_URL={url} POSTLOAN_DATA_DIR={tmp}")
            else:
                if scratch is not None:
                    scratch.drop()
                shutil.rmtree(tmp, ignore_errors=True)
        result = {
            "loans": loans,
            "days": days,
            "database": "postgres" if database == "postgres" else "sqlite",
            "loans_per_second": measured["loans_per_second"],
            "plain_update_seconds": measured["plain_update_seconds"],
            "ratio_to_plain_update": measured["ratio_to_plain_update"],
            "peak_memory_mib": measured["peak_memory_mib"],
            "steps": measured["steps"],
            "steps_loans_per_second": measured["steps_loans_per_second"],
            "seconds": measured["seconds"],
            "repayments_posted": measured["repayments_posted"],
            "repayment_seconds": measured["repayment_seconds"],
            "partition": int(env.get("POSTLOAN_COB_PARTITION") or runner.PARTITION_SIZE),
            "workers": workers,
            "per_day": measured["per_day"],
            "generated": generated,
            "check": {"loans": checked["checked"], "passed": checked["passed"]},
        }
        if format == "json":
            self.stdout.write(json.dumps(result))
        else:
            self._print(result, checked)
        if not checked["passed"]:
            raise CommandError("the sample check found differences:\n" + "\n".join(checked["problems"]))

    def _print(self, r: dict, checked: dict) -> None:
        g = r["generated"]
        w = self.stdout.write
        where = f"{r['workers']} Celery workers" if r["workers"] else "in one process"
        w(f"close of business: {r['loans']:,} loans × {r['days']} day(s) on {r['database']} "
          f"(partitions of {r['partition']:,}, {where})")
        w(f"  portfolio: {g['installments']:,} installments, {g['overdue_at_start']:,} loans in arrears from the "
          f"start, {g['repayments']:,} repayments due in the window; generated in {g['seconds']:.1f} s")
        w(f"  repayments posted during the days (bulk service, before each close, not in the figures): "
          f"{r['repayments_posted']:,} in {r['repayment_seconds']:.1f} s")
        w(f"  total      {r['seconds']:9.2f} s  {r['loans_per_second']:>10,} loans/s")
        for name, seconds in r["steps"].items():
            w(f"  {name:<18}{seconds:6.2f} s  {r['steps_loans_per_second'][name] or 0:>10,} loans/s")
        for day in r["per_day"]:
            ledger = day["steps"].get("ledger.close_day", {})
            w(f"    {day['date']}  {day['seconds']:7.2f} s  replayed {ledger.get('replayed', 0):,}, "
              f"advanced {ledger.get('advanced', 0):,}, fell due {ledger.get('fell_due', 0):,}, "
              f"overdue from today {ledger.get('became_overdue', 0):,}")
        w(f"  plain UPDATE of every open loan: {r['plain_update_seconds']:.3f} s; one day of close of business is "
          f"{r['ratio_to_plain_update']}× that")
        w(f"  peak memory {r['peak_memory_mib']:.0f} MiB")
        w(f"  check of {checked['checked']} loans against a full replay: {'passed' if checked['passed'] else 'FAILED'}")


class _Workers:
    """N real Celery worker processes on the scratch database, through a Redis broker (as in production)."""

    def __init__(self, count: int, redis_url: str, env: dict, tmp: Path) -> None:
        base, _, db = redis_url.rpartition("/")
        self.count, self.tmp = count, tmp
        self.broker, self.backend = redis_url, f"{base}/{int(db or 0) + 1}"
        self.env = {"POSTLOAN_BROKER_URL": self.broker, "POSTLOAN_RESULT_BACKEND": self.backend}
        self.worker_env = env | self.env
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        import socket

        import redis
        from celery import Celery

        for url in (self.broker, self.backend):
            redis.Redis.from_url(url).flushdb()
        names = {f"bench{n}-{os.getpid()}@{socket.gethostname()}" for n in range(1, self.count + 1)}
        celery = str(Path(sys.executable).parent / "celery")
        for name in sorted(names):
            log = (self.tmp / f"{name.split('@')[0]}.log").open("w")
            self.procs.append(subprocess.Popen(
                [celery, "-A", "postloan.config.celery", "worker", "--concurrency", "1", "-n", name,
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", "celery", "-l", "WARNING"],
                env=self.worker_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        probe = Celery("postloan-bench-probe", broker=self.broker, backend=self.backend, set_as_current=False)
        deadline = time.monotonic() + 60
        answered: set[str] = set()
        try:
            while not names <= answered:
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                    raise CommandError(f"the Celery workers did not start (logs in {self.tmp})")
                for reply in probe.control.ping(timeout=1.0) or []:
                    answered |= set(reply)
        finally:
            probe.close()

    def stop(self) -> None:
        import signal

        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


class _Saved:
    """A generated portfolio kept for later runs (``--reuse``): same size, seed and generating code, or not
    used."""

    def __init__(self, database: str, loans: int, days: int, seed: int) -> None:
        import hashlib

        import postloan

        root = Path(postloan.__file__).parent
        digest = hashlib.sha256(f"{loans}/{days}/{seed}".encode())
        # what the generated rows depend on (a copy is migrated to the current schema before use)
        for path in [root / "cob" / "bench.py", *(
                root / "ledger" / name for name in ("engine.py", "state.py", "accrual.py", "schedule.py"))]:
            digest.update(path.name.encode() + path.read_bytes())
        self.key = digest.hexdigest()[:16]
        self.database = database
        cache = Path(os.environ.get("POSTLOAN_BENCH_CACHE") or Path.home() / ".cache" / "postloan-bench")
        self.file = cache / f"{loans}-{self.key}.sqlite3"
        self.meta = cache / f"{loans}-{self.key}-{database}.json"
        self.template = f"postloan_bench_tpl_{loans}_{self.key}"
        self.where = str(self.file) if database == "sqlite" else f"template database {self.template}"

    def restore(self, target: Path, scratch) -> dict | None:
        if not self.meta.exists():
            return None
        if self.database == "sqlite":
            if not self.file.exists():
                return None
            shutil.copyfile(self.file, target)
        elif not scratch.copy_from(self.template):
            return None
        return json.loads(self.meta.read_text())

    def save(self, source: Path, scratch, generated: dict) -> None:
        import sqlite3

        self.meta.parent.mkdir(parents=True, exist_ok=True)
        if self.database == "sqlite":
            with sqlite3.connect(source) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(source, self.file)
        else:
            scratch.copy_to(self.template)
        self.meta.write_text(json.dumps(generated))


def _postgres_server() -> str:
    url = os.environ.get("DATABASE_URL") or ""
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and url:
        return url
    return DEFAULT_POSTGRES


class _ScratchPostgres:
    def __init__(self, server: str) -> None:
        from urllib.parse import urlsplit

        self.parts = urlsplit(server)
        self.name: str | None = None

    def _url(self, name: str) -> str:
        from urllib.parse import urlunsplit

        return urlunsplit(self.parts._replace(path=f"/{name}", scheme="postgresql"))

    def _admin(self):
        import psycopg

        return psycopg.connect(self._url("postgres"), autocommit=True)

    def create(self, name: str) -> str:
        try:
            with self._admin() as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
                if exists:
                    raise CommandError(f"--database postgres: a database {name} exists already; not touching it")
                conn.execute(f'CREATE DATABASE "{name}"')
        except CommandError:
            raise
        except Exception as exc:
            raise CommandError(f"--database postgres: cannot create a scratch database on "
                               f"{self.parts.hostname}:{self.parts.port or 5432}: {exc}")
        self.name = name
        return self._url(name)

    def copy_to(self, template: str) -> None:
        """Copy the scratch database to ``template`` (replacing it)."""
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{template}"')
            conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{self.name}"{_file_copy(conn)}')

    def copy_from(self, template: str) -> bool:
        """Replace the (empty) scratch database by a copy of ``template``; False if there is none."""
        with self._admin() as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone():
                return False
            conn.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{template}"{_file_copy(conn)}')
        return True

    def drop(self) -> None:
        if self.name:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.name = None


def _file_copy(conn) -> str:
    """PostgreSQL 15+ copies a template through the write-ahead log by default: for a 14 GB bench database
    that is 14 GB more written (and held until a checkpoint); copying the files is quicker."""
    return " STRATEGY = FILE_COPY" if conn.info.server_version >= 150000 else ""
