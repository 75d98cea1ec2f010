from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KernelConfig(AppConfig):
    name = "postloan.kernel"
    label = "kernel"
    verbose_name = _("Kernel")
