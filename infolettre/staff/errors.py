from django.utils.translation import gettext_lazy as _

from infolettre.errors import Invalid


class WrongCode(Invalid):
    code = "wrong_code"
    message = _("This code is wrong or has expired; enter the code your app shows now.")


class ReasonRequired(Invalid):
    code = "reason_required"
    message = _("Say why you need to see this value.")
