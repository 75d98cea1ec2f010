import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from postloan.kernel import businessdate
from postloan.kernel.money import format_amount
from postloan.ledger import services
from postloan.ledger.models import Loan


class Command(BaseCommand):
    help = "Print the payoff quote of a loan for a date (default: the business date)."

    def add_arguments(self, parser):
        parser.add_argument("loan_no")
        parser.add_argument("--date", help="YYYY-MM-DD")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, loan_no, date, format, **options):
        loan = Loan.objects.filter(loan_no=loan_no).first()
        if loan is None:
            raise CommandError(f"LOAN_NO: no loan {loan_no!r}")
        try:
            on = dt.date.fromisoformat(date) if date else businessdate.current()
        except ValueError:
            raise CommandError(f"--date: {date!r} is not a date (YYYY-MM-DD)")
        try:
            quote = services.payoff_quote(loan, on)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
        parts = ("principal", "interest", "penalty", "compound", "fee", "credit", "total")
        if format == "json":
            import json

            from postloan.kernel.money import from_fen

            body = {"loan_no": loan.loan_no, "date": on.isoformat()} | {
                p: f"{from_fen(getattr(quote, p)):.2f}" for p in parts}
            self.stdout.write(json.dumps(body))
            return
        self.stdout.write(f"Payoff of {loan.loan_no} ({loan.customer.name}) on {on}")
        for part in parts:
            value = getattr(quote, part)
            sign = "-" if part == "credit" and value else ""
            self.stdout.write(f"  {part:<10} {sign + format_amount(value):>18}")
