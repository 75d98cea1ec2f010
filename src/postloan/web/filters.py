import django_filters
from django.utils.translation import gettext_lazy as _

from postloan.kernel.models import AuditEvent
from postloan.org.models import Branch, User


class AuditEventFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    actor_name = django_filters.CharFilter(label=_("User"), lookup_expr="iexact")
    action = django_filters.CharFilter(label=_("Action"), lookup_expr="startswith")
    since = django_filters.DateFilter(field_name="at", lookup_expr="date__gte", label=_("From"))
    until = django_filters.DateFilter(field_name="at", lookup_expr="date__lte", label=_("To"))

    class Meta:
        model = AuditEvent
        fields = ["q", "actor_name", "action", "object_type", "since", "until"]

    def search(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(
            Q(object_repr__icontains=value) | Q(reason__icontains=value) | Q(object_id=value)
        )


class BranchFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", label=_("name"))

    class Meta:
        model = Branch
        fields = ["name", "level", "active"]


class UserFilter(django_filters.FilterSet):
    username = django_filters.CharFilter(lookup_expr="icontains", label=_("user name"))

    class Meta:
        model = User
        fields = ["username", "branch", "is_active"]
