from django.utils.translation import gettext_lazy as _

from infolettre.errors import Invalid


class UnsafeUrl(Invalid):
    code = "webhook_url_refused"
    message = _("This address cannot receive webhooks.")


class UnknownEvent(Invalid):
    code = "webhook_unknown_event"
    message = _("Choose at least one event among those offered.")
