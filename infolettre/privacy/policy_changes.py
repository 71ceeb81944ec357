"""Changes of the privacy policy: publishing a version, telling every person, honouring refusals.

The policy's "Avis de changement": a change is published on the home page; a new use of
confidential information is announced at once by email, and each person may refuse it. Here a
version is published (`do_publish_policy_version`), a notice is queued for every client user and
every confirmed newsletter subscriber and sent once (`send_policy_notices`), a person refuses a new
use from a signed link or their consents page (`do_refuse_new_use`), and `may_use` answers, for
every reader of confidential data, whether a person's data may serve a purpose.

What uses exist today: version 1 of the policy adds no use, and no purpose of `purposes.PURPOSES`
is a new use (`Purpose.introduced_in`). The confidential values the code reads today
(Organisation.phone in a campaign footer, the staff's need-to-know views, a person's own access
file) serve the purposes declared from the start, which nobody is offered to refuse. A purpose a
later version adds reads confidential values only through `read_confidential` /
`organisation_values_for`, which ask `may_use` first.
"""

import logging
import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import transaction
from django.tasks import task
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from infolettre.accounts.errors import InvalidLink
from infolettre.errors import Conflict, Invalid, NotFound

from .audit import SUBJECT, SYSTEM, AuditAction, do_record_audit
from .declaration import personal_field
from .models import (
    ConsentEvent,
    PolicyAcceptance,
    PolicyNotice,
    PolicyNoticeStatus,
    PolicyVersion,
)
from .purposes import PURPOSES, refusable_purposes
from .queries import consent_history

logger = logging.getLogger(__name__)

REFUSAL_SALT = "infolettre.privacy.policy-refusal"
LINK_SOURCE = "web:/vie-privee/refus/"


# Which purposes a version adds --------------------------------------------------------------------


def check_new_uses(version, codes):
    """Return the purposes `codes` name, each declared as a new use of confidential data added by
    this version and reading only fields declared confidential; raise Invalid otherwise."""
    purposes, problems = [], []
    for code in dict.fromkeys(codes):
        purpose = PURPOSES.get(code)
        if purpose is None:
            problems.append(f"{code}: unknown purpose")
            continue
        if not purpose.refusable:
            problems.append(f"{code}: not declared as a new use people may refuse")
        elif purpose.introduced_in != str(version):
            problems.append(f"{code}: declared as added by version {purpose.introduced_in}")
        for path in purpose.uses:
            label, _dot, name = path.rpartition(".")
            try:
                confidential = personal_field(label, name).confidential
            except (KeyError, LookupError):
                confidential = False
            if not confidential:
                problems.append(f"{code}: {path} is not a declared confidential field")
        purposes.append(purpose)
    if problems:
        raise Invalid(_("These are not new uses of this version."), details=problems)
    return purposes


# Publishing and telling everyone ------------------------------------------------------------------


@transaction.atomic
def do_publish_policy_version(
    version, summary_fr, summary_en, body_fr, body_en, new_uses=(), *, dry_run=False, by=SYSTEM
):
    """Publish a version now and queue its notice for every person it must reach; return
    (the version, how many notices were queued). A dry run checks and counts, and changes nothing.

    by: the staff member who publishes, or SYSTEM (the command run without --by).
    """
    version = str(version).strip()
    if not version or not body_fr.strip() or not body_en.strip():
        raise Invalid(_("A version needs a name and a text in French and in English."))
    if PolicyVersion.objects.filter(version=version).exists():
        raise Conflict(_("This version of the policy is already published."))
    purposes = check_new_uses(version, new_uses)
    if dry_run:
        return None, sum(len(ids) for _type, ids in notice_recipients())
    policy = PolicyVersion.objects.create(
        version=version,
        published_at=timezone.now(),
        summary_fr=summary_fr,
        summary_en=summary_en,
        body_fr=body_fr,
        body_en=body_en,
        new_uses=[p.code for p in purposes],
    )
    queued = do_queue_policy_notices(policy)
    do_record_audit(
        by,
        AuditAction.POLICY_PUBLISHED,
        target=policy,
        details={"version": policy.version, "new_uses": policy.new_uses, "notices": queued},
    )
    transaction.on_commit(lambda: send_policy_notices.enqueue(policy.pk))
    logger.info("Policy version %s published: %s notices queued", policy.pk, queued)
    return policy, queued


