"""The import task: two streaming passes, exact counts and report, both modes, resume after a stop."""

import csv
import io
from datetime import date

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import (
    do_create_contact,
    do_create_list,
    do_subscribe,
    do_suppress,
    do_unsubscribe_from_list,
)
from infolettre.audience.importing import (
    check_import_file,
    do_start_import,
    run_import,
    store_upload,
)
from infolettre.audience.models import (
    ConsentBasis,
    Contact,
    ContactImport,
    ImportMode,
    ImportStatus,
    Subscription,
    SubscriptionStatus,
)

# A file as clients send them: Windows-1252, semicolons, accents, a blank line and a line of empty
# values, the same address three times, invalid values, a suppressed and an unsubscribed person.
MESSY = (
    "Courriel;Prénom;Nom;Téléphone;Âge;Membre depuis;Payant;Solde;Ville\r\n"
    "jean.tremblay@example.com;Jean;Tremblay;514 555 0123;42;2020-05-01;oui;12,50;Montréal\r\n"
    ";;;;;;;;\r\n"
    "MARIE.COTE@Example.COM ;Marie;Côté;;37;2019-11-30;non;0;Québec\r\n"
    "pas-une-adresse;Paul;Roy;;51;2018-01-15;oui;3;Laval\r\n"
    "jean.tremblay@example.com;Jean-François;Tremblay;;43;;;15;\r\n"
    "\r\n"
    "bloque@example.com;Bob;Bloqué;;29;2021-02-02;non;1;Gatineau\r\n"
    "parti@example.com;Pia;Partie;;33;2017-07-07;non;2;Sherbrooke\r\n"
    "luc@example.com;Luc;Gagné;123;45;2016-03-03;oui;4;Lévis\r\n"
    "zoé@exemple.ca;Zoé;Lévesque;;;;;;Rimouski\r\n"
    "trop@example.com;Trop;Long;;1;2020-01-01;oui;1;Laval;en trop\r\n"
    "JEAN.TREMBLAY@example.com;;;;;;;;Longueuil\r\n"
)
MESSY_MAPPING = {
    "Courriel": "email",
    "Prénom": "first_name",
    "Nom": "last_name",
    "Téléphone": "phone",
    "Âge": "attribute:age",
    "Membre depuis": "attribute:membre_depuis",
    "Payant": "attribute:payant",
    "Solde": "attribute:solde",
    "Ville": "attribute:ville",
}


