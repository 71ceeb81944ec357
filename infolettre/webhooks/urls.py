from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<int:webhook_id>/secret/", views.webhook_secret, name="webhook_secret"),
    path("webhooks/<int:webhook_id>/essai/", views.webhook_test, name="webhook_test"),
    path("webhooks/<int:webhook_id>/supprimer/", views.webhook_delete, name="webhook_delete"),
]
