from django.urls import path

from . import views, views_desk, views_policy_changes, views_requests

app_name = "privacy"

urlpatterns = [
    path("politique-de-confidentialite/", views.policy, name="policy"),
    path("politique-de-confidentialite/<str:version>/", views.policy, name="policy_version"),
    path("renseignements-personnels/", views.declaration, name="declaration"),
    # A policy notice's link to refuse a new use of confidential information.
    path("vie-privee/refus/<str:token>/", views_policy_changes.refusal, name="policy_refusal"),
    # Privacy requests: the public forms, the signed proof link and the access file.
    path("vie-privee/acces/", views_requests.access_request, name="access_request"),
    path("vie-privee/demande/", views_requests.request_form, name="request_form"),
    path("vie-privee/demande/envoyee/", views_requests.request_sent, name="request_sent"),
    path("vie-privee/lien/<str:token>/", views_requests.request_confirm, name="request_confirm"),
    path("vie-privee/dossier/<str:token>/", views_requests.request_file, name="request_file"),
    path("vie-privee/demandes/", views_requests.tenant_requests, name="tenant_requests"),
    path(
        "vie-privee/demandes/<int:request_id>/repondre/",
        views_requests.tenant_answer,
        name="tenant_answer",
    ),
    # The privacy officer's desk and the confidentiality incident register.
    path("equipe/vie-privee/", views_desk.desk, name="desk"),
    path(
        "equipe/vie-privee/demandes/<int:request_id>/", views_desk.desk_request, name="desk_request"
    ),
    path(
        "equipe/vie-privee/demandes/<int:request_id>/prendre/",
        views_desk.desk_assign,
        name="desk_assign",
    ),
    path(
        "equipe/vie-privee/demandes/<int:request_id>/prolonger/",
        views_desk.desk_extend,
        name="desk_extend",
    ),
    path(
        "equipe/vie-privee/demandes/<int:request_id>/repondre/",
        views_desk.desk_answer,
        name="desk_answer",
    ),
    path(
        "equipe/vie-privee/demandes/<int:request_id>/effacer/",
        views_desk.desk_erase,
        name="desk_erase",
    ),
    path("equipe/vie-privee/incidents/", views_desk.incidents, name="incidents"),
    path("equipe/vie-privee/incidents/nouveau/", views_desk.incident_new, name="incident_new"),
    path(
        "equipe/vie-privee/incidents/<int:incident_id>/",
        views_desk.incident_edit,
        name="incident_edit",
    ),
    path(
        "equipe/vie-privee/incidents/registre.csv", views_desk.incidents_csv, name="incidents_csv"
    ),
    path(
        "equipe/vie-privee/incidents/registre.json",
        views_desk.incidents_json,
        name="incidents_json",
    ),
]
