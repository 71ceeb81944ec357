"""The pages of templates: the list with its creation form, editing with a preview, test sends.

Each page finds its template through the organisation's own queries (another organisation's id is a
404). A template whose HTML does not pass the check is drawn again with the message and its line,
and nothing is saved. Previews are drawn in a sandboxed frame: the client's HTML never runs as our
site.
"""

from email.utils import parseaddr

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from infolettre.accounts.errors import AccountNotConfirmed
from infolettre.accounts.forms import REQUIRED, Field
from infolettre.accounts.views import client_page
from infolettre.audience.queries import access_contact_for_tenant, search_contacts
from infolettre.errors import InfolettreError, NotFound

from .errors import TemplateError
from .template_actions import (
    MAX_TEST_ADDRESSES,
    default_template_html,
    do_create_template,
    do_delete_template,
    do_send_test,
    do_update_template,
    preview_message,
)
from .template_queries import access_template_for_tenant, templates_for_tenant
from .templating import MAX_SUBJECT_CHARS

NAME_MAX = 200
CONTACT_CHOICES = 100
# The preview is the client's HTML: no script, no form, no same-origin access, wherever it is opened.
PREVIEW_POLICY = (
    "sandbox; default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline'; "
    "font-src http: https: data:"
)


# What a template may write, shown in the help of the HTML box.
EXAMPLES = {
    "name": "{{ contact.name }}",
    "email": "{{ contact.email }}",
    "attribute": "{{ contact.attributes.city }}",
    "organisation": "{{ organisation.name }}",
    "subject": "{{ campaign.subject }}",
    "footer": "{{ footer }}",
}


def _found(access, object_id):
    try:
        return access(object_id)
    except NotFound:
        raise Http404 from None


def _chosen_contact(raw):
    """The contact named by ?contact=<id>: None for the sample contact, 404 for another's."""
    if not raw:
        return None
    try:
        contact_id = int(raw)
    except ValueError:
        raise Http404 from None
    return _found(access_contact_for_tenant, contact_id)


def _check_form(post):
    values = {"name": (post.get("name") or "").strip(), "html": post.get("html") or ""}
    errors = {}
    if not values["name"]:
        errors["name"] = str(REQUIRED)
    elif len(values["name"]) > NAME_MAX:
        errors["name"] = _("Use at most %(limit)d characters.") % {"limit": NAME_MAX}
    if not values["html"].strip():
        errors["html"] = str(REQUIRED)
    return values, errors


def _name_field(values, errors):
    return Field(
        name="name",
        label=_("Name"),
        value=values.get("name", ""),
        error=errors.get("name", ""),
        max_length=NAME_MAX,
        help_text=_("For you only; recipients do not see it."),
    )


def _template_error(error):
    """The message of a refused template, shown under the HTML box."""
    return str(error.message)


@client_page
def templates(request):
    values, errors, status = {"name": "", "html": default_template_html()}, {}, 200
    if request.method == "POST":
        values, errors = _check_form(request.POST)
        if not errors:
            try:
                template = do_create_template(
                    request.tenant, name=values["name"], html=values["html"]
                )
            except TemplateError as error:
                errors["html"] = _template_error(error)
            else:
                messages.success(
                    request, _("The template “%(name)s” is saved.") % {"name": template.name}
                )
                return redirect("campaigns:template_detail", template.pk)
        status = 400
    return render(
        request,
        "campaigns/templates.html",
        {
            "templates": templates_for_tenant(),
            "name_field": _name_field(values, errors),
            "html": values["html"],
            "html_error": errors.get("html", ""),
            "has_errors": bool(errors),
            "examples": EXAMPLES,
        },
        status=status,
    )


def _preview(template, tenant, contact, subject=""):
    """The preview of a template for a contact, or the message saying why it cannot be drawn."""
    try:
        subject, html, text = preview_message(template.html, subject, tenant, contact)
    except TemplateError as error:
        return {"error": str(error.message)}
    return {"subject": subject, "html": html, "text": text}


def _test_values(request, post=None):
    post = post or {}
    return {
        "addresses": post.get("addresses", request.user.email),
        "subject": post.get("subject", ""),
    }


