from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Product


@admin.register(Product)
class ProductAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "segment", "method", "frequency", "day_count", "penalty_markup", "active"]
    list_filter = ["segment", "method", "active"]
    search_fields = ["code", "name"]
