"""Who the operator's messages reach: read from accounts and, for consent, only from the ledger."""

from django.contrib.contenttypes.models import ContentType
from django.db.models import OuterRef, Subquery

from infolettre.accounts.models import User
from infolettre.privacy.models import ConsentEvent

from .models import NewsletterSubscriber


def client_users():
    """Every active client user with a confirmed address, in an open organisation; never staff."""
    return User.objects.filter(
        tenant__isnull=False,
        tenant__closed_at__isnull=True,
        is_active=True,
        is_staff=False,
        email_confirmed_at__isnull=False,
    )


def with_current_consent(queryset, purpose):
    """Those of `queryset` whose latest answer in the consent ledger for `purpose` is yes.

    A person who never answered has no consent: it is never assumed.
    """
    latest = (
        ConsentEvent.objects.filter(
            subject_type=ContentType.objects.get_for_model(queryset.model),
            subject_id=OuterRef("pk"),
            purpose=purpose.code,
        )
        .order_by("-occurred_at", "-id")
        .values("given")[:1]
    )
    return queryset.annotate(current_consent=Subquery(latest)).filter(current_consent=True)


def confirmed_subscribers():
    return NewsletterSubscriber.objects.filter(confirmed_at__isnull=False)
