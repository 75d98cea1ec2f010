from django.core.management.base import BaseCommand, CommandError

from postloan.ledger.models import Loan
from postloan.ledger.state import check


class Command(BaseCommand):
    help = "Ledger checks. `postloan ledger check [LOAN_NO]` proves stored balances equal what the postings imply."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        chk = sub.add_parser("check", help="replay every loan (or one) and compare with the stored state")
        chk.add_argument("loan_no", nargs="?")

    def handle(self, *args, subcommand, loan_no=None, **options):
        loans = Loan.objects.select_related("product").exclude(status=Loan.Status.PENDING).order_by("id")
        if loan_no:
            loans = Loan.objects.select_related("product").filter(loan_no=loan_no)
            if not loans.exists():
                raise CommandError(f"LOAN_NO: no loan {loan_no!r}")
        checked = 0
        problems: list[str] = []
        for loan in loans.iterator(chunk_size=500):
            checked += 1
            problems += check(loan)
        for line in problems[:200]:
            self.stdout.write(line)
        if problems:
            raise CommandError(f"{len(problems)} difference(s) in {checked} loan(s)")
        self.stdout.write(f"{checked} loan(s) checked: stored balances equal their postings.")