@pytest.fixture(autouse=True)
def _media_of_its_own(settings, tmp_path):
    """Each test stores uploads and reports in a folder of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


def upload(text, encoding="utf-8", name="contacts.csv"):
    return SimpleUploadedFile(name, text.encode(encoding) if isinstance(text, str) else text)


def start(owner, mailing_list, text, encoding="utf-8", **options):
    """Check and store a file, then record its import as the web page and the API do."""
    uploaded = upload(text, encoding)
    checked = check_import_file(uploaded)
    values = {
        "mapping": checked.mapping,
        "mode": ImportMode.ADD_OR_UPDATE,
        "consent_basis": ConsentBasis.EXPRESS,
        "consent_source": "Store sign-up sheet",
        "consent_wording": "Yes, send me the newsletter.",
    }
    values.update(options)
    with tenant_scope(owner.tenant):
        return do_start_import(
            mailing_list,
            owner,
            stored_name=store_upload(uploaded),
            filename="contacts.csv",
            encoding=checked.encoding,
            delimiter=checked.delimiter,
            header=checked.header,
            **values,
        )


def report_rows(contact_import):
    with contact_import.report.open("rb") as f:
        text = f.read().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=contact_import.delimiter))


def contacts_of(owner):
    with tenant_scope(owner.tenant):
        return {c.email: c for c in Contact.objects.all()}


@pytest.fixture
def mailing_list(owner):
    with tenant_scope(owner.tenant):
        return do_create_list(owner.tenant, name="Clients")


@pytest.fixture
def messy_setup(owner, mailing_list):
    """The tenant has suppressed bloque@ and parti@ left this list."""
    with tenant_scope(owner.tenant):
        do_suppress(owner.tenant, "Bloque@example.com")
        parti = do_create_contact(owner.tenant, email="parti@example.com", name="Pia Avant")
        do_unsubscribe_from_list(do_subscribe(parti, mailing_list, source="form"))
    return owner, mailing_list


COUNTS = (
    "total_rows",
    "processed_rows",
    "created_count",
    "updated_count",
    "unchanged_count",
    "duplicate_count",
    "suppressed_count",
    "rejected_count",
    "unsubscribed_count",
)


def counts(contact_import):
    contact_import.refresh_from_db()
    return {name: getattr(contact_import, name) for name in COUNTS if getattr(contact_import, name)}


def subscriptions_of(mailing_list):
    with tenant_scope(mailing_list.tenant):
        return {
            s.contact.email: s
            for s in Subscription.objects.filter(mailing_list=mailing_list).select_related(
                "contact"
            )
        }


def messy_line(number):
    return MESSY.split("\r\n")[number - 1].split(";")


def test_messy_windows_file_imports_with_exact_counts_report_and_types(messy_setup):
    """Every row of a messy Windows-1252 file ends in exactly one count, and the report explains."""
    owner, mailing_list = messy_setup
    contact_import = start(owner, mailing_list, MESSY, "cp1252", mapping=MESSY_MAPPING)
    assert (contact_import.encoding, contact_import.delimiter) == ("cp1252", ";")

    run_import(contact_import.pk)

    assert counts(contact_import) == {
        "total_rows": 10,
        "processed_rows": 10,
        "created_count": 3,  # jean, marie, zoé
        "duplicate_count": 2,  # jean's second and third rows
        "suppressed_count": 1,
        "rejected_count": 3,  # not an address, a bad phone, one value too many
        "unsubscribed_count": 1,
    }
    assert contact_import.status == ImportStatus.DONE
    assert contact_import.attribute_types == {
        "age": "integer",
        "membre_depuis": "date",
        "payant": "boolean",
        "solde": "number",
        "ville": "string",
    }
    assert report_rows(contact_import) == [
        ["Ligne", "Motif", *messy_line(1)],
        ["5", "Adresse courriel non valide.", *messy_line(5)],
        [
            "8",
            "Dans la liste d’exclusion : cette adresse ne reçoit plus aucun envoi; non importée.",
            *messy_line(8),
        ],
        [
            "9",
            "Désabonné de cette liste : le contact est gardé, mais il n’est pas réabonné.",
            *messy_line(9),
        ],
        ["10", "Numéro de téléphone non valide.", *messy_line(10)],
        [
            "12",
            "Cette ligne a 10 valeurs; la première ligne nomme 9 colonnes.",
            *messy_line(12),
        ],
    ]
    contacts = contacts_of(owner)
    assert sorted(contacts) == [
        "jean.tremblay@example.com",
        "marie.cote@example.com",
        "parti@example.com",
        "zoé@exemple.ca",
    ]
    jean = contacts["jean.tremblay@example.com"]
    # The later rows of an address win where they have a value; blanks keep the earlier values.
    assert (jean.name, jean.phone) == ("Jean-François Tremblay", "+15145550123")
    assert jean.attributes == {
        "age": 43,
        "membre_depuis": "2020-05-01",
        "payant": True,
        "solde": 15.0,
        "ville": "Longueuil",
    }
    marie = contacts["marie.cote@example.com"]
    assert (marie.name, marie.phone) == ("Marie Côté", "")
    assert marie.attributes == {
        "age": 37,
        "membre_depuis": "2019-11-30",
        "payant": False,
        "solde": 0.0,
        "ville": "Québec",
    }
    assert contacts["zoé@exemple.ca"].attributes == {"ville": "Rimouski"}
    statuses = {email: s.status for email, s in subscriptions_of(mailing_list).items()}
    assert statuses == {
        "jean.tremblay@example.com": "subscribed",
        "marie.cote@example.com": "subscribed",
        "zoé@exemple.ca": "subscribed",
        "parti@example.com": "unsubscribed",
    }
    jean_subscription = subscriptions_of(mailing_list)["jean.tremblay@example.com"]
    assert (
        jean_subscription.consent_basis,
        jean_subscription.consent_source,
        jean_subscription.consent_wording,
        jean_subscription.consent_expires_at,
    ) == ("express", "Store sign-up sheet", "Yes, send me the newsletter.", None)
    # The upload is gone; the report stays.
    assert contact_import.file.name == ""
    assert default_storage.listdir("imports/")[1] == []


def test_import_started_by_the_action_runs_as_a_task_after_commit(
    owner, mailing_list, django_capture_on_commit_callbacks
):
    """do_start_import queues the task once the transaction commits; the task imports the file."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        contact_import = start(owner, mailing_list, "email,name\na@example.com,Ann\n")
    assert len(callbacks) == 1
    assert counts(contact_import) == {"total_rows": 1, "processed_rows": 1, "created_count": 1}
    assert contact_import.status == ImportStatus.DONE


