from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from infolettre.errors import NotFound

from .models import ConsentEvent, PolicyAcceptance, PolicyVersion


def current_policy():
    """Return the policy version in force now."""
    policy = PolicyVersion.objects.filter(published_at__lte=timezone.now()).first()
    if policy is None:
        raise NotFound("No privacy policy has been published.")
    return policy


def published_policies():
    return PolicyVersion.objects.filter(published_at__lte=timezone.now())


def access_policy_version(version):
    policy = published_policies().filter(version=version).first()
    if policy is None:
        raise NotFound()
    return policy


def _subject_filter(subject):
    return {"subject_type": ContentType.objects.get_for_model(subject), "subject_id": subject.pk}


def consent_history(subject):
    return ConsentEvent.objects.filter(**_subject_filter(subject)).select_related("policy_version")


def current_consents(subject):
    """Map each purpose the person has ever answered for to their latest answer (True or False)."""
    return {event.purpose: event.given for event in consent_history(subject)}


def has_consent(subject, purpose):
    """Consent is never assumed: without a recorded, unwithdrawn consent, the answer is no."""
    return current_consents(subject).get(purpose, False)


def policy_acceptances(subject):
    return PolicyAcceptance.objects.filter(**_subject_filter(subject)).select_related(
        "policy_version"
    )
