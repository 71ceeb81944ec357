"""The operator can give one client its own transport and sending rate."""

import pytest
from django.core.management import CommandError, call_command

from infolettre.accounts.tenancy import tenant_scope
from infolettre.audience.actions import do_create_contact, do_create_list, do_subscribe
from infolettre.campaigns.actions import do_launch_campaign
from infolettre.campaigns.models import Campaign, SenderAddress, SendingProfile
from infolettre.campaigns.pipeline import transport_for


def test_a_clients_campaigns_leave_by_the_transport_chosen_for_it(
    owner, settings, smtp_server, django_capture_on_commit_callbacks
):
    """With the default transport down, the client's own transport delivers its campaign."""
    settings.CAMPAIGN_TRANSPORT_URL = "smtp://127.0.0.1:1"
    settings.CAMPAIGN_TRANSPORTS = {"dedicated": smtp_server.url}
    call_command(
        "set_sending_profile", str(owner.tenant_id), "--transport", "dedicated", "--rate", "50"
    )
    with tenant_scope(owner.tenant):
        news = do_create_list(owner.tenant, name="News")
        do_subscribe(do_create_contact(owner.tenant, email="a@example.com"), news, source="test")
        sender = SenderAddress.objects.create(
            tenant=owner.tenant, email="n@example.com", name="N", verified_at=owner.date_joined
        )
        campaign = Campaign.objects.create(
            tenant=owner.tenant, name="C", subject="Hi", sender=sender, html="<p>Hi</p>"
        )
        campaign.lists.add(news)
        with django_capture_on_commit_callbacks(execute=True):
            do_launch_campaign(campaign)
    assert [rcpts for _, rcpts, _ in smtp_server.messages] == [["a@example.com"]]
    profile = SendingProfile.unscoped.get(tenant=owner.tenant)
    assert (profile.transport, profile.rate_per_second) == ("dedicated", 50)


def test_other_clients_keep_the_default_transport(owner, make_client_user, settings):
    settings.CAMPAIGN_TRANSPORTS = {"dedicated": "smtp://127.0.0.1:2600"}
    call_command("set_sending_profile", str(owner.tenant_id), "--transport", "dedicated")
    other = make_client_user()
    assert transport_for(Campaign(tenant_id=owner.tenant_id)).port == 2600
    assert transport_for(Campaign(tenant_id=other.tenant_id)).port == 1025


def test_an_unknown_transport_or_organisation_is_refused_and_nothing_saved(owner, settings):
    settings.CAMPAIGN_TRANSPORTS = {"dedicated": "smtp://127.0.0.1:2600"}
    with pytest.raises(CommandError, match="Unknown transport 'other'"):
        call_command("set_sending_profile", str(owner.tenant_id), "--transport", "other")
    with pytest.raises(CommandError, match="No organisation has the id 999999"):
        call_command("set_sending_profile", "999999", "--rate", "5")
    assert SendingProfile.unscoped.count() == 0
