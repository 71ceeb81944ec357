from django.conf import settings
from django.urls import include, path
from django.views.i18n import set_language

from infolettre.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("infolettre.privacy.urls")),
    path("", include("infolettre.accounts.urls")),
    path("", include("infolettre.audience.urls")),
    path("", include("infolettre.campaigns.urls")),
    path("", include("infolettre.webhooks.urls")),
    path("", include("infolettre.engagement.urls")),
    path("", include("infolettre.analytics.urls")),
    path("", include("infolettre.staff.urls")),
]

if settings.DEBUG:
    urlpatterns.append(path("dev/outbox/", include("infolettre.messaging.urls")))

handler404 = "infolettre.views.page_not_found"
handler500 = "infolettre.views.server_error"
