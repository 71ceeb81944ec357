from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from infolettre.accounts.models import Organisation
from infolettre.accounts.tenancy import tenant_scope
from infolettre.campaigns.models import SendingProfile


class Command(BaseCommand):
    help = (
        "Choose the transport (a name from CAMPAIGN_TRANSPORTS) and the sending rate of one client."
    )

    def add_arguments(self, parser):
        parser.add_argument("organisation_id", type=int)
        parser.add_argument(
            "--transport", help="a name from CAMPAIGN_TRANSPORTS; an empty string for the default"
        )
        parser.add_argument(
            "--rate", type=int, help="messages per second; 0 for the deployment's default"
        )

    def handle(self, organisation_id, transport=None, rate=None, **options):
        organisation = Organisation.objects.filter(pk=organisation_id).first()
        if organisation is None:
            raise CommandError(f"No organisation has the id {organisation_id}.")
        if transport and transport not in settings.CAMPAIGN_TRANSPORTS:
            known = ", ".join(sorted(settings.CAMPAIGN_TRANSPORTS)) or "none is configured"
            raise CommandError(
                f"Unknown transport {transport!r}: CAMPAIGN_TRANSPORTS names {known}."
            )
        if rate is not None and rate < 0:
            raise CommandError("The rate cannot be negative.")
        with tenant_scope(organisation):
            profile = SendingProfile.objects.filter(tenant=organisation).first() or SendingProfile(
                tenant=organisation
            )
            if transport is not None:
                profile.transport = transport
            if rate is not None:
                profile.rate_per_second = rate
            profile.save()
        self.stdout.write(
            f"Organisation {organisation_id}: transport {profile.transport or '(default)'}, "
            f"{profile.rate_per_second or 'default'} messages per second."
        )
