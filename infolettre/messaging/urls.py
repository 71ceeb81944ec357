from django.urls import path

from . import views

app_name = "messaging"

urlpatterns = [
    path("", views.outbox, name="outbox"),
    path("<str:name>/", views.outbox_message, name="outbox_message"),
]
