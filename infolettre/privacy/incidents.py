"""The confidentiality incident register (Law 25): every incident, minor ones included, kept.

There is no deletion: the register must be kept (at least 5 years) and shown to the regulator on
request. It describes incidents by kind and count; it must not name the people affected.
"""

import io
import json
import logging
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from infolettre.errors import Invalid

from . import csv_safe
from .audit import AuditAction, do_record_audit
from .models import ConfidentialityIncident

logger = logging.getLogger(__name__)

TEXT_FIELDS = ("title", "data_involved", "circumstances", "risk_assessment", "measures")
REQUIRED_TEXT = ("title", "data_involved", "circumstances", "risk_assessment")
DATE_FIELDS = ("occurred_on", "discovered_on", "regulator_notified_on", "people_notified_on")
REQUIRED_DATES = ("occurred_on", "discovered_on")
EXPORT_FIELDS = (
    "id",
    "title",
    "data_involved",
    "circumstances",
    "occurred_on",
    "discovered_on",
    "people_affected",
    "serious_injury_risk",
    "risk_assessment",
    "regulator_notified_on",
    "people_notified_on",
    "measures",
    "recorded_at",
    "updated_at",
)


def check_incident(data):
    """Return the cleaned values of an incident form; Invalid with details per field otherwise."""
    cleaned, problems = {}, []
    for name in TEXT_FIELDS:
        value = str(data.get(name, "")).strip()
        if name == "title" and len(value) > 200:
            problems.append({"field": name, "message": _("Keep it under 200 characters.")})
        if not value and name in REQUIRED_TEXT:
            problems.append({"field": name, "message": _("This field is required.")})
        cleaned[name] = value
    for name in DATE_FIELDS:
        value = str(data.get(name, "")).strip()
        if not value:
            if name in REQUIRED_DATES:
                problems.append({"field": name, "message": _("This field is required.")})
            cleaned[name] = None
            continue
        try:
            cleaned[name] = date.fromisoformat(value)
        except ValueError:
            problems.append({"field": name, "message": _("Enter a date as YYYY-MM-DD.")})
    try:
        cleaned["people_affected"] = int(str(data.get("people_affected", "")).strip())
        if cleaned["people_affected"] < 0:
            raise ValueError
    except ValueError:
        problems.append(
            {"field": "people_affected", "message": _("Enter a number (0 when unknown yet).")}
        )
    risk = str(data.get("serious_injury_risk", ""))
    if risk not in ("yes", "no"):
        problems.append({"field": "serious_injury_risk", "message": _("Answer yes or no.")})
    cleaned["serious_injury_risk"] = risk == "yes"
    occurred, discovered = cleaned.get("occurred_on"), cleaned.get("discovered_on")
    if occurred and discovered and discovered < occurred:
        problems.append(
            {
                "field": "discovered_on",
                "message": _("An incident cannot be discovered before it happened."),
            }
        )
    if problems:
        raise Invalid(details=problems)
    return cleaned


@transaction.atomic
def do_record_incident(cleaned, *, by):
    incident = ConfidentialityIncident.objects.create(recorded_by=by, **cleaned)
    do_record_audit(
        by,
        AuditAction.INCIDENT_CREATED,
        target=incident,
        details={"people_affected": incident.people_affected},
    )
    logger.info("confidentiality incident %s recorded", incident.pk)
    return incident


@transaction.atomic
def do_update_incident(incident, cleaned, *, by):
    changed = sorted(name for name, value in cleaned.items() if getattr(incident, name) != value)
    for name, value in cleaned.items():
        setattr(incident, name, value)
    incident.updated_at = timezone.now()
    incident.save()
    do_record_audit(
        by, AuditAction.INCIDENT_EDITED, target=incident, details={"fields_changed": changed}
    )
    logger.info("confidentiality incident %s updated", incident.pk)
    return incident


def _plain(value):
    if isinstance(value, date):
        return value.isoformat()
    return value


def incidents_csv(incidents):
    """The register as CSV; every cell a spreadsheet could run as a formula is neutralised."""
    out = io.StringIO()
    out.write(csv_safe.BOM)
    writer = csv_safe.writer(out)
    writer.writerow(EXPORT_FIELDS)
    for incident in incidents:
        writer.writerow([getattr(incident, name) for name in EXPORT_FIELDS])
    return out.getvalue()


def do_export_register(by, export_format):
    """Return the whole register as "csv" or "json"; the export is recorded in the audit trail."""
    incidents = list(ConfidentialityIncident.objects.order_by("id"))
    content = incidents_csv(incidents) if export_format == "csv" else incidents_json(incidents)
    do_record_audit(
        by,
        AuditAction.EXPORT,
        target="privacy.ConfidentialityIncident",
        details={"format": export_format, "rows": len(incidents)},
    )
    return content


def incidents_json(incidents):
    rows = [
        {
            name: _plain(
                timezone.localtime(getattr(incident, name)).isoformat()
                if name in ("recorded_at", "updated_at")
                else getattr(incident, name)
            )
            for name in EXPORT_FIELDS
        }
        for incident in incidents
    ]
    return json.dumps({"incidents": rows}, ensure_ascii=False, indent=2)
