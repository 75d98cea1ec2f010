from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from postloan.org import services
from postloan.org.models import Branch


class Command(BaseCommand):
    help = "Create a branch (head office has no --parent)."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--name", required=True)
        parser.add_argument("--level", required=True, choices=[c for c, _ in Branch.Level.choices])
        parser.add_argument("--parent", help="parent branch code")
        parser.add_argument("--region", default="")

    def handle(self, *args, code, name, level, parent, region, **options):
        parent_obj = None
        if parent:
            parent_obj = Branch.objects.filter(code=parent).first()
            if parent_obj is None:
                raise CommandError(f"--parent: no branch with code {parent!r}")
        try:
            branch = services.create_branch(actor=None, code=code, name=name, level=level, parent=parent_obj,
                                            region=region, reason="created from the command line")
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
        self.stdout.write(f"created branch {branch.code} ({branch.path})")
