"""Errors every app raises: a stable code for machines and a message for people, never an HTTP status.

`infolettre.api` turns them into JSON answers in one place; views turn them into form errors.
"""

from django.utils.translation import gettext_lazy as _


class InfolettreError(Exception):
    code = "error"
    message = _("Something went wrong.")

    def __init__(self, message=None, *, code=None, details=None):
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or []
        super().__init__(str(self.message))


class NotFound(InfolettreError):
    code = "not_found"
    message = _("Not found.")


class Forbidden(InfolettreError):
    code = "forbidden"
    message = _("You may not do this.")


class Unauthenticated(InfolettreError):
    code = "unauthenticated"
    message = _("Sign in, or send a password or an API token with each request.")


class Invalid(InfolettreError):
    code = "invalid"
    message = _("The request is not valid.")


class Conflict(InfolettreError):
    code = "conflict"
    message = _("This conflicts with what already exists.")


class Throttled(InfolettreError):
    code = "throttled"
    message = _("Too many attempts; wait a few minutes and try again.")
