"""Retention: with the clock moved, what has expired is gone or anonymised and the rest is intact."""

from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from infolettre.accounts.actions import do_set_consent
from infolettre.accounts.models import Invitation, Organisation, User
from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.audience.models import ConsentBasis, Contact, Subscription
from infolettre.campaigns.models import Bounce, BounceKind, Delivery, DeliveryEngagement
from infolettre.engagement.models import NewsletterSubscriber
from infolettre.privacy.actions import do_record_consent
from infolettre.privacy.declaration import declared_models
from infolettre.privacy.models import (
    ConsentEvent,
    ErasureRecord,
    PrivacyRequest,
    PrivacyRequestKind,
    privacy_request_email_hash,
)
from infolettre.privacy.purposes import NEWSLETTER
from infolettre.privacy.requests import do_prove_request, do_receive_request
from infolettre.privacy.retention import apply_retention, how_dated, unhandled_models
from infolettre.privacy.tasks import apply_retention as apply_retention_task
from infolettre.privacy.tests.test_erasure import launch

DAY = timedelta(days=1)
# Models whose date may be empty, and why their rows still end.
NULLABLE_DATES = {
    "privacy.PrivacyRequest": "held while open; never-proven requests end with their link",
}


@pytest.fixture
def world(owner, make_client_user, settings, django_capture_on_commit_callbacks):
    """One client with a pending sign-up, an express and an implied (inquiry) subscriber, a sent
    campaign and a bounce, an invitation; an unconfirmed client account; a closed one."""
    settings.CAMPAIGN_TRANSPORT_URL = "memory://"
    start = timezone.now()
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        kept = do_create_contact(owner.tenant, email="kept@example.com", name="Kept")
        do_subscribe(kept, news, source="test")
        inquiry = do_create_contact(owner.tenant, email="inquiry@example.com")
        do_subscribe(
            inquiry, news, basis=ConsentBasis.IMPLIED_INQUIRY, consent_at=start, source="test"
        )
    with django_capture_on_commit_callbacks(execute=True):
        launch(owner.tenant, news)
    with tenant_scope(owner.tenant):
        pending = do_create_contact(owner.tenant, email="pending@example.com")
        do_subscribe(pending, news, source="signup form", confirmed=False)
        Invitation.objects.create(tenant=owner.tenant, email="invited@example.com")
    Bounce.unscoped.create(
        tenant=owner.tenant,
        delivery=Delivery.unscoped.get(email="kept@example.com"),
        email="kept@example.com",
        kind=BounceKind.SOFT,
        diagnostic="mailbox full",
    )
    unconfirmed = make_client_user(confirmed=False)
    closed = make_client_user()
    Organisation.objects.filter(pk=closed.tenant_id).update(closed_at=start)
    return {"start": start, "owner": owner, "unconfirmed": unconfirmed, "closed": closed}


def snapshot():
    return {
        "organisations": Organisation.objects.count(),
        "users": User.objects.count(),
        "contacts": sorted(Contact.unscoped.values_list("email", flat=True)),
        "subscriptions": Subscription.unscoped.count(),
        "deliveries": sorted(Delivery.unscoped.values_list("email", flat=True)),
        "bounces": list(Bounce.unscoped.values_list("email", "diagnostic")),
        "invitations": Invitation.unscoped.count(),
    }