@pytest.fixture
def existing(owner, mailing_list):
    """A contact already on the list with express consent, and one not on it."""
    with tenant_scope(owner.tenant):
        on_list = do_create_contact(
            owner.tenant, email="old@example.com", name="Old Name", attributes={"a": 1, "b": "x"}
        )
        do_subscribe(on_list, mailing_list, source="form", wording="Sign me up")
        elsewhere = do_create_contact(owner.tenant, email="elsewhere@example.com", name="Else")
    return on_list, elsewhere


NEW_DATA = (
    "email,name,b,c\n"
    "old@example.com,New Name,y,1\n"
    "elsewhere@example.com,,,2\n"
    "new@example.com,Newcomer,z,3\n"
)


def test_add_only_leaves_existing_contacts_and_subscriptions_as_they_are(
    owner, mailing_list, existing
):
    """Add only: new people are created; existing ones keep their data, counted unchanged."""
    contact_import = start(owner, mailing_list, NEW_DATA, mode=ImportMode.ADD_ONLY)
    run_import(contact_import.pk)

    assert counts(contact_import) == {
        "total_rows": 3,
        "processed_rows": 3,
        "created_count": 1,
        "unchanged_count": 2,
    }
    contacts = contacts_of(owner)
    assert (contacts["old@example.com"].name, contacts["old@example.com"].attributes) == (
        "Old Name",
        {"a": 1, "b": "x"},
    )
    assert contacts["elsewhere@example.com"].attributes == {}
    assert contacts["new@example.com"].attributes == {"b": "z", "c": 3}
    subscriptions = subscriptions_of(mailing_list)
    assert subscriptions["old@example.com"].consent_source == "form"
    # An existing contact who was not on the list is added to it.
    assert subscriptions["elsewhere@example.com"].status == SubscriptionStatus.SUBSCRIBED
    assert subscriptions["elsewhere@example.com"].consent_source == "Store sign-up sheet"


def test_add_or_update_merges_new_values_over_existing_contacts(owner, mailing_list, existing):
    """Add or update: values of the file replace those held, blanks keep them, attributes merge."""
    contact_import = start(owner, mailing_list, NEW_DATA)
    run_import(contact_import.pk)

    assert counts(contact_import) == {
        "total_rows": 3,
        "processed_rows": 3,
        "created_count": 1,
        "updated_count": 2,
    }
    contacts = contacts_of(owner)
    old = contacts["old@example.com"]
    assert (old.name, old.attributes) == ("New Name", {"a": 1, "b": "y", "c": 1})
    assert (
        contacts["elsewhere@example.com"].name,
        contacts["elsewhere@example.com"].attributes,
    ) == (
        "Else",
        {"c": 2},
    )
    # The express consent on file keeps its own proof.
    assert subscriptions_of(mailing_list)["old@example.com"].consent_wording == "Sign me up"


def test_importing_the_same_file_again_changes_nothing(owner, mailing_list, existing):
    """A second import of the same file finds every contact as it is: all unchanged."""
    run_import(start(owner, mailing_list, NEW_DATA).pk)
    before = {e: (c.name, c.attributes, c.updated_at) for e, c in contacts_of(owner).items()}

    again = start(owner, mailing_list, NEW_DATA)
    run_import(again.pk)

    assert counts(again) == {"total_rows": 3, "processed_rows": 3, "unchanged_count": 3}
    after = {e: (c.name, c.attributes, c.updated_at) for e, c in contacts_of(owner).items()}
    assert after == before


