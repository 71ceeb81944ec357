from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "infolettre.privacy"
    verbose_name = _("Privacy")

    def ready(self):
        from . import checks  # noqa: F401
        from .encryption import keyring

        # A malformed FIELD_ENCRYPTION_KEYS stops every process as it starts, the web server (which
        # runs no system checks) included, rather than at the first confidential value.
        keyring()
