from django.contrib import admin

from .models import CustomerGroup, Industry


@admin.register(Industry)
class IndustryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "section"]
    search_fields = ["code", "name", "name_en"]
    list_filter = ["section"]


@admin.register(CustomerGroup)
class CustomerGroupAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
