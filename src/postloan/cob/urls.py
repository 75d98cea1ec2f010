from django.urls import path

from . import views

urlpatterns = [path("cob/", views.history, name="cob-history")]