def test_implied_consent_of_the_file_is_recorded_with_its_lapse_date(owner, mailing_list):
    """Implied consent from a purchase: the date given, and a lapse two years later."""
    bought = date(2025, 3, 15)
    contact_import = start(
        owner,
        mailing_list,
        "email\nclient@example.com\n",
        consent_basis=ConsentBasis.IMPLIED_BUSINESS,
        consent_at=bought,
        consent_source="Purchases at the Laval store",
        consent_wording="",
    )
    run_import(contact_import.pk)

    subscription = subscriptions_of(mailing_list)["client@example.com"]
    local = timezone.localtime
    assert subscription.consent_basis == ConsentBasis.IMPLIED_BUSINESS
    assert local(subscription.consent_at).date() == bought
    assert local(subscription.consent_expires_at).date() == date(2027, 3, 15)


def test_express_consent_of_a_file_replaces_an_implied_one_but_not_the_reverse(owner, mailing_list):
    """An import's express consent upgrades an implied one; an implied import keeps an express one."""
    with tenant_scope(owner.tenant):
        implied = do_create_contact(owner.tenant, email="implied@example.com")
        do_subscribe(
            implied,
            mailing_list,
            basis=ConsentBasis.IMPLIED_INQUIRY,
            consent_at=timezone.now(),
            source="inquiry",
        )
        express = do_create_contact(owner.tenant, email="express@example.com")
        do_subscribe(express, mailing_list, source="form", wording="Yes")
    text = "email\nimplied@example.com\nexpress@example.com\n"

    run_import(start(owner, mailing_list, text).pk)
    run_import(
        start(
            owner,
            mailing_list,
            text,
            consent_basis=ConsentBasis.IMPLIED_BUSINESS,
            consent_at=timezone.localdate(),
            consent_wording="",
        ).pk
    )

    subscriptions = subscriptions_of(mailing_list)
    assert (
        subscriptions["implied@example.com"].consent_basis,
        subscriptions["implied@example.com"].consent_source,
        subscriptions["implied@example.com"].consent_expires_at,
    ) == ("express", "Store sign-up sheet", None)
    assert (
        subscriptions["express@example.com"].consent_basis,
        subscriptions["express@example.com"].consent_source,
    ) == ("express", "form")


def test_an_erased_suppressed_address_is_refused_by_its_hash(owner, mailing_list):
    """An address suppressed then erased (only its hash left) is still not imported."""
    with tenant_scope(owner.tenant):
        suppression = do_suppress(owner.tenant, "gone@example.com")
        suppression.email = ""
        suppression.save(update_fields=["email"])
    contact_import = start(owner, mailing_list, "email\nGONE@example.com\nkept@example.com\n")
    run_import(contact_import.pk)

    assert counts(contact_import) == {
        "total_rows": 2,
        "processed_rows": 2,
        "created_count": 1,
        "suppressed_count": 1,
    }
    assert sorted(contacts_of(owner)) == ["kept@example.com"]


def _numbered(count, duplicates=()):
    lines = ["email,name,rank"]
    for n in range(1, count + 1):
        lines.append(f"person{duplicates.get(n, n)}@example.com,Person {n},{n}")
    return "\n".join(lines) + "\n"


def test_duplicates_in_different_batches_are_merged_the_later_row_winning(owner, mailing_list):
    """An address met again in a later batch counts once as a duplicate; its later values win."""
    text = _numbered(7, duplicates={6: 1}) + "bad,Bad,8\n"
    contact_import = start(owner, mailing_list, text, mode=ImportMode.ADD_ONLY)
    run_import(contact_import.pk, batch_rows=2)

    assert counts(contact_import) == {
        "total_rows": 8,
        "processed_rows": 8,
        "created_count": 6,
        "duplicate_count": 1,
        "rejected_count": 1,
    }
    contacts = contacts_of(owner)
    assert (contacts["person1@example.com"].name, contacts["person1@example.com"].attributes) == (
        "Person 6",
        {"rank": 6},
    )


