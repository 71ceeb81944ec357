"""Public privacy request pages, the access file, and the client's page of requests about its contacts."""

import json

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from infolettre.accounts.authentication import client_ip
from infolettre.accounts.errors import InvalidLink
from infolettre.accounts.validation import check_email
from infolettre.accounts.views import client_page
from infolettre.errors import Invalid, NotFound, Throttled

from . import requests as privacy_requests
from .access import do_deliver_access_file
from .models import PrivacyRequestKind

MESSAGE_MAX_LENGTH = 5000


def _language():
    return "en" if (get_language() or "fr").startswith("en") else "fr"


def _check_request(post, fixed_kind=None):
    errors, cleaned = {}, {}
    try:
        cleaned["email"] = check_email(post.get("email", ""))
    except Invalid as e:
        errors["email"] = e.message
    kind = fixed_kind or post.get("kind", "")
    if kind not in PrivacyRequestKind.values:
        errors["kind"] = _("Choose one of the proposed answers.")
    cleaned["kind"] = kind
    message = post.get("message", "").strip()
    if len(message) > MESSAGE_MAX_LENGTH:
        errors["message"] = _("Keep it under %(count)s characters.") % {"count": MESSAGE_MAX_LENGTH}
    elif not message and kind in (PrivacyRequestKind.QUESTION, PrivacyRequestKind.COMPLAINT):
        errors["message"] = _("Tell us your question or complaint.")
    elif not message and kind == PrivacyRequestKind.CORRECTION:
        errors["message"] = _("Tell us what is wrong and what it should be.")
    cleaned["message"] = message
    return cleaned, errors


def _request_page(request, fixed_kind=None):
    template = "privacy/requests/access_form.html" if fixed_kind else "privacy/requests/form.html"
    values, errors, status = {"kind": request.GET.get("type", "")}, {}, 200
    if request.method == "POST":
        values = request.POST
        try:
            privacy_requests.check_request_rate(client_ip(request))
        except Throttled as e:
            errors, status = {"form": e.message}, 429
        else:
            cleaned, errors = _check_request(request.POST, fixed_kind)
            if not errors:
                privacy_requests.do_receive_request(
                    kind=cleaned["kind"],
                    email=cleaned["email"],
                    message=cleaned["message"],
                    language=_language(),
                )
                return redirect("privacy:request_sent")
            status = 400
    return render(
        request,
        template,
        {"values": values, "errors": errors, "kinds": PrivacyRequestKind.choices},
        status=status,
    )


def access_request(request):
    return _request_page(request, fixed_kind=PrivacyRequestKind.ACCESS)


def request_form(request):
    return _request_page(request)


def request_sent(request):
    return render(request, "privacy/requests/sent.html")


def _invalid_link(request):
    return render(
        request,
        "privacy/requests/link_invalid.html",
        {"message": InvalidLink.message},
        status=400,
    )


@never_cache
def request_confirm(request, token):
    """Opening the signed link proves the address; an access file is then compiled at once."""
    try:
        privacy_request = privacy_requests.read_proof_token(token)
    except InvalidLink:
        return _invalid_link(request)
    privacy_request = privacy_requests.do_prove_request(privacy_request)
    if privacy_request.kind == PrivacyRequestKind.ACCESS:
        return redirect("privacy:request_file", token=token)
    return render(request, "privacy/requests/proven.html", {"privacy_request": privacy_request})


def access_file_json(privacy_request):
    """The access file as a JSON download (Law 25 portability: structured, commonly used)."""
    with translation.override(privacy_request.language):
        access_file = do_deliver_access_file(privacy_request, export_format="json")
    response = HttpResponse(
        json.dumps(access_file, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = content_disposition_header(
        True, f"access-file-{privacy_request.pk}.json"
    )
    add_never_cache_headers(response)
    return response


@never_cache
def request_file(request, token):
    """The person's access file, as a page or (`?format=json`) a JSON download."""
    try:
        privacy_request = privacy_requests.read_proof_token(token)
    except InvalidLink:
        return _invalid_link(request)
    if privacy_request.kind != PrivacyRequestKind.ACCESS or privacy_request.verified_at is None:
        raise Http404
    if request.GET.get("format") == "json":
        return access_file_json(privacy_request)
    with translation.override(privacy_request.language):
        access_file = do_deliver_access_file(privacy_request, export_format="html")
        return render(
            request,
            "privacy/requests/access_file.html",
            {"privacy_request": privacy_request, "file": access_file, "token": token},
        )


# The client's page: requests about the contacts of its lists ----------------------------------


@client_page
def tenant_requests(request):
    return render(
        request,
        "privacy/requests/tenant_list.html",
        {"privacy_requests": privacy_requests.requests_about_contacts(request.tenant)},
    )


@require_POST
@client_page
def tenant_answer(request, request_id):
    """A client answers a request about its contact; only the request addressed to it alone."""
    try:
        privacy_request = privacy_requests.access_request_for_tenant(request.tenant, request_id)
    except NotFound:
        raise Http404 from None
    answer = request.POST.get("answer", "").strip()
    if privacy_request.tenant_id != request.tenant.pk:
        # The person is a contact of several clients: the privacy officer answers for all of them.
        messages.error(request, _("This request concerns other clients too; our team answers it."))
    elif not answer:
        messages.error(request, _("Write the answer first."))
    elif privacy_request.closed_at is not None:
        messages.error(request, _("This request is closed."))
    else:
        privacy_requests.do_answer_request(privacy_request, answer=answer, by=request.user)
        messages.success(request, _("The answer was sent."))
    return redirect("privacy:tenant_requests")
