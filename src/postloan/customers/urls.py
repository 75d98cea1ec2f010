"""The customers' pages. Included at the site root by ``postloan.web.urls``."""

from django.urls import path

from . import views

urlpatterns = [
    path("customers/", views.CustomerListView.as_view(), name="customer-list"),
    path("customers/<str:customer_no>/", views.CustomerDetailView.as_view(), name="customer-detail"),
]
