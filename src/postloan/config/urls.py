from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from postloan.cob.api import CobRunViewSet
from postloan.kernel.api_views import AuditEventViewSet, BusinessDateView
from postloan.ledger.api import CustomerViewSet, LoanViewSet, ProductViewSet, ReversalViewSet
from postloan.ledger.api_import import ImportView
from postloan.org.api import BranchViewSet, UserViewSet

router = DefaultRouter()
router.register("branches", BranchViewSet, basename="branch")
router.register("users", UserViewSet, basename="user")
router.register("audit-events", AuditEventViewSet, basename="auditevent")
router.register("customers", CustomerViewSet, basename="customer")
router.register("products", ProductViewSet, basename="product")
router.register("loans", LoanViewSet, basename="loan")
router.register("reversals", ReversalViewSet, basename="reversal")
router.register("cob/runs", CobRunViewSet, basename="cobrun")

api_patterns = [
    path("business-date/", BusinessDateView.as_view(), name="business-date"),
    path("token/", include("postloan.org.api_urls")),
    path("imports/<str:kind>/", ImportView.as_view(), name="import"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("postloan.cob.urls")),
    path("", include("postloan.web.urls")),
]
