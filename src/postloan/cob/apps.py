from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CobConfig(AppConfig):
    name = "postloan.cob"
    label = "cob"
    verbose_name = _("Close of business")

    def ready(self) -> None:
        from postloan.org.roles import ADMIN, AUDITOR, CREDIT_HEAD, register

        register("cob.view_run", (ADMIN, AUDITOR, CREDIT_HEAD))
        register("cob.run", (ADMIN,))
        from . import steps  # noqa: F401  (registers the ledger's steps)
