from django.urls import path

from .webhook import WebhookApi

urlpatterns = [
    path("<uuid:public_id>/", WebhookApi.as_view(), name="webhook"),
]
