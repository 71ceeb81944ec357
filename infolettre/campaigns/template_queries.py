"""Reads of templates, scoped to the active organisation: another tenant's id is simply not found."""

from infolettre.errors import NotFound

from .models import Template


def access_template_for_tenant(template_id):
    found = Template.objects.filter(pk=template_id).first()
    if found is None:
        raise NotFound()
    return found


def templates_for_tenant():
    return Template.objects.order_by("name", "id")
