from django.contrib.contenttypes.models import ContentType

from .models import ConsentEvent, PolicyAcceptance
from .queries import current_policy


def do_record_consent(subject, purpose, *, given, wording, source, tenant_id=None):
    """Append one consent answer of a person to the ledger, under the policy in force."""
    return ConsentEvent.objects.create(
        subject_type=ContentType.objects.get_for_model(subject),
        subject_id=subject.pk,
        tenant_id=tenant_id,
        purpose=purpose.code,
        given=given,
        policy_version=current_policy(),
        wording=str(wording),
        source=source,
    )


def do_record_policy_acceptance(subject, *, source, policy=None):
    return PolicyAcceptance.objects.create(
        subject_type=ContentType.objects.get_for_model(subject),
        subject_id=subject.pk,
        policy_version=policy or current_policy(),
        source=source,
    )
