import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from postloan.demo import builder
from postloan.demo.models import DemoBuild
from postloan.org.models import User


class Command(BaseCommand):
    help = "Build the demo bank on this database (once) and serve it."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=3000,
                            help="number of customers (default 3000: about four minutes on two cores)")
        parser.add_argument("--seed", type=int, default=20261129)
        parser.add_argument("--history-days", type=int, default=None,
                            help="days of history replayed up to today (default: three years)")
        parser.add_argument("--rebuild", action="store_true", help="drop the demo database and build it again")
        parser.add_argument("--no-serve", action="store_true", help="build only, do not serve")
        parser.add_argument("--force", action="store_true", help="build even though the database holds other data")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, customers, seed, rebuild, no_serve, force, host, port, history_days, **options):
        if customers < 1:
            raise CommandError("--customers: give a positive number")
        db = settings.DATABASES["default"]
        name = str(db["NAME"])
        if rebuild:
            self._drop(db)
        call_command("migrate", interactive=False, verbosity=0)
        marker = DemoBuild.objects.order_by("-id").first()
        if marker is None and User.objects.exists() and not force:
            raise CommandError(
                f"The database {name} holds data that is not the demo's; refusing to build the demo there. "
                "Point DATABASE_URL elsewhere, or pass --force."
            )
        if marker is not None and marker.finished_at:
            self.stdout.write(f"The demo bank is already built in {name} (use --rebuild to start over).")
        else:
            started = time.monotonic()
            self.stdout.write(f"Building the demo bank in {name} …")
            builder.build(seed=seed, customers=customers, out=self.stdout.write, history_days=history_days)
            self.stdout.write(f"Built in {time.monotonic() - started:.1f} s.")
        self._print_users(host, port)
        if not no_serve:
            call_command("serve", host=host, port=port, no_migrate=True)

    def _drop(self, db):
        if db["ENGINE"].endswith("sqlite3"):
            connection.close()
            from pathlib import Path

            for suffix in ("", "-wal", "-shm"):
                Path(str(db["NAME"]) + suffix).unlink(missing_ok=True)
        else:
            if DemoBuild.objects.exists() is False and User.objects.exists():
                raise CommandError(f"--rebuild: {db['NAME']} is not a demo database; drop it yourself.")
            call_command("flush", interactive=False, verbosity=0)

    def _print_users(self, host, port):
        self.stdout.write("")
        self.stdout.write(f"Open http://{host}:{port}/ and log in as one of these (password {builder.DEMO_PASSWORD}):")
        seen = set()
        for user in User.objects.prefetch_related("groups").select_related("branch").order_by("id"):
            roles = sorted(user.groups.values_list("name", flat=True))
            key = roles[0] if roles else ""
            if key in seen:
                continue
            seen.add(key)
            self.stdout.write(f"  {key:<16} {user.username:<28} {user.display_name} · {user.branch.name}")
