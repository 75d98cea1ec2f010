"""The Celery application. Without POSTLOAN_BROKER_URL tasks run in-process (eagerly)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postloan.config.settings")

app = Celery("postloan")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
