from django.urls import path

from . import (
    hot_urls,
    views_campaigns,
    views_preferences,
    views_templates,
    views_tracking,
    views_unsubscribe,
)

app_name = "campaigns"

urlpatterns = [
    path("campagnes/", views_campaigns.campaigns, name="campaigns"),
    path("campagnes/nouvelle/", views_campaigns.campaign_create, name="campaign_create"),
    path("campagnes/suivi/", views_tracking.tracking, name="tracking"),
    path("campagnes/<int:campaign_id>/", views_campaigns.campaign_detail, name="campaign_detail"),
    path(
        "campagnes/<int:campaign_id>/rapport/",
        views_tracking.campaign_report,
        name="campaign_report",
    ),
    path(
        "campagnes/<int:campaign_id>/envoyer/", views_campaigns.campaign_send, name="campaign_send"
    ),
    path(
        "campagnes/<int:campaign_id>/pause/", views_campaigns.campaign_pause, name="campaign_pause"
    ),
    path(
        "campagnes/<int:campaign_id>/reprendre/",
        views_campaigns.campaign_resume,
        name="campaign_resume",
    ),
    path(
        "campagnes/<int:campaign_id>/annuler/",
        views_campaigns.campaign_cancel,
        name="campaign_cancel",
    ),
    path(
        "campagnes/<int:campaign_id>/apercu/",
        views_campaigns.campaign_preview,
        name="campaign_preview",
    ),
    path(
        "campagnes/<int:campaign_id>/essai/",
        views_campaigns.campaign_test_send,
        name="campaign_test_send",
    ),
    path("expediteurs/", views_campaigns.senders, name="senders"),
    path(
        "expediteurs/<int:sender_id>/supprimer/",
        views_campaigns.sender_delete,
        name="sender_delete",
    ),
    path(
        "expediteurs/confirmer/<str:token>/", views_campaigns.sender_confirm, name="sender_confirm"
    ),
    path("gabarits/", views_templates.templates, name="templates"),
    path("gabarits/<int:template_id>/", views_templates.template_detail, name="template_detail"),
    path(
        "gabarits/<int:template_id>/apercu/",
        views_templates.template_preview,
        name="template_preview",
    ),
    path(
        "gabarits/<int:template_id>/supprimer/",
        views_templates.template_delete,
        name="template_delete",
    ),
    # Public: the unsubscribe link of every message (GET shows a button; POST is RFC 8058's one click).
    path("u/<str:token>/", views_unsubscribe.unsubscribe, name="unsubscribe"),
    # Public: a campaign's click redirect and open pixel, answered ahead of the middleware too.
    *hot_urls.urlpatterns,
    path("u/<str:token>/preferences/", views_preferences.preferences, name="preferences"),
]
