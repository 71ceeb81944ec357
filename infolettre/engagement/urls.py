from django.urls import path

from . import views

app_name = "engagement"

urlpatterns = [
    path("bulletin/", views.newsletter_signup, name="newsletter_signup"),
    path("bulletin/confirmer/<str:token>/", views.newsletter_confirm, name="newsletter_confirm"),
    # Public: the opt-out of every newsletter and special offer (GET shows a button; POST is
    # RFC 8058's one click).
    path("communications/desabonnement/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
