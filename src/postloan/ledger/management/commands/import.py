"""``postloan import {customers,loans,repayments} FILE [--dry-run] [--user USERNAME]``.

Prints the counts and one line per rejected row (``row N, FIELD: message``).
Exit status: 0 all rows accepted or unchanged, 1 some rows rejected, 2 a usage
error (unknown kind, missing or unreadable file, unknown user).
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from postloan.ledger.imports import KINDS, ImportFormatError, import_file
from postloan.org.models import User


class Command(BaseCommand):
    help = ("Import customers, loans or repayments from a CSV or .xlsx file (see docs/import-format.md).")

    def add_arguments(self, parser):
        parser.add_argument("kind", help=" | ".join(KINDS))
        parser.add_argument("file", help=("a .csv (UTF-8 or GB18030) or .xlsx file"))
        parser.add_argument("--dry-run", action="store_true",
                            help=("check every row and report, then roll everything back"))
        parser.add_argument("--user", help=("import as this user (their role and branch apply; recorded as "
                                             "the actor). Default: the system"))
        parser.add_argument("--no-parallel", dest="parallel", action="store_false",
                            help=("compute loan schedules in this process only"))

    def handle(self, *args, kind, file, dry_run=False, user=None, parallel=True, **options):
        if kind not in KINDS:
            raise CommandError(_("KIND: choose one of %(kinds)s, not %(kind)r.")
                               % {"kinds": ", ".join(KINDS), "kind": kind}, returncode=2)
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("FILE: %(file)s does not exist or is not a file.") % {"file": file}, returncode=2)
        actor = None
        if user:
            actor = User.objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(_("--user: no active user %(user)s.") % {"user": user}, returncode=2)
        try:
            result = import_file(kind, path, actor=actor, dry_run=dry_run, parallel=parallel)
        except ImportFormatError as exc:
            raise CommandError(f"FILE: {exc}", returncode=2)
        except PermissionDenied as exc:
            raise CommandError(str(exc), returncode=2)
        self.stdout.write(
            _("%(kind)s from %(file)s: %(rows)s rows, %(accepted)s accepted, %(unchanged)s unchanged, "
              "%(rejected)s rejected")
            % {"kind": kind, "file": path.name, "rows": result.rows, "accepted": result.accepted,
               "unchanged": result.unchanged, "rejected": result.rejected_rows})
        for error in result.rejected:
            self.stdout.write(str(error))
        if dry_run:
            self.stdout.write(_("Dry run: nothing was saved."))
        if result.rejected:
            raise CommandError(_("%(n)s row(s) rejected.") % {"n": result.rejected_rows}, returncode=1)
