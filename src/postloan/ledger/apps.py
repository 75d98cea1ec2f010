from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "postloan.ledger"
    label = "ledger"
    verbose_name = _("Loan ledger")

    def ready(self) -> None:
        from postloan.org.roles import ACCOUNTANT, ADMIN, ALL_ROLES, CREDIT_HEAD, CREDIT_OFFICER, register

        register("ledger.view_loan", ALL_ROLES)
        register("ledger.manage_product", (ADMIN,))
        register("ledger.book_loan", (CREDIT_OFFICER, CREDIT_HEAD))
        register("ledger.disburse", (ACCOUNTANT,))
        register("ledger.post_repayment", (ACCOUNTANT,))
        register("ledger.prepay", (ACCOUNTANT,))
        register("ledger.charge_fee", (ACCOUNTANT,))
        register("ledger.waive_fee", (CREDIT_HEAD,))
        register("ledger.request_reversal", (ACCOUNTANT,))
        register("ledger.approve_reversal", (ACCOUNTANT, CREDIT_HEAD))
        register("ledger.change_terms", (CREDIT_HEAD,))
        register("ledger.import", (ADMIN, ACCOUNTANT))
        from . import navigation  # noqa: F401  (menu items and work queues)