class Stop(Exception):
    pass


def test_an_import_stopped_mid_way_resumes_and_imports_every_row_once(owner, mailing_list):
    """A worker stopped after its first batch: run again, it imports the rest, each row once."""
    text = _numbered(10, duplicates={9: 2}).replace("person4@", "not-an-address-4@@")
    contact_import = start(owner, mailing_list, text)

    def stop_after_first_batch(rows_done):
        raise Stop

    with pytest.raises(Stop):
        run_import(contact_import.pk, batch_rows=3, after_batch=stop_after_first_batch)
    assert counts(contact_import) == {
        "total_rows": 10,
        "processed_rows": 3,
        "created_count": 3,
    }
    assert contact_import.status == ImportStatus.RUNNING
    assert len(contacts_of(owner)) == 3

    run_import(contact_import.pk, batch_rows=3)

    assert counts(contact_import) == {
        "total_rows": 10,
        "processed_rows": 10,
        "created_count": 8,
        "duplicate_count": 1,
        "rejected_count": 1,
    }
    assert contact_import.status == ImportStatus.DONE
    contacts = contacts_of(owner)
    assert sorted(contacts) == sorted(f"person{n}@example.com" for n in (1, 2, 3, 5, 6, 7, 8, 10))
    assert contacts["person2@example.com"].name == "Person 9"
    assert len(subscriptions_of(mailing_list)) == 8
    assert [row[:3] for row in report_rows(contact_import)[1:]] == [
        ["5", "Adresse courriel non valide.", "not-an-address-4@@example.com"]
    ]


def test_running_a_finished_import_again_does_nothing(owner, mailing_list):
    """The task run twice: the second run finds the import done and changes nothing."""
    contact_import = start(owner, mailing_list, "email\na@example.com\n")
    run_import(contact_import.pk)
    before = counts(contact_import), contact_import.finished_at, contact_import.report.name
    with tenant_scope(owner.tenant):
        Contact.objects.all().delete()

    run_import(contact_import.pk)

    assert (
        counts(contact_import),
        contact_import.finished_at,
        contact_import.report.name,
    ) == before
    assert contacts_of(owner) == {}


def _stored_import(owner, mailing_list, content, encoding="utf-8", delimiter=","):
    name = default_storage.save("imports/stored.csv", io.BytesIO(content))
    with tenant_scope(owner.tenant):
        return ContactImport.objects.create(
            tenant=owner.tenant,
            mailing_list=mailing_list,
            created_by=owner,
            filename="stored.csv",
            file=name,
            encoding=encoding,
            delimiter=delimiter,
            mapping={"email": "email", "n": "attribute:n"},
            consent_basis=ConsentBasis.EXPRESS,
            consent_at=timezone.now(),
            consent_source="test",
        )


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            b"email,n\n" + b"a@example.com,1\n" * 3 + b"b@example.com,\xff\xfe\n",
            "La ligne 5 contient des octets qui ne sont pas du texte UTF-8. Rien n’a été importé.",
        ),
        (
            b'email,n\na@example.com,1\nb@example.com,"2\n',
            "La ligne 3 ne peut pas être lue comme du CSV : un guillemet manque probablement ou "
            "est mal placé. Rien n’a été importé.",
        ),
        (
            b"email,n\n\n\n",
            "Ce fichier a une première ligne de noms de colonnes, mais aucune ligne à importer. "
            "Rien n’a été importé.",
        ),
    ],
)
def test_a_file_broken_after_its_first_lines_fails_whole_and_writes_nothing(
    owner, mailing_list, content, error
):
    """The validation pass reads every line first: a broken file fails with nothing written."""
    contact_import = _stored_import(owner, mailing_list, content)
    run_import(contact_import.pk)

    contact_import.refresh_from_db()
    assert (contact_import.status, contact_import.error) == (ImportStatus.FAILED, error)
    assert contact_import.processed_rows == 0
    assert contacts_of(owner) == {}
    assert subscriptions_of(mailing_list) == {}
    assert default_storage.listdir("imports/")[1] == []


