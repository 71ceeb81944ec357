"""The public page of a policy notice's refusal link: GET shows the new use, POST refuses it."""

from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from infolettre.accounts.errors import InvalidLink
from infolettre.campaigns.unsubscribe import mask_email
from infolettre.errors import NotFound

from . import policy_changes


def _page(request, template, status=200, **context):
    response = render(request, f"privacy/policy_changes/{template}.html", context, status=status)
    add_never_cache_headers(response)
    # The token is in the address: no other site learns it from a Referer header.
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def refusal(request, token):
    """GET shows what the new use is and one button, changing nothing; POST records the refusal
    (a second one records nothing). A damaged link answers 400 and changes nothing."""
    try:
        notice, purpose = policy_changes.read_refusal_token(token)
    except InvalidLink as e:
        return _page(request, "link_invalid", status=400, message=e.message)
    except NotFound as e:
        return _page(request, "link_invalid", status=404, message=e.message)
    person = notice.recipient
    # The page speaks the language the notice was written in.
    with translation.override(policy_changes._language(person.language)):
        context = {
            "purpose": purpose,
            "policy": notice.policy_version,
            "masked_email": mask_email(person.email),
            "words": policy_changes.refusal_wording(purpose),
        }
        if request.method == "POST":
            policy_changes.do_refuse_new_use(token, source=f"web:{request.path}")
            return _page(request, "refused", **context)
        if policy_changes.has_refused(person, purpose.code):
            return _page(request, "refused", **context)
        return _page(request, "refuse", **context)
