"""The API of templates: create, read, change, delete, preview with a contact, and test sends."""

from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from infolettre.accounts.api_auth import CLIENT_AUTH
from infolettre.audience.queries import access_contact_for_tenant
from infolettre.errors import Invalid
from infolettre.schemas import ErrorOut, StrictSchema

from .template_actions import (
    do_create_template,
    do_delete_template,
    do_send_test,
    do_update_template,
    preview_message,
)
from .template_queries import access_template_for_tenant, templates_for_tenant
from .templating import MAX_SUBJECT_CHARS, MAX_TEMPLATE_CHARS

router = Router(auth=CLIENT_AUTH, tags=["campaigns"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}

HTML_HELP = (
    "The message's HTML, a Jinja template rendered in a sandbox. It may use contact.email, "
    "contact.name, contact.attributes.<key>, organisation.name, organisation.address, "
    "organisation.website, organisation.phone, campaign.subject, unsubscribe_url and "
    "{{ footer }} (the sender's identification and unsubscribe link; added before </body> "
    "when absent). The rules of <style> blocks are inlined into style attributes when sent."
)


class TemplateIn(StrictSchema):
    name: str = Field(..., min_length=1, max_length=200)
    html: str | None = Field(
        None,
        max_length=MAX_TEMPLATE_CHARS,
        description=HTML_HELP + " Leave it out to start from the default responsive template.",
    )


class TemplatePatch(StrictSchema):
    name: str | None = Field(None, min_length=1, max_length=200)
    html: str | None = Field(None, min_length=1, max_length=MAX_TEMPLATE_CHARS)


class TemplateOut(Schema):
    id: int
    name: str
    html: str
    created_at: datetime
    updated_at: datetime


class PreviewIn(StrictSchema):
    contact_id: int | None = Field(
        None, description="Render as this contact would receive it; a sample contact otherwise."
    )
    subject: str = Field("", max_length=MAX_SUBJECT_CHARS)


class PreviewOut(Schema):
    subject: str
    html: str
    text: str = Field(..., description="The plain-text alternative sent with the HTML.")


class TestSendIn(StrictSchema):
    addresses: list[str] = Field(..., description="At most five addresses.")
    subject: str = Field(..., min_length=1, max_length=MAX_SUBJECT_CHARS)
    contact_id: int | None = Field(
        None, description="Render as this contact would receive it; a sample contact otherwise."
    )


class TestOutcome(Schema):
    email: str
    sent: bool
    detail: str = ""


class TestSendOut(Schema):
    results: list[TestOutcome]


def _name(value):
    name = value.strip()
    if not name:
        message = _("This field is required.")
        raise Invalid(message, details=[{"field": "name", "message": message}])
    return name


def _contact(contact_id):
    return access_contact_for_tenant(contact_id) if contact_id is not None else None


@router.get("/templates", response=list[TemplateOut])
def list_templates(request):
    return list(templates_for_tenant())


@router.post("/templates", response={201: TemplateOut, **ERRORS})
def create_template(request, payload: TemplateIn):
    """Create a template; its HTML is checked first (syntax, names, sandbox) and refused with its line."""
    template = do_create_template(request.tenant, name=_name(payload.name), html=payload.html)
    return Status(201, template)


@router.get("/templates/{template_id}", response={200: TemplateOut, **ERRORS})
def get_template(request, template_id: int):
    return access_template_for_tenant(template_id)


@router.patch("/templates/{template_id}", response={200: TemplateOut, **ERRORS})
def update_template(request, template_id: int, payload: TemplatePatch):
    template = access_template_for_tenant(template_id)
    name = _name(payload.name) if payload.name is not None else None
    return do_update_template(template, name=name, html=payload.html)


@router.delete("/templates/{template_id}", response={204: None, **ERRORS})
def delete_template(request, template_id: int):
    """Delete a template; campaigns keep their own copy of the HTML."""
    do_delete_template(access_template_for_tenant(template_id))
    return Status(204, None)


@router.post("/templates/{template_id}/preview", response={200: PreviewOut, **ERRORS})
def preview_template(request, template_id: int, payload: PreviewIn):
    """The subject, HTML and text a contact would receive, footer and inlined CSS included."""
    template = access_template_for_tenant(template_id)
    contact = _contact(payload.contact_id)
    subject, html, text = preview_message(template.html, payload.subject, request.tenant, contact)
    return {"subject": subject, "html": html, "text": text}


@router.post("/templates/{template_id}/test", response={200: TestSendOut, **ERRORS})
def test_template(request, template_id: int, payload: TestSendIn):
    """Send the template to at most five addresses, subject marked "[Test]", from the platform."""
    template = access_template_for_tenant(template_id)
    contact = _contact(payload.contact_id)
    results = do_send_test(
        template.html,
        payload.subject,
        payload.addresses,
        sender_name=request.tenant.name,
        sender_email=_platform_address(),
        tenant=request.tenant,
        contact=contact,
        reply_to=request.user.email,
    )
    return {"results": results}


def _platform_address():
    from email.utils import parseaddr

    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
