"""Read EMAIL_URL into a Django mailer: smtp://, smtp+tls:// (STARTTLS), smtps:// (TLS), console://."""

from urllib.parse import unquote, urlsplit

BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtp+tls": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}


def mailer_from_url(url):
    parts = urlsplit(url)
    if parts.scheme not in BACKENDS:
        raise ValueError(
            f"EMAIL_URL scheme must be one of {', '.join(BACKENDS)}, not {parts.scheme!r}."
        )
    mailer = {"BACKEND": BACKENDS[parts.scheme]}
    if parts.scheme.startswith("smtp"):
        mailer["OPTIONS"] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port,
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "use_tls": parts.scheme == "smtp+tls",
            "use_ssl": parts.scheme == "smtps",
            "timeout": 30,
        }
    return mailer
