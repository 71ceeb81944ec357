from ninja import Router

from infolettre.accounts.api_auth import CLIENT_AUTH

router = Router(auth=CLIENT_AUTH, tags=["campaigns"])
