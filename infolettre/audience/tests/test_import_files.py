"""Checking an upload before anything is stored: encoding, delimiter, columns, broken files, options."""

import random
from datetime import date, timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from infolettre.accounts.tenancy import tenant_scope
from infolettre.accounts.validation import check_email
from infolettre.audience.actions import do_create_list
from infolettre.audience.errors import BrokenFile
from infolettre.audience.importing import (
    FAST_EMAIL,
    check_import_file,
    check_import_options,
    store_upload,
    suggest_mapping,
    sweep_abandoned_uploads,
)
from infolettre.audience.models import ContactImport
from infolettre.errors import Invalid


@pytest.fixture(autouse=True)
def _media_of_its_own(settings, tmp_path):
    """Each test stores uploads and reports in a folder of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


def upload(content, name="contacts.csv"):
    return SimpleUploadedFile(name, content)


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        ("email,nom\nzoé@example.com,Zoé\n".encode(), "utf-8", ","),
        ("\ufeffCourriel;Nom\nann@example.com;Côté\n".encode(), "utf-8-sig", ";"),
        ("courriel\tnom\nann@example.com\tCôté\n".encode("cp1252"), "cp1252", "\t"),
        (
            b"email|name|city\nann@example.com|Ann|Laval\nbob@example.com|Bob|Qu\xe9bec\n",
            "cp1252",
            "|",
        ),
        (b"email\nann@example.com\n", "utf-8", ","),
    ],
)
def test_encoding_and_delimiter_are_recognised(content, encoding, delimiter):
    """UTF-8 with or without its mark, else Windows-1252; comma, semicolon, tab or vertical bar."""
    checked = check_import_file(upload(content))
    assert (checked.encoding, checked.delimiter) == (encoding, delimiter)


def test_windows_1252_is_recognised_from_a_byte_far_into_the_file():
    """A file plain ASCII for its first megabytes and accented further on is read as Windows-1252."""
    content = b"email,city\n" + b"a@example.com,Laval\n" * 200_000 + b"b@example.com,L\xe9vis\n"
    assert check_import_file(upload(content)).encoding == "cp1252"


def test_the_check_gives_the_header_the_first_rows_and_a_mapping():
    """Header and first five rows as read, blank lines skipped, values kept as they are."""
    content = "Courriel;Nom;Âge\n\n" + "".join(f"p{n}@example.com; P {n} ;{n}\n" for n in range(9))
    checked = check_import_file(upload(content.encode()))
    assert checked.header == ["Courriel", "Nom", "Âge"]
    assert checked.rows == [[f"p{n}@example.com", f" P {n} ", str(n)] for n in range(5)]
    assert checked.mapping == {"Courriel": "email", "Nom": "name", "Âge": "attribute:age"}


@pytest.mark.parametrize(
    ("header", "mapping"),
    [
        (
            ["E-mail", "Prénom", "Nom", "Téléphone", "Ville"],
            {
                "E-mail": "email",
                "Prénom": "first_name",
                "Nom": "last_name",
                "Téléphone": "phone",
                "Ville": "attribute:ville",
            },
        ),
        (
            ["Adresse courriel", "Prénom et nom", "Cellulaire", "Prénom"],
            {
                "Adresse courriel": "email",
                "Prénom et nom": "name",
                "Cellulaire": "phone",
                "Prénom": "attribute:prenom",
            },
        ),
        (
            ["email", "First name", "Last name", "Mobile", "Member since", "Member-since"],
            {
                "email": "email",
                "First name": "first_name",
                "Last name": "last_name",
                "Mobile": "phone",
                "Member since": "attribute:member_since",
                "Member-since": "attribute:member_since_2",
            },
        ),
        (
            ["Courriel", "Email", "", "###"],
            {"Courriel": "email", "Email": "attribute:email", "###": "attribute:column_4"},
        ),
    ],
)
def test_suggested_mapping_reads_french_and_english_column_names(header, mapping):
    """Usual names of the address, name, phone columns; every other column is an attribute."""
    assert suggest_mapping(header) == mapping


def test_the_address_column_is_found_by_its_values_when_its_name_says_nothing():
    """A column named anything whose values are all addresses is suggested as the address."""
    content = b"Client,Contact\nAnn,ann@example.com\nBob,BOB@Example.com\n"
    assert check_import_file(upload(content)).mapping == {
        "Client": "attribute:client",
        "Contact": "email",
    }


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (
            b"email:name\nann@example.com:Ann\n",
            "no_email_column",
            "Aucune colonne de ce fichier ne contient d’adresses courriel. Sa première ligne se "
            "lit comme ces colonnes : « email:name ». Nommez la colonne des adresses « email » "
            "ou « courriel », et séparez les colonnes par des virgules, des points-virgules, des "
            "tabulations ou des barres verticales.",
        ),
        (
            b"nom;ville\nAnn;Laval\n",
            "no_email_column",
            "Aucune colonne de ce fichier ne contient d’adresses courriel. Sa première ligne se "
            "lit comme ces colonnes : « nom », « ville ». Nommez la colonne des adresses « email » "
            "ou « courriel », et séparez les colonnes par des virgules, des points-virgules, des "
            "tabulations ou des barres verticales.",
        ),
        (
            b"email,name\nann@example.com,A\x00nn\n",
            "binary_file",
            "Ce fichier n’est pas du texte : ce ne peut pas être un fichier CSV.",
        ),
        (
            b"PK\x03\x04\x14\x00\x06\x00xl/workbook.xml",
            "binary_file",
            "Ceci est un classeur de tableur, pas un fichier CSV; enregistrez-le de nouveau en "
            "« CSV UTF-8 ».",
        ),
        (
            "email,name\nann@example.com,Ann\n".encode("utf-16"),
            "binary_file",
            "Ce fichier est enregistré en texte UTF-16; enregistrez-le de nouveau en « CSV UTF-8 ».",
        ),
        (b"", "empty_file", "Ce fichier est vide."),
        (b" \r\n\r\n  \n", "empty_file", "Ce fichier est vide."),
        (
            b"email,name\n\n",
            "no_rows",
            "Ce fichier a une première ligne de noms de colonnes, mais aucune ligne à importer.",
        ),
        (
            b"email,name\nann@example.com,Ann\nbob@example.com,B\x81\xc3ob\nzed@example.com,Z\n",
            "undecodable_file",
            "La ligne 3 contient des caractères qui ne sont ni de l’UTF-8 ni du Windows-1252; "
            "enregistrez de nouveau le fichier en « CSV UTF-8 ».",
        ),
        (
            b"email,name,email\nann@example.com,Ann,ann@example.com\n",
            "duplicate_columns",
            "Deux colonnes portent le même nom, « email »; renommez l’une d’elles.",
        ),
        (
            b'email,name\nann@example.com,"Ann\n',
            "unreadable_file",
            "La ligne 2 ne peut pas être lue comme du CSV : un guillemet manque probablement ou "
            "est mal placé.",
        ),
    ],
)
def test_a_broken_file_is_refused_with_a_precise_message(content, code, message):
    """Each kind of broken file is refused with its own code and message."""
    with pytest.raises(BrokenFile) as refused:
        check_import_file(upload(content))
    assert (refused.value.code, str(refused.value.message)) == (code, message)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(settings):
    """IMPORT_MAX_BYTES bounds the upload; the message gives the limit in megabytes."""
    settings.IMPORT_MAX_BYTES = 2 * 1024 * 1024
    with pytest.raises(BrokenFile) as refused:
        check_import_file(upload(b"email\n" + b"a@example.com\n" * 200_000))
    assert (refused.value.code, str(refused.value.message)) == (
        "file_too_large",
        "Ce fichier dépasse 2 Mo; divisez-le en fichiers plus petits.",
    )


HEADER = ["Courriel", "Nom", "Âge"]
EXPRESS = {
    "consent_basis": "express",
    "consent_source": "Sign-up sheet",
    "consent_wording": "Yes, send me the newsletter.",
}


def _refusals(**options):
    values = {"mapping": {"Courriel": "email"}, "mode": "add_or_update", **EXPRESS, **options}
    with pytest.raises(Invalid) as refused:
        check_import_options(HEADER, **values)
    return [(d["field"], str(d["message"])) for d in refused.value.details]


def test_options_fill_the_columns_left_out_of_the_mapping_as_ignored():
    """Columns the mapping leaves out are ignored; the consent date is today for express consent."""
    options = check_import_options(
        HEADER, mapping={"Courriel": "email", "Âge": "attribute:age"}, mode="add_only", **EXPRESS
    )
    assert options["mapping"] == {"Courriel": "email", "Nom": "", "Âge": "attribute:age"}
    assert options["consent_expires_at"] is None
    assert timezone.now() - options["consent_at"] < timedelta(seconds=5)


def test_options_refuse_a_mapping_without_address_or_with_unknown_targets_and_columns():
    """No address column, an unknown target, a column not in the file, a key used twice."""
    assert _refusals(
        mapping={
            "Courriel": "attribute:age",
            "Nom": "prénom",
            "Âge": "attribute:age",
            "Ville": "name",
        }
    ) == [
        ("mapping", "Le fichier n’a pas de colonne « Ville »."),
        (
            "mapping",
            "« prénom » n’est pas une chose qu’une colonne peut contenir (colonne « Nom »).",
        ),
        ("mapping", "Deux colonnes rempliraient le même attribut « age »."),
        ("mapping", "Choisissez la colonne qui contient les adresses courriel."),
    ]
    assert _refusals(mapping={"Courriel": "email", "Nom": "email"}) == [
        ("mapping", "Une seule colonne peut contenir « email »."),
    ]
    assert _refusals(mapping={"Courriel": "email", "Nom": "attribute:Mon nom"}) == [
        (
            "mapping",
            "« Mon nom » ne peut pas nommer un attribut : utilisez de 1 à 64 caractères parmi "
            "a-z, 0-9 et _.",
        ),
    ]


def test_options_refuse_an_implied_consent_that_has_already_lapsed():
    """An inquiry seven months old gives no consent left: nothing could be sent, so it is refused."""
    long_ago = timezone.localdate() - timedelta(days=214)
    refusals = _refusals(consent_basis="implied_inquiry", consent_at=long_ago, consent_wording="")
    assert [field for field, _ in refusals] == ["consent_at"]


def test_options_ask_for_the_words_of_an_express_consent_and_a_valid_mode():
    """Express consent needs the words shown; the mode must be one of the two."""
    assert _refusals(consent_wording=" ", mode="replace") == [
        ("mode", "Choisissez comment traiter les contacts existants."),
        (
            "consent_wording",
            "Donnez les mots auxquels les personnes ont consenti, comme preuve de leur "
            "consentement.",
        ),
    ]


def test_options_accept_an_implied_consent_still_current_and_compute_its_lapse():
    """A purchase a year ago: implied consent lapses two years after it."""
    bought = timezone.localdate() - timedelta(days=365)
    options = check_import_options(
        HEADER,
        mapping={"Courriel": "email"},
        mode="add_only",
        consent_basis="implied_business",
        consent_at=bought,
        consent_source="Invoices",
    )
    assert timezone.localtime(options["consent_at"]).date() == bought
    assert timezone.localtime(options["consent_expires_at"]).date() == date(
        bought.year + 2, bought.month, bought.day
    )


# The fast path for addresses must accept only what email-validator accepts, normalised the same.
TRICKY = [
    "ann@example.com",
    " Ann.Roy@Example.COM ",
    "a+tag@sub.example.co.uk",
    "x_y%z-w@a-b.example",
    "1@2.ca",
    "a@b.c",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@-example.com",
    "a@example-.com",
    "a@example..com",
    "a@example.c0m",
    "a@example.123",
    "a@localhost",
    "a@host.local",
    "a@printer.home.arpa",
    "a@site.test",
    "a@x.invalid",
    "a@hidden.onion",
    "a@xn--80ak6aa92e.com",
    "a@ab--cd.com",
    "a@xn--p1ai",
    '"a b"@example.com',
    '"ann"@example.com',
    "zoé@exemple.ca",
    "ann@exémple.ca",
    "ann@example.com.",
    "ann@[127.0.0.1]",
    "Ann <ann@example.com>",
    "ann@@example.com",
    "ann",
    "@example.com",
    "ann@",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a@" + ".".join(["b" * 60] * 4) + ".com",
    "a!#$&'*/=?^`{|}~@example.com",
    "a b@example.com",
    "a@exa mple.com",
    "a@example.com\n",
    "a@EXAMPLE.COM",
    "a@example.museum",
    "a@example.xn--vermgensberatung-pwb",
]


def _fast(value):
    email = value.strip().lower()
    return len(email) <= 254 and bool(FAST_EMAIL.fullmatch(email))


def _validator(value):
    try:
        return check_email(value)
    except Invalid:
        return None


@pytest.mark.parametrize("address", TRICKY)
def test_fast_address_check_accepts_only_what_email_validator_accepts(address):
    """Whatever the fast path accepts, email-validator accepts too and normalises the same way."""
    if _fast(address):
        assert _validator(address) == address.strip().lower()


def test_fast_address_check_agrees_with_email_validator_on_random_addresses():
    """Thousands of generated near-addresses: none accepted by the fast path alone."""
    pick = random.Random(20261125)
    alphabet = "abcXYZ019._%+-'!~ é@"
    labels = ["example", "a", "b-c", "x--y", "xn--p1ai", "123", "local", "test", "co", "é"]
    fast_accepted = 0
    for _ in range(20000):
        local = "".join(pick.choice(alphabet) for _ in range(pick.randint(0, 8)))
        domain = ".".join(pick.choice(labels) for _ in range(pick.randint(1, 3)))
        address = f"{local}@{domain}"
        if _fast(address):
            fast_accepted += 1
            assert _validator(address) == address.strip().lower(), address
    assert fast_accepted > 300


def test_uploads_nobody_confirmed_are_deleted_after_a_day(owner):
    """A preview never confirmed leaves its upload for a day at most; an import's upload stays."""
    abandoned = store_upload(upload(b"email\nann@example.com\n"))
    in_use = store_upload(upload(b"email\nbob@example.com\n"))
    with tenant_scope(owner.tenant):
        ContactImport.objects.create(
            tenant=owner.tenant,
            mailing_list=do_create_list(owner.tenant, name="Clients"),
            filename="b.csv",
            file=in_use,
            consent_basis="express",
            consent_at=timezone.now(),
        )

    sweep_abandoned_uploads(now=timezone.now() + timedelta(hours=23))
    assert (default_storage.exists(abandoned), default_storage.exists(in_use)) == (True, True)

    sweep_abandoned_uploads(now=timezone.now() + timedelta(hours=25))
    assert (default_storage.exists(abandoned), default_storage.exists(in_use)) == (False, True)
    default_storage.delete(in_use)
