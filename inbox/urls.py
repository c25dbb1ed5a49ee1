from django.urls import path

from . import views

app_name = "inbox"

urlpatterns = [
    path("inbox/", views.workspace, name="workspace"),
    path("chat/<slug:shop_slug>/", views.chat_page, name="chat"),
    path("chat/<slug:shop_slug>/upload/", views.chat_upload, name="chat_upload"),
    path("chat/<slug:shop_slug>/widget.js", views.chat_widget, name="chat_widget"),
    path("attachments/<int:attachment_id>/", views.attachment, name="attachment"),
]
