from django.contrib import admin

from .models import AuditEvent, CalendarCoverage, CalendarDay


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 1


@admin.register(CalendarCoverage)
class CalendarAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "first", "last"]
    inlines = [CalendarDayInline]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "reason"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "reason", "actor_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
