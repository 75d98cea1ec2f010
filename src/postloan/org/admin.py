"""The admin area for reference data. Administrators (the ``admin`` role) are staff users;
what each may change follows the ``rules`` permissions registered in ``org.roles``."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Branch, User


@admin.register(Branch)
class BranchAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "level", "parent", "region", "active"]
    list_filter = ["level", "active"]
    search_fields = ["code", "name"]
    readonly_fields = ["path"]


@admin.register(User)
class UserAdmin(SimpleHistoryAdmin):
    list_display = ["username", "full_name", "branch", "is_active", "last_login"]
    list_filter = ["branch", "is_active", "groups"]
    search_fields = ["username", "full_name"]
    fields = ["username", "full_name", "email", "phone", "branch", "groups", "is_active", "last_login"]
    readonly_fields = ["username", "last_login"]
