from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("politique-de-confidentialite/", views.policy, name="policy"),
    path("politique-de-confidentialite/<str:version>/", views.policy, name="policy_version"),
    path("renseignements-personnels/", views.declaration, name="declaration"),
]