def test_each_period_ends_what_it_covers_and_nothing_else(world):
    """Moving the clock: the pending sign-up goes after its week, the unconfirmed account and the
    invitation after 30 days, the closed account after its 90-day grace, the inquiry's implied
    consent after 6 months, send records lose their address after 400 days."""
    start = world["start"]
    assert snapshot() == {
        "organisations": 3,
        "users": 3,
        "contacts": ["inquiry@example.com", "kept@example.com", "pending@example.com"],
        "subscriptions": 3,
        "deliveries": ["inquiry@example.com", "kept@example.com"],
        "bounces": [("kept@example.com", "mailbox full")],
        "invitations": 1,
    }

    assert apply_retention(start + 6 * DAY) == {}
    assert apply_retention(start + 8 * DAY) == {
        "audience.Contact": {
            "deleted": 1,
            "anonymised": 0,
            "categories": ["contact", "content", "technical"],
        },
        "audience.Subscription": {"deleted": 1, "anonymised": 0, "categories": ["consent"]},
    }
    assert snapshot()["contacts"] == ["inquiry@example.com", "kept@example.com"]
    assert snapshot()["subscriptions"] == 2

    done = apply_retention(start + 31 * DAY)
    assert done["accounts.Invitation"]["deleted"] == 1
    assert done["accounts.Organisation"]["deleted"] == 1
    assert done["accounts.User"]["deleted"] == 1
    assert not User.objects.filter(pk=world["unconfirmed"].pk).exists()
    assert (snapshot()["organisations"], snapshot()["users"], snapshot()["invitations"]) == (
        2,
        2,
        0,
    )

    assert apply_retention(start + 89 * DAY) == {}
    done = apply_retention(start + 91 * DAY)
    assert (done["accounts.Organisation"]["deleted"], done["accounts.User"]["deleted"]) == (1, 1)
    assert not Organisation.objects.filter(pk=world["closed"].tenant_id).exists()
    assert Organisation.objects.filter(pk=world["owner"].tenant_id).exists()

    done = apply_retention(start + 190 * DAY)
    assert done == {
        "audience.Subscription": {"deleted": 1, "anonymised": 0, "categories": ["consent"]}
    }
    assert snapshot()["subscriptions"] == 1
    assert snapshot()["contacts"] == ["inquiry@example.com", "kept@example.com"]

    done = apply_retention(start + 401 * DAY)
    assert done["campaigns.Delivery"] == {
        "deleted": 0,
        "anonymised": 2,
        "categories": ["contact", "technical"],
    }
    assert done["campaigns.Bounce"]["anonymised"] == 1
    assert snapshot() == {
        "organisations": 1,
        "users": 1,
        "contacts": ["inquiry@example.com", "kept@example.com"],
        "subscriptions": 1,
        "deliveries": ["", ""],
        "bounces": [("", "")],
        "invitations": 0,
    }
    records = ErasureRecord.objects.count()
    assert apply_retention(start + 401 * DAY) == {}
    assert ErasureRecord.objects.count() == records


def test_an_open_request_holds_the_persons_data_until_it_closes(owner):
    """A pending sign-up past its week stays while its person's request is open; it goes once
    the request is closed."""
    start = timezone.now()
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        pending = do_create_contact(owner.tenant, email="held@example.com")
        do_subscribe(pending, news, source="signup form", confirmed=False)
    request = PrivacyRequest.objects.create(
        kind=PrivacyRequestKind.ACCESS,
        email="held@example.com",
        email_hash=privacy_request_email_hash("Held@example.com"),
        verified_at=start,
        due_at=start + 30 * DAY,
    )

    assert apply_retention(start + 8 * DAY) == {}
    assert Contact.unscoped.count() == 1 and Subscription.unscoped.count() == 1

    request.closed_at = start + 9 * DAY
    request.save(update_fields=["closed_at"])
    assert apply_retention(start + 10 * DAY)["audience.Contact"]["deleted"] == 1
    assert (Contact.unscoped.count(), Subscription.unscoped.count()) == (0, 0)


def test_a_deployment_shortens_a_period(world, settings):
    """RETENTION_OVERRIDES gives send records 10 days instead of 400."""
    settings.RETENTION_OVERRIDES = {"campaigns.Delivery": 10}
    done = apply_retention(world["start"] + 11 * DAY)
    assert done["campaigns.Delivery"]["anonymised"] == 2
    assert "campaigns.Bounce" not in done


