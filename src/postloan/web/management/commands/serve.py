import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the web UI and API (migrating the database first)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=int(os.environ.get("POSTLOAN_WEB_WORKERS", "2")))
        parser.add_argument("--no-migrate", action="store_true", help="Do not apply pending migrations first.")

    def handle(self, *args, host, port, workers, no_migrate, **options):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(f"Postloan is serving at http://{host}:{port}/  (Ctrl+C stops it)")
        self.stdout.flush()
        argv = [
            sys.executable, "-m", "gunicorn", "postloan.config.wsgi:application",
            "--bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "--workers", str(workers), "--threads", "4", "--access-logfile", "-", "--log-level", "warning",
        ]
        os.execv(sys.executable, argv)
