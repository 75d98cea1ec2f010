import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from postloan.cob import runner
from postloan.cob.models import CobDay, CobRun


class Command(BaseCommand):
    help = "The close of business. `postloan cob run [--to YYYY-MM-DD]`, `postloan cob status`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        run = sub.add_parser("run", help="close the current business date (and following ones up to --to)")
        run.add_argument("--to", help="last date to close, YYYY-MM-DD (default: the current business date)")
        run.add_argument("--no-progress", action="store_true")
        sub.add_parser("status", help="the last runs and closed days")

    def handle(self, *args, subcommand, **options):
        if subcommand == "status":
            for r in CobRun.objects.order_by("-id")[:10]:
                self.stdout.write(f"run #{r.pk} {r.from_date}…{r.to_date} {r.status} {r.error[:100]}")
            for d in CobDay.objects.order_by("-date")[:10]:
                self.stdout.write(f"  {d.date} {d.status} {d.seconds:.2f} s")
            return
        to = None
        if options.get("to"):
            try:
                to = dt.date.fromisoformat(options["to"])
            except ValueError:
                raise CommandError(f"--to: {options['to']!r} is not a date (YYYY-MM-DD)")
        try:
            result = runner.run(to=to, progress=not options["no_progress"], out=self.stdout)
        except ValidationError as exc:
            raise CommandError("; ".join(f"--{k}: {' '.join(v)}" if k == "to" else " ".join(v)
                                         for k, v in exc.message_dict.items()))
        except runner.CobFailed as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"close of business run #{result.pk}: {result.from_date}…{result.to_date} done")
