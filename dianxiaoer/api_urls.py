from django.urls import include, path

urlpatterns = [
    path("", include("inbox.api_urls")),
    path("", include("customers.api_urls")),
    path("", include("orders.api_urls")),
    path("webhooks/", include("inbox.webhook_urls")),
]
