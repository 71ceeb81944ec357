"""Privacy requests through the API: make one, then read its status and (for access) the file."""

from datetime import datetime

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from infolettre.accounts.authentication import client_ip
from infolettre.accounts.validation import check_email
from infolettre.errors import Invalid
from infolettre.schemas import ErrorOut, StrictSchema

from . import requests as privacy_requests
from .access import do_deliver_access_file
from .audit import SUBJECT
from .models import PrivacyRequestKind

router = Router(tags=["privacy"])
ERRORS = {400: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut}


class PrivacyRequestIn(StrictSchema):
    kind: str = PrivacyRequestKind.ACCESS
    # Optional for a caller signed in with a password or an API token: their own address.
    email: str = ""
    message: str = ""
    language: str = ""


class PrivacyRequestOut(Schema):
    id: int
    kind: str
    status: str
    received_at: datetime
    due_at: datetime
    proven: bool
    answered_at: datetime | None = None
    answer: str = ""
    # The access file, once the address is proven (access requests only).
    file: dict | None = None


def _api_user(request):
    # Only credentials sent with the call count: a browser's session cookie could be ridden by
    # another site to make a request in the person's name.
    if getattr(request, "auth_method", None) in ("basic", "token"):
        return request.user
    return None


def _out(privacy_request, actor=SUBJECT):
    proven = privacy_request.verified_at is not None
    with_file = proven and privacy_request.kind == PrivacyRequestKind.ACCESS
    return {
        "id": privacy_request.pk,
        "kind": privacy_request.kind,
        "status": privacy_request.status,
        "received_at": privacy_request.received_at,
        "due_at": privacy_request.due_at,
        "proven": proven,
        "answered_at": privacy_request.answered_at,
        "answer": privacy_request.answer,
        "file": (
            do_deliver_access_file(privacy_request, export_format="api", actor=actor)
            if with_file
            else None
        ),
    }


@router.post("/requests", auth=None, response={201: PrivacyRequestOut, 202: dict, **ERRORS})
def create_request(request, payload: PrivacyRequestIn):
    """Make a privacy request. Anonymous: a link proving the address is emailed (202, same answer
    whatever we hold). A client user with their own address: proven at once, the file included."""
    if payload.kind not in PrivacyRequestKind.values:
        raise Invalid(details=[{"field": "kind", "message": "unknown kind"}])
    user = _api_user(request)
    email = payload.email or (user.email if user else "")
    try:
        email = check_email(email)
    except Invalid as e:
        raise Invalid(details=[{"field": "email", "message": str(e.message)}]) from None
    privacy_requests.check_request_rate(client_ip(request))
    language = payload.language or ("en" if (get_language() or "").startswith("en") else "fr")
    privacy_request = privacy_requests.do_receive_request(
        kind=payload.kind,
        email=email,
        message=payload.message[:5000],
        language=language,
        user=user,
    )
    if privacy_request.verified_at is not None:
        return Status(201, _out(privacy_request, actor=user))
    return Status(
        202,
        {
            "code": "proof_sent",
            "message": _("A link was sent to the address; open it to confirm the request."),
        },
    )


@router.get("/requests/{request_id}", auth=None, response={200: PrivacyRequestOut, **ERRORS})
def get_request(request, request_id: int, token: str = ""):
    """The status of one's own request and, once proven, the access file. Authenticate with the
    signed link's token (`?token=`) or as the client user who made it; 404 for anyone else."""
    user = request.user if request.user.is_authenticated else None
    privacy_request = privacy_requests.access_own_request(request_id, user=user, token=token)
    return _out(privacy_request, actor=user or SUBJECT)
