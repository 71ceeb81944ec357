from django.urls import path

from . import views, views_account

app_name = "staff"

urlpatterns = [
    # The operator's staff area (office networks only). /equipe/ itself is a client's team page.
    path("equipe/verification/", views.second_factor, name="second_factor"),
    path("equipe/tableau-de-bord/", views.dashboard, name="dashboard"),
    path("equipe/compte/", views.account, name="account"),
    path(
        "equipe/compte/codes-de-secours/",
        views.regenerate_recovery_codes,
        name="account_recovery_codes",
    ),
    path("equipe/clients/", views.clients, name="clients"),
    path("equipe/clients/<int:organisation_id>/", views.client_detail, name="client_detail"),
    path("equipe/clients/<int:organisation_id>/listes/", views.client_lists, name="client_lists"),
    path("equipe/clients/<int:organisation_id>/reveler/", views.reveal, name="reveal"),
    path("equipe/personnel/", views.personnel, name="personnel"),
    path(
        "equipe/personnel/<int:staff_user_id>/role/",
        views.change_staff_role,
        name="change_staff_role",
    ),
    path(
        "equipe/personnel/<int:staff_user_id>/deuxieme-facteur/",
        views.reset_second_factor,
        name="reset_second_factor",
    ),
    # A client owner lets staff see their lists for a support case.
    path("compte/acces-soutien/", views_account.support_access, name="support_access"),
    path(
        "compte/acces-soutien/<int:grant_id>/revoquer/",
        views_account.revoke_support_access,
        name="revoke_support_access",
    ),
]
