"""List conventions: django-tables2 tables with Bootstrap 5 markup, sortable and paginated."""

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from postloan.kernel.models import AuditEvent
from postloan.org.models import Branch, User


class BaseTable(tables.Table):
    class Meta:
        template_name = "django_tables2/bootstrap5-responsive.html"
        attrs = {"class": "table table-sm table-hover align-middle"}
        per_page = 50


class AuditEventTable(BaseTable):
    at = tables.DateTimeColumn(format="Y-m-d H:i:s")
    object_repr = tables.TemplateColumn(
        '<a href="{% url "audit-object" record.object_type record.object_id %}">{{ record.object_repr }}</a>',
        verbose_name=_("object"),
    )

    class Meta(BaseTable.Meta):
        model = AuditEvent
        fields = ["at", "business_date", "actor_name", "action", "object_type", "object_repr", "branch", "reason"]


class BranchTable(BaseTable):
    class Meta(BaseTable.Meta):
        model = Branch
        fields = ["code", "name", "level", "parent", "region", "active"]


class UserTable(BaseTable):
    roles = tables.Column(empty_values=(), orderable=False, verbose_name=_("roles"))

    class Meta(BaseTable.Meta):
        model = User
        fields = ["username", "full_name", "branch", "roles", "is_active", "last_login"]

    def render_roles(self, record):
        from postloan.org.roles import ROLES, roles_of

        return ", ".join(str(ROLES[r]) for r in sorted(roles_of(record)))
