"""The consent ledger proves each answer: it is appended to, never rewritten."""

import pytest
from django.contrib.contenttypes.models import ContentType

from infolettre.privacy.actions import do_record_consent
from infolettre.privacy.models import ConsentEvent, PolicyVersion
from infolettre.privacy.purposes import NEWSLETTER, SPECIAL_OFFERS
from infolettre.privacy.queries import current_consents, current_policy, has_consent


def test_each_answer_is_recorded_with_its_proof(owner):
    """Purpose, answer, words shown, source, time and policy version are all kept."""
    event = do_record_consent(
        owner, NEWSLETTER, given=True, wording="Yes, send me the newsletter", source="web:/x/"
    )
    stored = ConsentEvent.objects.get(pk=event.pk)
    assert stored.subject_type == ContentType.objects.get_for_model(owner)
    assert (stored.subject_id, stored.purpose, stored.given) == (owner.pk, "newsletter", True)
    assert (stored.wording, stored.source) == ("Yes, send me the newsletter", "web:/x/")
    assert stored.policy_version == current_policy()
    assert stored.occurred_at is not None


def test_the_latest_answer_counts_and_silence_means_no(owner):
    do_record_consent(owner, NEWSLETTER, given=True, wording="w", source="s")
    do_record_consent(owner, NEWSLETTER, given=False, wording="w", source="s")
    assert has_consent(owner, NEWSLETTER.code) is False
    assert has_consent(owner, SPECIAL_OFFERS.code) is False
    assert current_consents(owner) == {"newsletter": False}


def test_ledger_rows_cannot_be_changed_or_deleted(owner):
    """Neither a row nor a queryset of the ledger can be updated or deleted."""
    event = do_record_consent(owner, NEWSLETTER, given=True, wording="w", source="s")
    event.given = False
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        ConsentEvent.objects.filter(pk=event.pk).update(given=False)
    with pytest.raises(TypeError):
        ConsentEvent.objects.all().delete()
    assert ConsentEvent.objects.get(pk=event.pk).given is True


def test_consent_follows_the_policy_in_force(owner):
    """A consent given after a new policy is published names that version."""
    PolicyVersion.objects.create(version="2", body_fr="v2", body_en="v2")
    event = do_record_consent(owner, NEWSLETTER, given=True, wording="w", source="s")
    assert event.policy_version.version == "2"
