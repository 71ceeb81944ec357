from django.urls import path

from . import views, views_imports, views_segments

app_name = "audience"

urlpatterns = [
    path("listes/", views.lists, name="lists"),
    path("listes/<int:list_id>/", views.list_detail, name="list_detail"),
    path("listes/<int:list_id>/supprimer/", views.list_delete, name="list_delete"),
    path("listes/<int:list_id>/importer/", views_imports.import_start, name="import_start"),
    path("listes/<int:list_id>/exporter.csv", views_segments.export_list, name="export_list"),
    path("contacts/", views.contacts, name="contacts"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/supprimer/", views.contact_delete, name="contact_delete"),
    path("contacts/<int:contact_id>/effacer/", views.contact_erase, name="contact_erase"),
    path("contacts/<int:contact_id>/abonner/", views.contact_subscribe, name="contact_subscribe"),
    path(
        "abonnements/<int:subscription_id>/desabonner/",
        views.subscription_unsubscribe,
        name="subscription_unsubscribe",
    ),
    path("exclusions/", views.suppressions, name="suppressions"),
    path(
        "exclusions/<int:suppression_id>/retirer/",
        views.suppression_remove,
        name="suppression_remove",
    ),
    path("importations/<int:import_id>/", views_imports.import_detail, name="import_detail"),
    path(
        "importations/<int:import_id>/rapport.csv",
        views_imports.import_report,
        name="import_report",
    ),
    path("segments/", views_segments.segments, name="segments"),
    path("segments/nombre/", views_segments.segment_count, name="segment_count"),
    path("segments/<int:segment_id>/", views_segments.segment_detail, name="segment_detail"),
    path(
        "segments/<int:segment_id>/supprimer/", views_segments.segment_delete, name="segment_delete"
    ),
    path(
        "segments/<int:segment_id>/exporter.csv",
        views_segments.export_segment,
        name="export_segment",
    ),
    # Public: the hosted sign-up form of a list and the double opt-in confirmation link.
    path("abonnement/<str:public_key>/", views.public_signup, name="public_signup"),
    path(
        "abonnement/confirmer/<str:token>/", views.confirm_subscription, name="confirm_subscription"
    ),
]
