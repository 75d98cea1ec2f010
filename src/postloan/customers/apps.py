from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "postloan.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from postloan.org.roles import ALL_ROLES, CREDIT_HEAD, CREDIT_OFFICER, register

        register("customers.view_customer", ALL_ROLES)
        register("customers.manage_customer", (CREDIT_OFFICER, CREDIT_HEAD))
