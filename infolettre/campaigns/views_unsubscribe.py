"""Placeholder pages, replaced as each area is built."""

from django.http import HttpResponse


def unsubscribe(request, **kwargs):
    return HttpResponse("unsubscribe", status=501)
