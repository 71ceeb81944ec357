from django.utils.translation import gettext_lazy as _

from infolettre.errors import Conflict, Forbidden, Invalid, Throttled, Unauthenticated


class EmailTaken(Conflict):
    code = "email_taken"
    message = _("An account already uses this address.")


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    message = _("The address or the password is wrong.")


class SignInThrottled(Throttled):
    code = "sign_in_throttled"
    message = _("Too many failed sign-in attempts: wait 15 minutes, or reset your password.")


class InvalidLink(Invalid):
    code = "invalid_link"
    message = _("This link is invalid or has expired.")


class AccountNotConfirmed(Forbidden):
    code = "account_not_confirmed"
    message = _("Confirm your address from the welcome message before sending anything.")


class OwnerRequired(Forbidden):
    code = "owner_required"
    message = _("Only an owner of the organisation may do this.")


class LastOwner(Conflict):
    code = "last_owner"
    message = _("An organisation keeps at least one owner.")


class AlreadyMember(Conflict):
    code = "already_member"
    message = _("This person already has an account.")


class InvitationPending(Conflict):
    code = "invitation_pending"
    message = _("An invitation to this address is already waiting.")
