"""Why the operator holds personal data: each purpose is told to people before anything is collected."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Purpose:
    code: str
    label: str
    description: str
    # True when the purpose rests on the person's own recorded, separate consent (never assumed).
    needs_consent: bool = False
    # A use of confidential data added by a later policy version (its version string). People
    # are told by email when it is published and may refuse it; the refusal is honoured by
    # privacy.policy_changes.may_use, the gate of every reader of the data for this purpose.
    introduced_in: str = ""
    # The declared confidential fields such a new use reads ("app.Model.field").
    uses: tuple[str, ...] = ()

    @property
    def refusable(self):
        """A new use of confidential data that a person may refuse (consent purposes are opt-in)."""
        return bool(self.introduced_in) and not self.needs_consent


ACCOUNT = Purpose(
    "account",
    _("Your account"),
    _("To contact you about the applications you use and to solve any problem with your account."),
)
AUTHENTICATION = Purpose(
    "authentication",
    _("Signing in"),
    _("To recognise you when you sign in and keep you signed in until you close your browser."),
)
CLIENT_PROFILE = Purpose(
    "client_profile",
    _("Knowing our clients"),
    _("Only to know our clients better and improve our service, in aggregate."),
)
BILLING = Purpose(
    "billing",
    _("Billing"),
    _(
        "To bill you and control access to the applications; to contact you if an order cannot be approved."
    ),
)
SERVICE_NOTICES = Purpose(
    "service_notices",
    _("Service notices"),
    _(
        "To send important news about the applications you use (updates, incidents); never promotion."
    ),
)
NEWSLETTER = Purpose(
    "newsletter",
    _("Newsletter"),
    _("To send you our periodic newsletter, if you ask for it; you can unsubscribe at any time."),
    needs_consent=True,
)
SPECIAL_OFFERS = Purpose(
    "special_offers",
    _("Special offers"),
    _(
        "To tell you about our products, services and special offers, if you ask for it; "
        "you can unsubscribe at any time."
    ),
    needs_consent=True,
)
SECURITY = Purpose(
    "security",
    _("Security"),
    _("To protect accounts against abuse (for example, guessing passwords); kept briefly."),
)
PRIVACY_COMPLIANCE = Purpose(
    "privacy_compliance",
    _("Proof of consent"),
    _(
        "To prove which consents you gave or withdrew, and which version of the policy you accepted."
    ),
)
PRIVACY_REQUESTS = Purpose(
    "privacy_requests",
    _("Your privacy requests"),
    _("To answer your access, correction and erasure requests, questions and complaints."),
)
CAMPAIGN_DELIVERY = Purpose(
    "campaign_delivery",
    _("Client campaigns"),
    _(
        "To deliver our client's campaigns to the people on their own mailing lists, for that client only."
    ),
)

PURPOSES = {
    p.code: p
    for p in (
        ACCOUNT,
        AUTHENTICATION,
        CLIENT_PROFILE,
        BILLING,
        SERVICE_NOTICES,
        NEWSLETTER,
        SPECIAL_OFFERS,
        SECURITY,
        PRIVACY_COMPLIANCE,
        PRIVACY_REQUESTS,
        CAMPAIGN_DELIVERY,
    )
}
CONSENT_PURPOSES = [p for p in PURPOSES.values() if p.needs_consent]


def refusable_purposes():
    """The new uses of confidential data people may refuse, read when asked (tests register some).

    None is declared today: version 1 of the policy uses confidential data for no purpose that
    a person could refuse.
    """
    return [p for p in PURPOSES.values() if p.refusable]