def notice_recipients():
    """Who is told of a change, as [(content type, ids)]: every active client user and every
    confirmed newsletter subscriber (once, when their address is not a client user's).

    Not the contacts of client lists: they are the clients' own third parties, whom the operator
    mails only on a client's behalf; telling them is the client's business under its own policy.
    """
    # The operator's audience is engagement's to say; read at call time (engagement depends on
    # privacy, not the other way round).
    from infolettre.accounts.models import User
    from infolettre.engagement.models import NewsletterSubscriber
    from infolettre.engagement.queries import client_users, confirmed_subscribers

    users = client_users()
    subscribers = confirmed_subscribers().exclude(email__in=users.values("email"))
    return [
        (ContentType.objects.get_for_model(User), list(users.values_list("pk", flat=True))),
        (
            ContentType.objects.get_for_model(NewsletterSubscriber),
            list(subscribers.values_list("pk", flat=True)),
        ),
    ]


def do_queue_policy_notices(policy):
    """Write one notice per person not yet told of this version; return how many were written.

    Running it again writes nothing twice (one notice per version and person, unique).
    """
    queued = 0
    for content_type, ids in notice_recipients():
        told = set(
            PolicyNotice.objects.filter(
                policy_version=policy, subject_type=content_type, subject_id__in=ids
            ).values_list("subject_id", flat=True)
        )
        rows = [
            PolicyNotice(policy_version=policy, subject_type=content_type, subject_id=pk)
            for pk in ids
            if pk not in told
        ]
        PolicyNotice.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        queued += len(rows)
    return queued


def do_resume_policy_notices(version):
    """Send again what a stopped run left queued for a version; return how many are queued."""
    policy = PolicyVersion.objects.filter(version=version).first()
    if policy is None:
        raise NotFound()
    queued = policy.notices.filter(status=PolicyNoticeStatus.QUEUED).count()
    transaction.on_commit(lambda: send_policy_notices.enqueue(policy.pk))
    return queued


def _language(language):
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def policy_url(policy):
    return f"{settings.SITE_URL}{reverse('privacy:policy_version', args=[policy.version])}"


def _send_notice(policy, notice):
    """Mail one notice: a service message (no opt-out, no promotion) in the person's language."""
    from infolettre.messaging.email import MessageKind, send_email

    person = notice.recipient
    if person is None or not getattr(person, "is_active", True):
        return False
    language = _language(person.language)
    english = language.startswith("en")
    refusals = [
        {"purpose": PURPOSES[code], "url": refusal_url(notice, code)}
        for code in policy.new_uses
        if code in PURPOSES
    ]
    send_email(
        kind=MessageKind.SERVICE_NOTICE,
        to=person.email,
        template="privacy/policy_changes/email/notice",
        context={
            "policy": policy,
            "summary": policy.summary_en if english else policy.summary_fr,
            "policy_url": policy_url(policy),
            "refusals": refusals,
            "recipient": person,
            "is_client": person._meta.label == settings.AUTH_USER_MODEL,
        },
        language=language,
    )
    return True


