from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", views.AuditListView.as_view(), name="audit-list"),
    path("audit/<str:object_type>/<str:object_id>/", views.AuditObjectView.as_view(), name="audit-object"),
    path("branches/", views.BranchListView.as_view(), name="branch-list"),
    path("users/", views.UserListView.as_view(), name="user-list"),
    path("business-date/", views.business_date_view, name="business-date"),
    path("", include("postloan.customers.urls")),
    path("", include("postloan.ledger.urls")),
]
