"""Celery application: SLA sweeps, outbound delivery, follow-ups."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dianxiaoer.settings")

app = Celery("dianxiaoer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
