from django.urls import include, path

urlpatterns = [
    path("", include("inbox.api_urls")),
    path("", include("customers.api_urls")),
]
