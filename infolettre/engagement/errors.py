from django.utils.translation import gettext_lazy as _

from infolettre.errors import Invalid


class PromotionInServiceNotice(Invalid):
    code = "promotion_in_service_notice"
    message = _(
        "A service notice cannot contain promotion: send it as a newsletter or a special offer, "
        "to those who consented."
    )


class NotAServiceNotice(Invalid):
    code = "not_a_service_notice"
    message = _("Only a service notice can be sent to every client user.")


class NoConsentPurpose(Invalid):
    code = "no_consent_purpose"
    message = _("A promotional message goes only to those who consented to its purpose.")


class AlreadySent(Invalid):
    code = "already_sent"
    message = _("This message was already sent.")
