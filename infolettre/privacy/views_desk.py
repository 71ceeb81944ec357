"""The privacy officer's desk: every privacy request with its due date, and the incident register."""

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from infolettre.accounts.models import StaffRole
from infolettre.errors import InfolettreError, Invalid
from infolettre.staff.access import staff_page

from . import incidents as register
from . import requests as privacy_requests
from .models import ConfidentialityIncident, PrivacyRequest, PrivacyRequestKind

SOON = timedelta(days=7)


def privacy_officer_page(view):
    """Let in only staff with the privacy officer role, through the staff gate.

    The gate (infolettre.staff.access) answers 404 outside the office networks and to client users
    (the operator's staff pages are none of a client's business), sends anonymous visitors to sign
    in and staff to their second factor. Staff with another role get 403: they know the desk
    exists, and are told plainly that their role does not open it.
    """
    return staff_page(StaffRole.PRIVACY_OFFICER)(view)


def _row(privacy_request, now):
    open_ = privacy_request.closed_at is None
    return {
        "item": privacy_request,
        # No answer within the time limit counts as a refusal: overdue is red.
        "overdue": open_ and privacy_request.due_at < now,
        "due_soon": open_ and now <= privacy_request.due_at < now + SOON,
        "can_extend": open_
        and privacy_request.verified_at is not None
        and privacy_request.extended_at is None
        and now < privacy_request.due_at,
    }


@privacy_officer_page
def desk(request):
    now = timezone.now()
    shown = request.GET.get("show", "open")
    rows = PrivacyRequest.objects.select_related("owner", "tenant")
    if shown != "all":
        rows = rows.filter(closed_at__isnull=True)
    rows = rows.order_by("closed_at", "due_at", "id")
    return render(
        request,
        "privacy/desk/requests.html",
        {"rows": [_row(r, now) for r in rows], "shown": shown},
    )


def _desk_request(request_id):
    privacy_request = PrivacyRequest.objects.select_related("owner", "tenant").filter(pk=request_id)
    if not privacy_request:
        raise Http404
    return privacy_request[0]


@privacy_officer_page
def desk_request(request, request_id):
    privacy_request = _desk_request(request_id)
    return render(
        request,
        "privacy/desk/request_detail.html",
        {
            **_row(privacy_request, timezone.now()),
            "is_correction": privacy_request.kind == PrivacyRequestKind.CORRECTION,
            "is_erasure": privacy_request.kind == PrivacyRequestKind.ERASURE,
            "categories": privacy_requests.correctable_categories(),
        },
    )


def _act(request, privacy_request, action, success):
    try:
        action()
    except InfolettreError as e:
        messages.error(request, str(e.message))
    else:
        messages.success(request, success)
    return redirect("privacy:desk_request", request_id=privacy_request.pk)


@require_POST
@privacy_officer_page
def desk_assign(request, request_id):
    privacy_request = _desk_request(request_id)
    return _act(
        request,
        privacy_request,
        lambda: privacy_requests.do_assign_request(privacy_request, request.user),
        _("The request is yours."),
    )


@require_POST
@privacy_officer_page
def desk_extend(request, request_id):
    privacy_request = _desk_request(request_id)
    notice = request.POST.get("notice", "").strip()
    if not notice:
        messages.error(request, _("Write the notice the person will receive."))
        return redirect("privacy:desk_request", request_id=privacy_request.pk)
    return _act(
        request,
        privacy_request,
        lambda: privacy_requests.do_extend_request(privacy_request, notice=notice, by=request.user),
        _("The request is extended by 30 days; the notice was sent."),
    )


