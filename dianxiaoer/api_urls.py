from django.urls import include, path, re_path

from .api_errors import api_not_found

urlpatterns = [
    path("", include("inbox.api_urls")),
    path("", include("customers.api_urls")),
    path("", include("orders.api_urls")),
    path("webhooks/", include("inbox.webhook_urls")),
    # Last: any other path under /api/v1/ answers a JSON 404, like every other API error.
    re_path(r"^(?P<unknown_path>.*)$", api_not_found),
]
