from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """What happened: the daily campaign activity report."""

    name = "infolettre.analytics"
    verbose_name = _("Activity reports")