PARALLEL = (
    "email,name,rank\n"
    + "".join(f"person{n}@example.com,Person {n},{n}\n" for n in range(1, 9))
    + "person2@example.com,Second name,9\n"  # batch 3: an address of batch 1
    + "not an address,Nobody,10\n"
    + "stays-out@example.com,Out,11\n"
    + "person4@example.com,,12\n"  # batch 4: blanks keep the earlier name
    + "person13@example.com,Person 13,13\n"
    + "person14@example.com,Person 14,14\n"
    + "person2@example.com,Third name,15\n"  # batch 5: the last row of an address wins
)


@pytest.fixture
def committed_list(owner):
    """A list whose tenant already has a person who left it, all committed."""
    with tenant_scope(owner.tenant):
        mailing_list = do_create_list(owner.tenant, name="Clients")
        gone = do_create_contact(owner.tenant, email="stays-out@example.com", name="Out")
        do_unsubscribe_from_list(do_subscribe(gone, mailing_list, source="form"))
    return mailing_list


def _unqueued_import(owner, mailing_list, text):
    """An import recorded without queueing it, so that the test runs it."""
    checked = check_import_file(upload(text))
    with tenant_scope(owner.tenant):
        return ContactImport.objects.create(
            tenant=owner.tenant,
            mailing_list=mailing_list,
            created_by=owner,
            filename="contacts.csv",
            file=store_upload(upload(text)),
            encoding=checked.encoding,
            delimiter=checked.delimiter,
            mapping=checked.mapping,
            consent_basis=ConsentBasis.EXPRESS,
            consent_at=timezone.now(),
            consent_source="Store sign-up sheet",
            consent_wording="Yes",
        )


PARALLEL_COUNTS = {
    "total_rows": 15,
    "processed_rows": 15,
    "created_count": 10,
    "duplicate_count": 3,
    "rejected_count": 1,
    "unsubscribed_count": 1,
}


def _check_parallel_result(owner, mailing_list, contact_import):
    assert counts(contact_import) == PARALLEL_COUNTS
    assert contact_import.status == ImportStatus.DONE
    contacts = contacts_of(owner)
    assert len(contacts) == 11
    assert (contacts["person2@example.com"].name, contacts["person2@example.com"].attributes) == (
        "Third name",
        {"rank": 15},
    )
    assert (contacts["person4@example.com"].name, contacts["person4@example.com"].attributes) == (
        "Person 4",
        {"rank": 12},
    )
    statuses = {email: s.status for email, s in subscriptions_of(mailing_list).items()}
    assert len(statuses) == 11
    assert statuses.pop("stays-out@example.com") == SubscriptionStatus.UNSUBSCRIBED
    assert set(statuses.values()) == {SubscriptionStatus.SUBSCRIBED}
    assert [row[:2] for row in report_rows(contact_import)[1:]] == [
        ["11", "Adresse courriel non valide."],
        ["12", "Désabonné de cette liste : le contact est gardé, mais il n’est pas réabonné."],
    ]


# Committed for real, so that other connections see them; the migrations' rows come back after.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_batches_committed_by_several_connections_keep_the_order_of_the_file(owner, committed_list):
    """Outside a transaction (two connections on PostgreSQL), the later rows of an address win."""
    contact_import = _unqueued_import(owner, committed_list, PARALLEL)

    run_import(contact_import.pk, batch_rows=3)

    _check_parallel_result(owner, committed_list, contact_import)


# Committed for real, so that other connections see them; the migrations' rows come back after.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_import_stopped_while_batches_are_in_flight_resumes_each_row_once(owner, committed_list):
    """Stopped after its first batch, with the next one maybe committing: rerun, each row once."""
    contact_import = _unqueued_import(owner, committed_list, PARALLEL)

    def stop(rows_done):
        raise Stop

    with pytest.raises(Stop):
        run_import(contact_import.pk, batch_rows=3, after_batch=stop)
    contact_import.refresh_from_db()
    assert contact_import.processed_rows in (3, 6)
    assert len(contacts_of(owner)) == 1 + contact_import.processed_rows

    run_import(contact_import.pk, batch_rows=3)

    _check_parallel_result(owner, committed_list, contact_import)