def _send_test(request, template):
    """Send a test from the detail page's form; return the errors to show, or None when sent."""
    post = request.POST
    addresses = [a for a in post.get("addresses", "").replace(",", "\n").split() if a]
    subject = (post.get("subject") or "").strip()
    errors = {}
    if not addresses:
        errors["addresses"] = str(REQUIRED)
    if not subject:
        errors["subject"] = str(REQUIRED)
    elif len(subject) > MAX_SUBJECT_CHARS:
        errors["subject"] = _("Use at most %(limit)d characters.") % {"limit": MAX_SUBJECT_CHARS}
    if errors:
        return errors
    try:
        contact = _chosen_contact(post.get("contact", ""))
        results = do_send_test(
            template.html,
            subject,
            addresses,
            sender_name=request.tenant.name,
            sender_email=parseaddr(settings.DEFAULT_FROM_EMAIL)[1],
            tenant=request.tenant,
            contact=contact,
            reply_to=request.user.email,
        )
    except AccountNotConfirmed as error:
        return {"form": str(error.message)}
    except TemplateError as error:
        return {"form": str(error.message)}
    except InfolettreError as error:
        field = (error.details[0].get("field") if error.details else None) or "form"
        return {field: str(error.message)}
    sent = [r["email"] for r in results if r["sent"]]
    refused = [f"{r['email']} ({r['detail']})" for r in results if not r["sent"]]
    if sent:
        messages.success(request, _("The test is sent to %(list)s.") % {"list": ", ".join(sent)})
    if refused:
        messages.error(
            request, _("The mail server refused %(list)s.") % {"list": "; ".join(refused)}
        )
    return None


@client_page
def template_detail(request, template_id):
    template = _found(access_template_for_tenant, template_id)
    values = {"name": template.name, "html": template.html}
    errors, test_errors, status = {}, {}, 200
    test_post = None
    if request.method == "POST" and request.POST.get("action") == "test":
        test_errors = _send_test(request, template)
        if test_errors is None:
            return redirect(request.get_full_path() + "#test")
        test_post, status = request.POST, 400
    elif request.method == "POST":
        values, errors = _check_form(request.POST)
        if not errors:
            try:
                do_update_template(template, name=values["name"], html=values["html"])
            except TemplateError as error:
                errors["html"] = _template_error(error)
            else:
                messages.success(request, _("The template is saved."))
                return redirect("campaigns:template_detail", template.pk)
        status = 400
        template = access_template_for_tenant(template_id)
    contact = _chosen_contact(request.GET.get("contact", ""))
    return render(
        request,
        "campaigns/template_detail.html",
        {
            "template": template,
            "name_field": _name_field(values, errors),
            "html": values["html"],
            "html_error": errors.get("html", ""),
            "has_errors": bool(errors),
            "examples": EXAMPLES,
            "preview": _preview(template, request.tenant, contact),
            "contacts": search_contacts().order_by("email", "pk")[:CONTACT_CHOICES],
            "contact": contact,
            "test": _test_values(request, test_post),
            "test_errors": test_errors,
            "max_test_addresses": MAX_TEST_ADDRESSES,
        },
        status=status,
    )


@never_cache
@xframe_options_sameorigin
@client_page
def template_preview(request, template_id):
    """The rendered HTML alone, for a frame or a new tab; it runs in a sandbox wherever it opens."""
    template = _found(access_template_for_tenant, template_id)
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    contact = _chosen_contact(request.GET.get("contact", ""))
    preview = _preview(template, request.tenant, contact)
    if "error" in preview:
        response = HttpResponse(preview["error"], content_type="text/plain; charset=utf-8")
        response.status_code = 422
    else:
        response = HttpResponse(preview["html"], content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = PREVIEW_POLICY
    return response


@require_POST
@client_page
def template_delete(request, template_id):
    template = _found(access_template_for_tenant, template_id)
    name = template.name
    do_delete_template(template)
    messages.success(request, _("The template “%(name)s” is deleted.") % {"name": name})
    return redirect("campaigns:templates")
