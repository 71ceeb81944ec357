"""Placeholder pages, replaced as each area is built."""

from django.http import HttpResponse


def export_list(request, **kwargs):
    return HttpResponse("export_list", status=501)


def segments(request, **kwargs):
    return HttpResponse("segments", status=501)


def segment_count(request, **kwargs):
    return HttpResponse("segment_count", status=501)


def segment_detail(request, **kwargs):
    return HttpResponse("segment_detail", status=501)


def segment_delete(request, **kwargs):
    return HttpResponse("segment_delete", status=501)


def export_segment(request, **kwargs):
    return HttpResponse("export_segment", status=501)
