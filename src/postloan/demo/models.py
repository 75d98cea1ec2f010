from django.db import models
from django.utils.translation import gettext_lazy as _


class DemoBuild(models.Model):
    """Marks a database as the demo bank, so the demo never overwrites real data."""

    seed = models.IntegerField(_("seed"))
    customers = models.IntegerField(_("customers"))
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    step = models.CharField(_("last completed step"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("demo build")
        verbose_name_plural = _("demo builds")

    def __str__(self) -> str:
        return f"demo seed={self.seed} customers={self.customers}"
