from django.utils.translation import gettext_lazy as _

from infolettre.errors import Conflict, Forbidden, Invalid


class ListNameTaken(Conflict):
    code = "list_name_taken"
    message = _("Another list already has this name.")


class ContactExists(Conflict):
    code = "contact_exists"
    message = _("A contact already has this address.")


class AddressSuppressed(Conflict):
    code = "address_suppressed"
    message = _("This address is on your suppression list: it will not be mailed again.")


class SignupClosed(Forbidden):
    code = "signup_closed"
    message = _("This list does not take sign-ups from a public form.")


class BrokenFile(Invalid):
    code = "broken_file"
    message = _("This file cannot be imported.")


class InvalidSegment(Invalid):
    code = "invalid_segment"
    message = _("These conditions are not valid.")
