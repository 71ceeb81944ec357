"""Placeholder pages, replaced as each area is built."""

from django.http import HttpResponse


def templates(request, **kwargs):
    return HttpResponse("templates", status=501)


def template_detail(request, **kwargs):
    return HttpResponse("template_detail", status=501)


def template_preview(request, **kwargs):
    return HttpResponse("template_preview", status=501)


def template_delete(request, **kwargs):
    return HttpResponse("template_delete", status=501)
