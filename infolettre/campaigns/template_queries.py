"""Reads of templates, scoped to the active organisation: another tenant's id is simply not found."""

from .models import Template


def access_template_for_tenant(template_id):
    return Template.objects.access(template_id)


def templates_for_tenant():
    return Template.objects.order_by("name", "id")