@task()
def send_policy_notices(policy_id):
    """Send each queued notice of a version once: a notice is claimed before it is sent.

    A second run finds nothing queued; a crash leaves the claimed notice unsent rather than sent
    twice, and the rest stays queued for `publish_policy --resume`.
    """
    policy = PolicyVersion.objects.filter(pk=policy_id).first()
    if policy is None:
        return
    queued = policy.notices.filter(status=PolicyNoticeStatus.QUEUED).order_by("pk")
    counts = {
        PolicyNoticeStatus.SENT: 0,
        PolicyNoticeStatus.SKIPPED: 0,
        PolicyNoticeStatus.FAILED: 0,
    }
    for notice_id in list(queued.values_list("pk", flat=True)):
        claimed = PolicyNotice.objects.filter(
            pk=notice_id, status=PolicyNoticeStatus.QUEUED
        ).update(status=PolicyNoticeStatus.SENDING)
        if not claimed:
            continue
        notice = PolicyNotice.objects.select_related("subject_type").get(pk=notice_id)
        try:
            sent = _send_notice(policy, notice)
            status = PolicyNoticeStatus.SENT if sent else PolicyNoticeStatus.SKIPPED
        except Exception:
            logger.exception("Policy version %s: notice %s failed", policy.pk, notice.pk)
            status = PolicyNoticeStatus.FAILED
        PolicyNotice.objects.filter(pk=notice.pk).update(
            status=status, sent_at=timezone.now() if status == PolicyNoticeStatus.SENT else None
        )
        counts[status] += 1
    logger.info(
        "Policy version %s notices: %s sent, %s skipped, %s failed",
        policy.pk,
        counts[PolicyNoticeStatus.SENT],
        counts[PolicyNoticeStatus.SKIPPED],
        counts[PolicyNoticeStatus.FAILED],
    )


# The refusal links --------------------------------------------------------------------------------


def _signer():
    return signing.Signer(salt=REFUSAL_SALT)


def make_refusal_token(notice, code):
    """Sign the notice's random token and the purpose: no address, no guessable id, no expiry."""
    return _signer().sign_object({"n": notice.token.hex, "p": code})


def refusal_url(notice, code):
    path = reverse("privacy:policy_refusal", args=[make_refusal_token(notice, code)])
    return f"{settings.SITE_URL}{path}"


