"""Policy changes: a new version is published and announced by a service notice to every client user
and confirmed subscriber; a new use of confidential data may be refused, and the refusal is honoured
by the code that would use the data."""

import io
import re

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact
from infolettre.engagement.models import NewsletterSubscriber
from infolettre.errors import Conflict, Invalid
from infolettre.privacy import policy_changes
from infolettre.privacy.models import ConsentEvent, PolicyNotice, PolicyNoticeStatus, PolicyVersion
from infolettre.privacy.policy_changes import (
    do_publish_policy_version,
    may_use,
    organisation_values_for,
    read_confidential,
    send_policy_notices,
)
from infolettre.privacy.purposes import NEWSLETTER, PURPOSES, Purpose

REFUSAL = re.compile(re.escape(settings.SITE_URL) + r"(/vie-privee/refus/[^/\s\"<>]+/)")
USE = "phone_callbacks"

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_use(monkeypatch):
    """A use of the organisation's phone (declared confidential) that version 2 adds."""
    purpose = Purpose(
        USE,
        "Phone callbacks",
        "To call you back about your campaigns at the phone number of your organisation.",
        introduced_in="2",
        uses=("accounts.Organisation.phone",),
    )
    monkeypatch.setitem(PURPOSES, USE, purpose)
    return purpose


def publish(callbacks, new_uses=(), version="2"):
    with callbacks(execute=True):
        policy, _queued = do_publish_policy_version(
            version,
            "Nous ajoutons un usage.",
            "We add a use.",
            "## Version 2\n\nTexte.",
            "## Version 2\n\nText.",
            new_uses=new_uses,
        )
    return policy


def subscriber(email, *, confirmed=True, language="fr"):
    return NewsletterSubscriber.objects.create(
        email=email,
        name="Abonné",
        language=language,
        confirmed_at=timezone.now() if confirmed else None,
    )


def mail_to(mailoutbox, email):
    (mail,) = [m for m in mailoutbox if m.to == [email]]
    return mail


def refusal_path(mail):
    return REFUSAL.search(mail.body).group(1)


def ledger_count():
    return ConsentEvent.objects.count()


# Publishing and the notices ------------------------------------------------------------------------


