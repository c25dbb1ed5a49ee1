from django.urls import path

from . import views

app_name = "inbox"

urlpatterns = [
    path("attachments/<int:attachment_id>/", views.attachment, name="attachment"),
]