def test_the_command_tells_what_would_go_and_changes_nothing(world, capsys):
    """manage.py apply_retention --dry-run prints the counts; nothing changes."""
    before = snapshot()
    with time_machine.travel(world["start"] + 8 * DAY):
        call_command("apply_retention", "--dry-run")
    out = capsys.readouterr().out
    assert "audience.Contact: would delete 1, would anonymise 0" in out
    assert "audience.Subscription: would delete 1, would anonymise 0 (consent)" in out
    assert snapshot() == before
    assert ErasureRecord.objects.count() == 0


def test_the_daily_task_runs_twice_safely(world):
    """The task applies retention; a second run on the same day finds nothing more."""
    with time_machine.travel(world["start"] + 8 * DAY):
        apply_retention_task.enqueue()
        apply_retention_task.enqueue()
    assert ErasureRecord.objects.count() == 1
    assert snapshot()["contacts"] == ["inquiry@example.com", "kept@example.com"]


def test_every_declared_model_is_dated_by_retention():
    """Walking the whole declaration: every model holding personal data is dated by a date field
    its rows have (links followed), or ended by a retention rule that says it dates it; none is
    left that retention could never end."""
    assert unhandled_models() == []
    for entry in declared_models():
        how, detail = how_dated(entry)
        assert how in ("field", "rule", "none"), entry.model
        if how == "field":
            model = apps.get_model(entry.model)
            *links, name = detail.split("__")
            for link in links:
                model = model._meta.get_field(link).related_model
            field = model._meta.get_field(name)
            assert isinstance(field, (models.DateTimeField, models.DateField)), entry.model
            assert not field.null or entry.model in NULLABLE_DATES, entry.model


def test_consent_proof_stays_while_its_person_is_here(make_client_user):
    """After three years a consent answer of a living user still proves their consent in force;
    the answers of a user who is gone are cut from them."""
    living = make_client_user()
    gone = make_client_user()
    for user in (living, gone):
        do_set_consent(user, NEWSLETTER, True, source="test")
    gone_id = gone.pk
    User.objects.filter(pk=gone_id).delete()

    done = apply_retention(timezone.now() + 3 * 366 * DAY)

    assert ConsentEvent.objects.filter(subject_id=living.pk).count() == 1
    assert ConsentEvent.objects.filter(subject_id=gone_id).count() == 0
    assert done["privacy.ConsentEvent"]["anonymised"] == 1


def test_a_request_never_proven_goes_once_its_link_has_expired(db, settings):
    """With the clock moved past PRIVACY_REQUEST_LINK_MAX_AGE, a request whose address was never
    proven is deleted; a proven one, and one whose link still works, stay."""
    settings.PRIVACY_REQUEST_LINK_MAX_AGE = 2 * 24 * 3600
    start = timezone.now()
    never = do_receive_request(kind="question", email="never@example.com", message="?", now=start)
    proven = do_prove_request(
        do_receive_request(kind="question", email="proven@example.com", message="?", now=start)
    )
    recent = do_receive_request(
        kind="question", email="recent@example.com", message="?", now=start + DAY
    )

    with time_machine.travel(start + 2 * DAY - timedelta(minutes=1)):
        assert apply_retention() == {}
    with time_machine.travel(start + 2 * DAY + timedelta(minutes=1)):
        done = apply_retention()

    assert done == {
        "privacy.PrivacyRequest": {
            "deleted": 1,
            "anonymised": 0,
            "categories": ["contact", "content", "technical"],
        }
    }
    assert not PrivacyRequest.objects.filter(pk=never.pk).exists()
    assert sorted(PrivacyRequest.objects.values_list("pk", flat=True)) == sorted(
        [proven.pk, recent.pk]
    )


