"""Placeholder pages, replaced as each area is built."""

from django.http import HttpResponse


def import_start(request, **kwargs):
    return HttpResponse("import_start", status=501)


def import_detail(request, **kwargs):
    return HttpResponse("import_detail", status=501)


def import_report(request, **kwargs):
    return HttpResponse("import_report", status=501)
