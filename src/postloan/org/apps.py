from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "postloan.org"
    label = "org"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        from . import roles  # noqa: F401  (registers the permission rules)