def read_refusal_token(token):
    """Return (notice, purpose) of a refusal link; InvalidLink when it was altered, NotFound when
    its notice is gone (erased with its person, or past its period)."""
    try:
        data = _signer().unsign_object(token)
        notice_token, code = uuid.UUID(hex=str(data["n"])), str(data["p"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidLink(_("This refusal link is damaged.")) from None
    notice = (
        PolicyNotice.objects.select_related("policy_version", "subject_type")
        .filter(token=notice_token)
        .first()
    )
    if notice is None or notice.recipient is None:
        raise NotFound(_("This link no longer leads to anyone."))
    if code not in notice.policy_version.new_uses or code not in PURPOSES:
        raise InvalidLink(_("This refusal link is damaged."))
    return notice, PURPOSES[code]


# Refusing a new use, and honouring it -------------------------------------------------------------


def refusal_wording(purpose):
    """The exact words a person is shown when refusing a new use, kept as proof."""
    return _("I refuse this new use of my information: %(purpose)s. %(description)s") % {
        "purpose": purpose.label,
        "description": purpose.description,
    }


def acceptance_wording(purpose):
    return _("I no longer refuse this use of my information: %(purpose)s. %(description)s") % {
        "purpose": purpose.label,
        "description": purpose.description,
    }


def introducing_version(purpose):
    """The published version that added this use (the one a refusal answers)."""
    return PolicyVersion.objects.filter(version=purpose.introduced_in).first()


def published_new_uses():
    """The new uses of confidential data whose version is published: each person may refuse them."""
    published = set(
        PolicyVersion.objects.filter(published_at__lte=timezone.now()).values_list(
            "version", flat=True
        )
    )
    return [p for p in refusable_purposes() if p.introduced_in in published]


def _latest_answer(subject, code):
    answer = None
    for event in consent_history(subject).filter(purpose=code):
        answer = event.given
    return answer


def has_refused(subject, code):
    return _latest_answer(subject, code) is False


@transaction.atomic
def do_answer_new_use(subject, purpose, *, refused, source, policy=None):
    """Record a person's refusal of a new use (or their taking it back) in the consent ledger,
    with the words shown and the version that added the use; an unchanged answer records nothing.
    Return the new ledger row, or None.

    A refusal also goes to the audit trail as the person's own act (SUBJECT), from a notice's
    signed link or the consents page alike: it binds what the operator may do with their
    confidential data. Taking it back, like any consent given, stays in the ledger alone.
    """
    if not purpose.refusable:
        raise Invalid(_("This purpose is not a use you may refuse."))
    if has_refused(subject, purpose.code) == refused:
        return None
    policy = policy or introducing_version(purpose)
    if policy is None:
        raise NotFound(_("The version of the policy that adds this use is not published."))
    event = ConsentEvent.objects.create(
        subject_type=ContentType.objects.get_for_model(subject),
        subject_id=subject.pk,
        tenant_id=None,  # a use by the operator itself
        purpose=purpose.code,
        given=not refused,
        policy_version=policy,
        wording=str(refusal_wording(purpose) if refused else acceptance_wording(purpose)),
        source=source,
    )
    if refused:
        # The source is left out: a signed link's path holds its token.
        do_record_audit(
            SUBJECT,
            AuditAction.CONSENT_REFUSAL,
            target=subject,
            details={
                "purpose": purpose.code,
                "version": policy.version,
                "consent_event": event.pk,
            },
        )
    logger.info(
        "New use %s %s under policy %s",
        purpose.code,
        "refused" if refused else "accepted",
        policy.pk,
    )
    return event


def do_refuse_new_use(token, *, source=LINK_SOURCE):
    """Record the refusal a signed link names; a second click records nothing."""
    notice, purpose = read_refusal_token(token)
    return do_answer_new_use(
        notice.recipient, purpose, refused=True, source=source, policy=notice.policy_version
    )


def _was_told(subject, policy):
    """Whether the person was told of the version: its notice left, or they accepted it (or a
    later one), or answered a consent under it, when signing up after it was published."""
    content_type = ContentType.objects.get_for_model(subject)
    who = {"subject_type": content_type, "subject_id": subject.pk}
    since = {"policy_version__published_at__gte": policy.published_at}
    return (
        PolicyNotice.objects.filter(
            policy_version=policy, status=PolicyNoticeStatus.SENT, **who
        ).exists()
        or PolicyAcceptance.objects.filter(**who, **since).exists()
        or ConsentEvent.objects.filter(**who, **since).exists()
    )


def may_use(subject, purpose_code):
    """Whether the person's data may serve the purpose now.

    A consent purpose: only with their recorded, unwithdrawn consent (never assumed). A new use
    added by a later version: once they were told of it, and unless they refused it. Any other
    declared purpose: yes (it was in the policy they were shown from the start).
    """
    purpose = PURPOSES[purpose_code]
    answer = _latest_answer(subject, purpose_code)
    if purpose.needs_consent:
        return answer is True
    if not purpose.refusable:
        return answer is not False
    if answer is False:
        return False
    policy = introducing_version(purpose)
    return (
        policy is not None and policy.published_at <= timezone.now() and _was_told(subject, policy)
    )


def read_confidential(row, field_name, purpose_code, *, subjects):
    """The value of a declared personal field of `row`, read for a purpose; None when one of
    `subjects` (the people the value is about) may not have it used for that purpose.

    The purpose must be one the declaration gives the field, or a new use that names the field.
    """
    label = row._meta.label
    declared = personal_field(label, field_name)
    purpose = PURPOSES[purpose_code]
    if purpose_code not in declared.purposes and f"{label}.{field_name}" not in purpose.uses:
        raise ValueError(f"{label}.{field_name} is not declared for the purpose {purpose_code}.")
    subjects = list(subjects)
    if not subjects or not all(may_use(s, purpose_code) for s in subjects):
        return None
    return getattr(row, field_name)


def organisation_values_for(purpose_code, field_name):
    """{organisation id: value} of a confidential field of open client organisations, for a
    purpose; an organisation is left out when any of its active users may not have it used (a
    refusal by one of them is honoured for the company's details they share), or it has none."""
    from infolettre.accounts.models import Organisation, User

    values = {}
    users = User.objects.filter(is_active=True, is_staff=False, tenant__closed_at__isnull=True)
    by_org = {}
    for user in users.exclude(tenant__isnull=True).order_by("pk"):
        by_org.setdefault(user.tenant_id, []).append(user)
    for organisation in Organisation.objects.filter(closed_at__isnull=True, pk__in=list(by_org)):
        value = read_confidential(
            organisation, field_name, purpose_code, subjects=by_org[organisation.pk]
        )
        if value:
            values[organisation.pk] = value
    return values