def test_per_recipient_tracking_ends_with_its_send_record(
    owner, settings, django_capture_on_commit_callbacks
):
    """A recipient's first open and click are deleted when their delivery's 400 days are over,
    not a day before; the campaign's delivery stays, anonymised."""
    settings.CAMPAIGN_TRANSPORT_URL = "memory://"
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        reader = do_create_contact(owner.tenant, email="reader@example.com")
        do_subscribe(reader, news, source="test")
    with django_capture_on_commit_callbacks(execute=True):
        campaign = launch(owner.tenant, news)
    delivery = Delivery.unscoped.get()
    DeliveryEngagement.unscoped.create(
        tenant=owner.tenant,
        delivery=delivery,
        campaign=campaign,
        first_opened_at=timezone.now(),
    )
    dated = delivery.next_attempt_at

    assert "campaigns.DeliveryEngagement" not in apply_retention(dated + 399 * DAY)
    assert DeliveryEngagement.unscoped.count() == 1
    done = apply_retention(dated + 401 * DAY)
    assert done["campaigns.DeliveryEngagement"] == {
        "deleted": 1,
        "anonymised": 0,
        "categories": ["technical"],
    }
    assert DeliveryEngagement.unscoped.count() == 0
    assert list(Delivery.unscoped.values_list("email", flat=True)) == [""]


def test_newsletter_sign_ups_go_unconfirmed_after_7_days_withdrawn_after_30(db):
    """A sign-up never confirmed goes after 7 days; a subscriber who withdrew goes 30 days after
    the withdrawal the consent ledger recorded; one who still consents stays; one whose open
    request holds them stays until it closes."""
    start = timezone.now()
    with time_machine.travel(start):
        unconfirmed = NewsletterSubscriber.objects.create(
            email="unconfirmed@example.com", name="U", confirmation_requested_at=start
        )
        reader, leaver, held = (
            NewsletterSubscriber.objects.create(
                email=f"{name}@example.com", name=name, confirmed_at=start
            )
            for name in ("reader", "leaver", "held")
        )
        for subscriber in (reader, leaver, held):
            do_record_consent(subscriber, NEWSLETTER, given=True, wording="Yes", source="test")
    with time_machine.travel(start + 10 * DAY):
        for subscriber in (leaver, held):
            do_record_consent(subscriber, NEWSLETTER, given=False, wording="Stop", source="test")
    PrivacyRequest.objects.create(
        kind=PrivacyRequestKind.ACCESS,
        email="held@example.com",
        email_hash=privacy_request_email_hash("held@example.com"),
        verified_at=start,
        due_at=start + 60 * DAY,
    )

    def left():
        return sorted(NewsletterSubscriber.objects.values_list("name", flat=True))

    assert apply_retention(start + 6 * DAY) == {}
    assert apply_retention(start + 8 * DAY)["engagement.NewsletterSubscriber"]["deleted"] == 1
    assert not NewsletterSubscriber.objects.filter(pk=unconfirmed.pk).exists()
    assert apply_retention(start + 39 * DAY) == {}
    assert left() == ["held", "leaver", "reader"]
    assert apply_retention(start + 41 * DAY)["engagement.NewsletterSubscriber"] == {
        "deleted": 1,
        "anonymised": 0,
        "categories": ["consent", "contact", "technical"],
    }
    assert left() == ["held", "reader"]
    assert apply_retention(start + 5000 * DAY).get("engagement.NewsletterSubscriber") is None
    assert left() == ["held", "reader"]


def test_a_pending_confirmation_keeps_a_former_subscriber_until_its_link_expires(db):
    """Someone who withdrew and signed up again keeps their row while the new link can still be
    followed, even past the 30 days; once it has expired unused, the row goes."""
    start = timezone.now()
    with time_machine.travel(start):
        back = NewsletterSubscriber.objects.create(
            email="back@example.com", name="Back", confirmed_at=start
        )
        do_record_consent(back, NEWSLETTER, given=True, wording="Yes", source="test")
        do_record_consent(back, NEWSLETTER, given=False, wording="Stop", source="test")
    NewsletterSubscriber.objects.filter(pk=back.pk).update(
        confirmation_requested_at=start + 29 * DAY
    )
    assert apply_retention(start + 33 * DAY) == {}
    assert apply_retention(start + 37 * DAY)["engagement.NewsletterSubscriber"]["deleted"] == 1
