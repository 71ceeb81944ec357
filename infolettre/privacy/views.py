"""The public privacy pages: the policy in force (and every earlier version) and what we hold and why."""

from django.apps import apps
from django.http import Http404
from django.shortcuts import render
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from infolettre.errors import NotFound

from .declaration import CLIENT, THIRD_PARTY, USER, declared_models
from .queries import access_policy_version, current_policy, published_policies

SUBJECTS = {
    CLIENT: (
        _("Clients"),
        _("People who hold an account in a client organisation."),
    ),
    USER: (
        _("Users"),
        _("Anyone else who uses our site or services: subscribers, entrants, visitors."),
    ),
    THIRD_PARTY: (
        _("Third parties"),
        _("The contacts on our clients' mailing lists; they belong to that client."),
    ),
}


def policy(request, version=None):
    try:
        in_force = current_policy()
    except NotFound:
        raise Http404 from None
    if version is None:
        shown = in_force
    else:
        try:
            shown = access_policy_version(version)
        except NotFound:
            raise Http404 from None
    english = (get_language() or "fr").startswith("en")
    return render(
        request,
        "privacy/policy.html",
        {
            "policy": shown,
            "in_force": in_force,
            "summary": shown.summary_en if english else shown.summary_fr,
            "versions": list(published_policies()),
        },
    )


def _model_label(label):
    return capfirst(apps.get_model(label)._meta.verbose_name)


def _field_label(label, name):
    return capfirst(apps.get_model(label)._meta.get_field(name).verbose_name)


def declaration(request):
    groups, purposes = {}, {}
    for entry in declared_models():
        rows = []
        for field in entry.fields:
            for purpose in field.purpose_objects:
                purposes[purpose.code] = purpose
            rows.append(
                {
                    "label": _field_label(entry.model, field.name),
                    "category": field.category.label,
                    "purposes": [p.label for p in field.purpose_objects],
                    "retention": field.retention.label,
                    "confidential": field.confidential,
                }
            )
        groups.setdefault(entry.subject, []).append(
            {"model": entry.model, "label": _model_label(entry.model), "fields": rows}
        )
    order = list(SUBJECTS) + sorted(set(groups) - set(SUBJECTS))
    subjects = [
        {
            "code": code,
            "label": SUBJECTS.get(code, (code, ""))[0],
            "description": SUBJECTS.get(code, (code, ""))[1],
            "models": groups[code],
        }
        for code in order
        if code in groups
    ]
    return render(
        request,
        "privacy/declaration.html",
        {"subjects": subjects, "purposes": list(purposes.values())},
    )
