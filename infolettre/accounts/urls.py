from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("inscription/", views.register, name="register"),
    path("inscription/envoyee/", views.registered, name="registered"),
    path("confirmer/<str:token>/", views.confirm_email, name="confirm_email"),
    path("confirmer-a-nouveau/", views.resend_confirmation, name="resend_confirmation"),
    path("connexion/", views.login, name="login"),
    path("deconnexion/", views.logout, name="logout"),
    path("mot-de-passe/oublie/", views.password_reset, name="password_reset"),
    path(
        "mot-de-passe/nouveau/<str:uidb64>/<str:token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("tableau-de-bord/", views.dashboard, name="dashboard"),
    path("compte/", views.profile, name="profile"),
    path("compte/mot-de-passe/", views.password_change, name="password_change"),
    path("compte/consentements/", views.consents, name="consents"),
    path("compte/jetons/", views.api_tokens, name="api_tokens"),
    path("compte/jetons/<int:token_id>/revoquer/", views.revoke_api_token, name="revoke_api_token"),
    path("organisation/", views.organisation, name="organisation"),
    path("equipe/", views.team, name="team"),
    path(
        "equipe/membres/<int:member_id>/role/", views.change_member_role, name="change_member_role"
    ),
    path("equipe/membres/<int:member_id>/retirer/", views.remove_member, name="remove_member"),
    path(
        "equipe/invitations/<int:invitation_id>/annuler/",
        views.cancel_invitation,
        name="cancel_invitation",
    ),
    path("invitation/<str:token>/", views.accept_invitation, name="accept_invitation"),
]
