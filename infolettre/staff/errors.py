from django.utils.translation import gettext_lazy as _

from infolettre.errors import Forbidden, Invalid


class WrongCode(Invalid):
    code = "wrong_code"
    message = _("This code is wrong or has expired; enter the code your app shows now.")


class ReasonRequired(Invalid):
    code = "reason_required"
    message = _("Say why you need to see this value.")


class ResetReasonRequired(Invalid):
    code = "reset_reason_required"
    message = _("Say why this staff member's second factor is reset.")


class OwnSecondFactorReset(Forbidden):
    code = "own_second_factor_reset"
    message = _("Another administrator must reset your own second factor.")
