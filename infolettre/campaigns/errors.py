from django.utils.translation import gettext_lazy as _

from infolettre.errors import Conflict, Invalid


class WrongCampaignState(Conflict):
    code = "wrong_campaign_state"
    message = _("The campaign cannot do this in its present state.")


class SenderNotVerified(Invalid):
    code = "sender_not_verified"
    message = _("Confirm this sender address before sending from it.")


class NoRecipients(Invalid):
    code = "no_recipients"
    message = _("Choose at least one list or a segment.")


class TemplateError(Invalid):
    code = "template_error"
    message = _("The template cannot be rendered.")
