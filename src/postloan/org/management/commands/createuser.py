import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from postloan.org import services
from postloan.org.models import Branch
from postloan.org.roles import ROLES


class Command(BaseCommand):
    help = "Create a member of staff with one or more roles (password from --password or POSTLOAN_PASSWORD)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--branch", required=True, help="branch code")
        parser.add_argument("--role", action="append", required=True, choices=sorted(ROLES), dest="roles")
        parser.add_argument("--full-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default=os.environ.get("POSTLOAN_PASSWORD"))

    def handle(self, *args, username, branch, roles, full_name, email, password, **options):
        if not password:
            raise CommandError("--password: give a password (or set POSTLOAN_PASSWORD)")
        try:
            branch_obj = Branch.objects.get(code=branch)
        except Branch.DoesNotExist:
            raise CommandError(f"--branch: no branch with code {branch!r}")
        try:
            user = services.create_user(actor=None, username=username, password=password, branch=branch_obj,
                                        roles=roles, full_name=full_name, email=email,
                                        reason="created from the command line")
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
        self.stdout.write(f"created user {user.username} at {branch_obj.code} with roles {', '.join(roles)}")
