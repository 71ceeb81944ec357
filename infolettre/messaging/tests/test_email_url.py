"""EMAIL_URL points mail at any SMTP server or provider."""

import pytest

from infolettre.settings.mail import mailer_from_url

SMTP = "django.core.mail.backends.smtp.EmailBackend"


def test_plain_smtp_with_host_and_port():
    assert mailer_from_url("smtp://127.0.0.1:2525") == {
        "BACKEND": SMTP,
        "OPTIONS": {
            "host": "127.0.0.1",
            "port": 2525,
            "username": None,
            "password": None,
            "use_tls": False,
            "use_ssl": False,
            "timeout": 30,
        },
    }


def test_starttls_and_tls_with_credentials():
    starttls = mailer_from_url("smtp+tls://user%40example.com:p%40ss@mail.example.com:587")[
        "OPTIONS"
    ]
    assert (
        starttls["username"],
        starttls["password"],
        starttls["use_tls"],
        starttls["use_ssl"],
    ) == (
        "user@example.com",
        "p@ss",
        True,
        False,
    )
    tls = mailer_from_url("smtps://mail.example.com:465")["OPTIONS"]
    assert (tls["use_tls"], tls["use_ssl"], tls["port"]) == (False, True, 465)


def test_an_unknown_scheme_is_refused_with_the_accepted_ones():
    with pytest.raises(ValueError, match="smtp, smtp\\+tls, smtps, console, locmem"):
        mailer_from_url("pigeon://coop")
