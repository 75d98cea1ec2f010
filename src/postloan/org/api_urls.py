from django.urls import path
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny


class TokenView(ObtainAuthToken):
    """Exchange a user name and password for an API token (header ``Authorization: Token <key>``)."""

    permission_classes = [AllowAny]


urlpatterns = [path("", TokenView.as_view(), name="api-token")]
