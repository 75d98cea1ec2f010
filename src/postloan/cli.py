"""The ``postloan`` command: Django's management commands plus a few of our own.

``postloan migrate``, ``postloan serve``, ``postloan createuser``,
``postloan schedule`` (no database needed), ``postloan demo``, …
``postloan help`` lists them all.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postloan.config.settings")
    if len(argv) > 1 and argv[1] == "schedule":
        # A calculator: prints a schedule without touching (or even configuring) the database.
        from postloan.ledger.schedule_cli import main as schedule_main

        return schedule_main(argv[2:], sys.stdout, sys.stderr)
    if len(argv) > 1 and argv[1] in {"serve", "demo"}:
        _plain_http_on_loopback(argv)
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)
    return 0


def _plain_http_on_loopback(argv: list[str]) -> None:
    """Serving on this machine only (the embedded default) is plain HTTP: don't demand HTTPS cookies."""
    host = "127.0.0.1"
    for i, arg in enumerate(argv):
        if arg == "--host" and i + 1 < len(argv):
            host = argv[i + 1]
        elif arg.startswith("--host="):
            host = arg.split("=", 1)[1]
    if host in {"127.0.0.1", "localhost", "::1"}:
        os.environ.setdefault("POSTLOAN_HTTPS", "0")


if __name__ == "__main__":
    sys.exit(main())
