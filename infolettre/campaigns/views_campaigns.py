"""Placeholder pages, replaced as each area is built."""

from django.http import HttpResponse


def campaigns(request, **kwargs):
    return HttpResponse("campaigns", status=501)


def campaign_create(request, **kwargs):
    return HttpResponse("campaign_create", status=501)


def campaign_detail(request, **kwargs):
    return HttpResponse("campaign_detail", status=501)


def campaign_send(request, **kwargs):
    return HttpResponse("campaign_send", status=501)


def campaign_pause(request, **kwargs):
    return HttpResponse("campaign_pause", status=501)


def campaign_resume(request, **kwargs):
    return HttpResponse("campaign_resume", status=501)


def campaign_cancel(request, **kwargs):
    return HttpResponse("campaign_cancel", status=501)


def campaign_preview(request, **kwargs):
    return HttpResponse("campaign_preview", status=501)


def campaign_test_send(request, **kwargs):
    return HttpResponse("campaign_test_send", status=501)


def senders(request, **kwargs):
    return HttpResponse("senders", status=501)


def sender_delete(request, **kwargs):
    return HttpResponse("sender_delete", status=501)


def sender_confirm(request, **kwargs):
    return HttpResponse("sender_confirm", status=501)