@require_POST
@privacy_officer_page
def desk_answer(request, request_id):
    privacy_request = _desk_request(request_id)
    answer = request.POST.get("answer", "").strip()
    refused = request.POST.get("outcome") == "refused"
    if not answer:
        messages.error(
            request,
            _("Write the reasons for the refusal.") if refused else _("Write the answer first."),
        )
        return redirect("privacy:desk_request", request_id=privacy_request.pk)
    return _act(
        request,
        privacy_request,
        lambda: privacy_requests.do_answer_request(
            privacy_request,
            answer=answer,
            by=request.user,
            refused=refused,
            correction_done=request.POST.get("correction_done", "").strip(),
            corrected_categories=[
                code
                for code in request.POST.getlist("corrected")
                if code in dict(privacy_requests.correctable_categories())
            ],
        ),
        _("The answer was sent and the request closed."),
    )


@require_POST
@privacy_officer_page
def desk_erase(request, request_id):
    """Erase now: the answer is mailed, then the person is erased everywhere; the request stays as
    proof, closed with its answer, without the address."""
    privacy_request = _desk_request(request_id)
    answer = request.POST.get("answer", "").strip()
    if not answer:
        messages.error(request, _("Write the answer first."))
        return redirect("privacy:desk_request", request_id=privacy_request.pk)
    return _act(
        request,
        privacy_request,
        lambda: privacy_requests.do_erase_for_request(
            privacy_request, answer=answer, by=request.user
        ),
        _("The answer was sent, then the person was erased everywhere; the request is closed."),
    )


# Incident register ------------------------------------------------------------------------------


@privacy_officer_page
def incidents(request):
    return render(
        request,
        "privacy/desk/incidents.html",
        {"incidents": ConfidentialityIncident.objects.all()},
    )


def _incident_fields(values, errors):
    specs = [
        ("title", "text"),
        ("data_involved", "textarea"),
        ("circumstances", "textarea"),
        ("occurred_on", "date"),
        ("discovered_on", "date"),
        ("people_affected", "number"),
        ("serious_injury_risk", "yesno"),
        ("risk_assessment", "textarea"),
        ("regulator_notified_on", "date"),
        ("people_notified_on", "date"),
        ("measures", "textarea"),
    ]
    return [
        {
            "name": name,
            "label": capfirst(ConfidentialityIncident._meta.get_field(name).verbose_name),
            "kind": kind,
            "value": values.get(name, "") if values.get(name) is not None else "",
            "error": errors.get(name, ""),
        }
        for name, kind in specs
    ]


def _incident_values(incident):
    values = {name: getattr(incident, name) for name in register.EXPORT_FIELDS}
    for name in register.DATE_FIELDS:
        values[name] = values[name].isoformat() if values[name] else ""
    values["serious_injury_risk"] = "yes" if incident.serious_injury_risk else "no"
    return values


def _incident_form(request, incident=None):
    status, errors = 200, {}
    values = _incident_values(incident) if incident else {}
    if request.method == "POST":
        values = request.POST
        try:
            cleaned = register.check_incident(request.POST)
        except Invalid as e:
            errors = {p["field"]: p["message"] for p in e.details}
            status = 400
        else:
            if incident is None:
                incident = register.do_record_incident(cleaned, by=request.user)
            else:
                register.do_update_incident(incident, cleaned, by=request.user)
            messages.success(request, _("The incident is recorded in the register."))
            return redirect("privacy:incidents")
    return render(
        request,
        "privacy/desk/incident_form.html",
        {"incident": incident, "fields": _incident_fields(values, errors)},
        status=status,
    )


@privacy_officer_page
def incident_new(request):
    return _incident_form(request)


@privacy_officer_page
def incident_edit(request, incident_id):
    incident = ConfidentialityIncident.objects.filter(pk=incident_id).first()
    if incident is None:
        raise Http404
    return _incident_form(request, incident)


def _download(content, content_type, filename):
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    add_never_cache_headers(response)
    return response


@privacy_officer_page
def incidents_csv(request):
    return _download(
        register.do_export_register(request.user, "csv"),
        "text/csv; charset=utf-8",
        "incident-register.csv",
    )


@privacy_officer_page
def incidents_json(request):
    return _download(
        register.do_export_register(request.user, "json"),
        "application/json; charset=utf-8",
        "incident-register.json",
    )
