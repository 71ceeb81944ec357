from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path(
        "rapport-quotidien/arret/<str:token>/",
        views.stop_daily_report,
        name="stop_daily_report",
    ),
    path("compte/rapport-quotidien/", views.daily_report_settings, name="daily_report_settings"),
]