def test_publishing_mails_one_notice_to_each_client_user_and_confirmed_subscriber_in_their_language(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """Every active client user and confirmed subscriber is told once, in their language, by a
    service notice: no List-Unsubscribe, with the summary and a link to the new version. Neither
    unconfirmed subscribers nor the contacts of client lists are told (contacts are the clients')."""
    french = make_client_user(email="fr@example.com")
    english = make_client_user(email="en@example.com")
    english.language = "en"
    english.save(update_fields=["language"])
    make_client_user(email="unconfirmed@example.com", confirmed=False)
    subscriber("abonne@example.com")
    subscriber("reader@example.com", language="en")
    subscriber("waiting@example.com", confirmed=False)
    with tenant_scope(french.tenant):
        do_create_contact(french.tenant, email="contact@example.com", name="Contact")

    policy = publish(django_capture_on_commit_callbacks)

    assert sorted(m.to[0] for m in mailoutbox) == [
        "abonne@example.com",
        "en@example.com",
        "fr@example.com",
        "reader@example.com",
    ]
    policy_link = f"{settings.SITE_URL}/politique-de-confidentialite/2/"
    fr_mail = mail_to(mailoutbox, "fr@example.com")
    assert fr_mail.subject == "Infolettre : notre politique de confidentialité change (version 2)"
    assert "Lire la nouvelle version : " + policy_link in fr_mail.body
    assert "Nous ajoutons un usage." in fr_mail.body
    assert policy_link in fr_mail.body
    en_mail = mail_to(mailoutbox, "en@example.com")
    assert en_mail.subject == "Infolettre: our privacy policy changes (version 2)"
    assert "We add a use." in en_mail.body
    assert "Read the new version: " + policy_link in en_mail.body
    assert "You receive this service notice because you have an account" in en_mail.body
    reader = mail_to(mailoutbox, "reader@example.com")
    assert "because you subscribed to our newsletter" in reader.body
    for mail in mailoutbox:
        assert mail.extra_headers["X-Infolettre-Kind"] == "service_notice"
        assert "List-Unsubscribe" not in mail.extra_headers
        assert "List-Unsubscribe-Post" not in mail.extra_headers
    assert PolicyNotice.objects.filter(policy_version=policy).count() == 4
    assert set(PolicyNotice.objects.values_list("status", flat=True)) == {PolicyNoticeStatus.SENT}
    assert PolicyVersion.objects.get(version="2").new_uses == []


def test_sending_twice_sends_each_notice_once(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """A second run of the task, or a second queueing, sends and writes nothing again."""
    make_client_user(email="fr@example.com")
    subscriber("abonne@example.com")
    policy = publish(django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 2

    send_policy_notices.call(policy.pk)
    assert policy_changes.do_queue_policy_notices(policy) == 0
    send_policy_notices.call(policy.pk)

    assert len(mailoutbox) == 2
    assert PolicyNotice.objects.count() == 2


def test_a_stopped_run_resumes_with_the_notices_left_queued(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """Notices still queued (the worker stopped) are sent by --resume; sent ones are not resent."""
    make_client_user(email="first@example.com")
    make_client_user(email="second@example.com")
    policy = publish(django_capture_on_commit_callbacks)
    PolicyNotice.objects.filter(pk=PolicyNotice.objects.order_by("pk").last().pk).update(
        status=PolicyNoticeStatus.QUEUED, sent_at=None
    )
    mailoutbox.clear()
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("publish_policy", "--resume", "2", stdout=out)

    assert out.getvalue() == "1 notices queued for version 2.\n"
    assert [m.to[0] for m in mailoutbox] == ["second@example.com"]
    assert policy.notices.filter(status=PolicyNoticeStatus.SENT).count() == 2


def test_a_version_without_new_uses_has_no_refusal_links(
    make_client_user, mailoutbox, django_capture_on_commit_callbacks
):
    """A change that adds no use of confidential data offers nothing to refuse."""
    make_client_user(email="fr@example.com")
    publish(django_capture_on_commit_callbacks)
    (mail,) = mailoutbox
    html = mail.alternatives[0][0]
    assert "/vie-privee/refus/" not in mail.body
    assert "/vie-privee/refus/" not in html


def test_a_version_with_a_new_use_offers_one_signed_refusal_link_per_person(
    make_client_user, new_use, mailoutbox, django_capture_on_commit_callbacks
):
    """Each notice names the new use and links to its refusal; the link carries no address."""
    make_client_user(email="fr@example.com")
    publish(django_capture_on_commit_callbacks, new_uses=[USE])
    (mail,) = mailoutbox
    path = refusal_path(mail)
    assert "Phone callbacks" in mail.body
    assert path in mail.alternatives[0][0]
    token = path.rstrip("/").rsplit("/", 1)[1]
    notice = PolicyNotice.objects.get()
    assert policy_changes._signer().unsign_object(token) == {"n": notice.token.hex, "p": USE}
    assert PolicyVersion.objects.get(version="2").new_uses == [USE]


def test_a_new_use_must_be_declared_for_the_version_and_read_confidential_fields(
    new_use, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    """An unknown purpose, a purpose the code does not declare as this version's new use, or one
    reading a field that is not confidential is refused, and nothing is published."""
    with pytest.raises(Invalid) as unknown:
        publish(django_capture_on_commit_callbacks, new_uses=["nonexistent"])
    assert unknown.value.details == ["nonexistent: unknown purpose"]
    with pytest.raises(Invalid) as not_new:
        publish(django_capture_on_commit_callbacks, new_uses=[NEWSLETTER.code])
    assert not_new.value.details == ["newsletter: not declared as a new use people may refuse"]
    with pytest.raises(Invalid) as other_version:
        publish(django_capture_on_commit_callbacks, new_uses=[USE], version="3")
    assert other_version.value.details == ["phone_callbacks: declared as added by version 2"]
    monkeypatch.setitem(
        PURPOSES,
        "site_visits",
        Purpose(
            "site_visits", "x", "y", introduced_in="2", uses=("accounts.Organisation.website",)
        ),
    )
    with pytest.raises(Invalid) as not_confidential:
        publish(django_capture_on_commit_callbacks, new_uses=["site_visits"])
    assert not_confidential.value.details == [
        "site_visits: accounts.Organisation.website is not a declared confidential field"
    ]
    assert list(PolicyVersion.objects.values_list("version", flat=True)) == ["1"]
    assert PolicyNotice.objects.count() == 0
    assert mailoutbox == []


def test_publishing_an_existing_version_is_a_conflict(django_capture_on_commit_callbacks):
    """Version 1 is already published: publishing it again changes nothing."""
    with pytest.raises(Conflict):
        publish(django_capture_on_commit_callbacks, version="1")
    assert PolicyVersion.objects.count() == 1


# Refusing a new use ------------------------------------------------------------------------------


def test_refusing_a_new_use_records_it_with_the_version_and_wording_and_may_use_honours_it(
    client, make_client_user, new_use, mailoutbox, django_capture_on_commit_callbacks
):
    """GET shows the use and changes nothing; POST records a refusal (given=False) under version 2
    with the words shown; may_use is then False for that person and True for the others; a second
    POST records nothing."""
    refuser = make_client_user(email="refuser@example.com")
    other = make_client_user(email="other@example.com")
    reader = subscriber("reader@example.com")
    publish(django_capture_on_commit_callbacks, new_uses=[USE])
    assert may_use(refuser, USE) is True
    path = refusal_path(mail_to(mailoutbox, "refuser@example.com"))
    before = ledger_count()

    page = client.get(path)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Phone callbacks" in html
    assert "r***@example.com" in html
    assert "refuser@example.com" not in html
    assert page["Referrer-Policy"] == "no-referrer"
    assert ledger_count() == before

    done = client.post(path)
    assert done.status_code == 200
    assert "<h1>Refus enregistré</h1>" in done.content.decode()
    event = ConsentEvent.objects.get(purpose=USE)
    assert event.subject_type == ContentType.objects.get_for_model(refuser)
    assert event.subject_id == refuser.pk
    assert event.given is False
    assert event.policy_version.version == "2"
    assert event.tenant_id is None
    assert event.source == f"web:{path}"
    assert event.wording == str(policy_changes.refusal_wording(new_use))
    assert "Phone callbacks" in event.wording
    assert may_use(refuser, USE) is False
    assert may_use(other, USE) is True
    assert may_use(reader, USE) is True

    client.post(path)
    assert ConsentEvent.objects.filter(purpose=USE).count() == 1
    again = client.get(path)
    assert again.status_code == 200
    assert 'id="policy-refused"' in again.content.decode()


def test_a_tampered_refusal_link_answers_400_and_changes_nothing(
    client, make_client_user, new_use, mailoutbox, django_capture_on_commit_callbacks
):
    """A link whose signature does not match, or that names another purpose, is refused."""
    user = make_client_user(email="fr@example.com")
    publish(django_capture_on_commit_callbacks, new_uses=[USE])
    path = refusal_path(mailoutbox[0])
    token = path.rstrip("/").rsplit("/", 1)[1]
    tampered = reverse(
        "privacy:policy_refusal", args=[token[:-2] + ("AA" if token[-2:] != "AA" else "BB")]
    )
    notice = PolicyNotice.objects.get()
    forged = reverse(
        "privacy:policy_refusal",
        args=[policy_changes._signer().sign_object({"n": notice.token.hex, "p": "newsletter"})],
    )
    before = ledger_count()

    for bad in (tampered, forged, "/vie-privee/refus/nimportequoi/"):
        assert client.get(bad).status_code == 400
        assert client.post(bad).status_code == 400

    assert ledger_count() == before
    assert may_use(user, USE) is True


def test_a_refusal_link_of_a_person_who_is_gone_answers_404(
    client, make_client_user, new_use, mailoutbox, django_capture_on_commit_callbacks
):
    """Once the notice is gone with its person, the link leads nowhere and records nothing."""
    make_client_user(email="fr@example.com")
    publish(django_capture_on_commit_callbacks, new_uses=[USE])
    path = refusal_path(mailoutbox[0])
    PolicyNotice.objects.all().delete()
    before = ledger_count()
    assert client.post(path).status_code == 404
    assert ledger_count() == before


def test_a_client_user_sees_and_changes_the_refusal_on_their_consents_page(
    client, make_client_user, new_use, django_capture_on_commit_callbacks
):
    """/compte/consentements/ lists the new use; refusing it there records the refusal under the
    version that added it; accepting it again records that too, and may_use follows."""
    user = make_client_user(email="fr@example.com")
    publish(django_capture_on_commit_callbacks, new_uses=[USE])
    client.force_login(user)
    page = client.get(reverse("accounts:consents")).content.decode()
    assert 'id="new-use-phone_callbacks"' in page
    assert "Phone callbacks" in page

    client.post(reverse("accounts:consents"), {"purpose": USE, "given": "no"})
    client.post(reverse("accounts:consents"), {"purpose": USE, "given": "no"})
    assert list(ConsentEvent.objects.filter(purpose=USE).values_list("given", flat=True)) == [False]
    event = ConsentEvent.objects.get(purpose=USE)
    assert (event.policy_version.version, event.source) == ("2", "web:/compte/consentements/")
    assert may_use(user, USE) is False

    client.post(reverse("accounts:consents"), {"purpose": USE, "given": "yes"})
    assert may_use(user, USE) is True


def test_the_consents_page_shows_no_new_use_while_none_is_published(client, owner, new_use):
    """A use declared for a version not yet published is neither shown nor accepted."""
    client.force_login(owner)
    page = client.get(reverse("accounts:consents")).content.decode()
    assert "new-use-" not in page
    client.post(reverse("accounts:consents"), {"purpose": USE, "given": "no"})
    assert ConsentEvent.objects.filter(purpose=USE).count() == 0


# Honouring refusals --------------------------------------------------------------------------------


def test_may_use_never_assumes_a_consent_and_waits_until_the_person_was_told(
    make_client_user, new_use, django_capture_on_commit_callbacks
):
    """A consent purpose is never assumed; a new use applies only once the person was told of it
    (their notice left) and while they have not refused it."""
    user = make_client_user(email="fr@example.com")
    assert may_use(user, NEWSLETTER.code) is False
    assert may_use(user, "account") is True
    assert may_use(user, USE) is False  # version 2 is not published

    with django_capture_on_commit_callbacks(execute=False):
        do_publish_policy_version("2", "", "", "Texte.", "Text.", new_uses=[USE])
    assert may_use(user, USE) is False  # queued, not yet sent

    send_policy_notices.call(PolicyVersion.objects.get(version="2").pk)
    assert may_use(user, USE) is True


def test_the_code_that_would_use_a_confidential_field_for_the_new_use_skips_those_who_refused(
    client, make_client_user, make_member, new_use, mailoutbox, django_capture_on_commit_callbacks
):
    """organisation_values_for reads Organisation.phone for the new use only for organisations none
    of whose users refused it; a refusal by one member is honoured for the whole company."""
    refusing_owner = make_client_user(email="refuser@example.com", phone="+15145550001")
    keeping_owner = make_client_user(email="keeper@example.com", phone="+15145550002")
    member_refuses = make_client_user(email="owner3@example.com", phone="+15145550003")
    member = make_member(member_refuses.tenant, email="member3@example.com")
    member.email_confirmed_at = timezone.now()
    member.save(update_fields=["email_confirmed_at"])
    publish(django_capture_on_commit_callbacks, new_uses=[USE])

    client.post(refusal_path(mail_to(mailoutbox, "refuser@example.com")))
    client.post(refusal_path(mail_to(mailoutbox, "member3@example.com")))

    assert organisation_values_for(USE, "phone") == {keeping_owner.tenant_id: "+15145550002"}
    organisation = refusing_owner.tenant
    assert read_confidential(organisation, "phone", USE, subjects=[refusing_owner]) is None
    assert read_confidential(organisation, "phone", USE, subjects=[]) is None
    assert read_confidential(keeping_owner.tenant, "phone", USE, subjects=[keeping_owner]) == (
        "+15145550002"
    )
    with pytest.raises(ValueError):
        read_confidential(organisation, "fax", USE, subjects=[keeping_owner])


# The command and the published pages ------------------------------------------------------------


def test_the_publish_policy_command_prints_the_notices_queued(
    tmp_path, make_client_user, new_use, mailoutbox, django_capture_on_commit_callbacks
):
    """--dry-run counts and publishes nothing; the real run publishes, queues and sends."""
    make_client_user(email="fr@example.com")
    subscriber("abonne@example.com")
    (tmp_path / "fr.md").write_text("## Version 2\n\nTexte.", encoding="utf-8")
    (tmp_path / "en.md").write_text("## Version 2\n\nText.", encoding="utf-8")
    args = [
        "publish_policy",
        "--version",
        "2",
        "--body-fr",
        str(tmp_path / "fr.md"),
        "--body-en",
        str(tmp_path / "en.md"),
        "--summary-fr",
        "Résumé",
        "--summary-en",
        "Summary",
        "--new-use",
        USE,
    ]
    dry = io.StringIO()
    call_command(*args, "--dry-run", stdout=dry)
    assert dry.getvalue() == "Dry run: 2 notices would be queued for version 2.\n"
    assert PolicyVersion.objects.count() == 1
    assert mailoutbox == []

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(*args, stdout=out)
    assert out.getvalue() == "Version 2 published: 2 notices queued.\n"
    policy = PolicyVersion.objects.get(version="2")
    assert (policy.summary_fr, policy.body_en, policy.new_uses) == (
        "Résumé",
        "## Version 2\n\nText.",
        [USE],
    )
    assert len(mailoutbox) == 2

    with pytest.raises(CommandError, match="déjà publiée"):
        call_command(*args, stdout=io.StringIO())


def test_the_policy_page_and_home_page_show_the_new_version_with_links_to_earlier_ones(
    client, django_capture_on_commit_callbacks
):
    """Once version 2 is published, the policy page shows it as in force and links version 1,
    and the home page names version 2."""
    publish(django_capture_on_commit_callbacks)
    policy = client.get(reverse("privacy:policy")).content.decode()
    assert '<span id="policy-version">Version 2</span>' in policy
    assert '<a href="/politique-de-confidentialite/1/">Version 1</a>' in policy
    earlier = client.get(reverse("privacy:policy_version", args=["1"])).content.decode()
    assert '<span id="policy-version">Version 1</span>' in earlier
    home = client.get(reverse("accounts:home")).content.decode()
    assert "version 2" in home
