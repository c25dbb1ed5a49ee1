from django.urls import path

from . import api

urlpatterns = [
    path("customers/", api.CustomerListApi.as_view(), name="customer-list"),
    path("customers/<int:customer_id>/", api.CustomerDetailApi.as_view(), name="customer-detail"),
    path("customers/<int:customer_id>/tags/", api.CustomerTagsApi.as_view(), name="customer-tags"),
]
