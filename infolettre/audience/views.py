"""Placeholder pages, replaced as each area is built."""

from django.http import HttpResponse


def lists(request, **kwargs):
    return HttpResponse("lists", status=501)


def list_detail(request, **kwargs):
    return HttpResponse("list_detail", status=501)


def list_delete(request, **kwargs):
    return HttpResponse("list_delete", status=501)


def contacts(request, **kwargs):
    return HttpResponse("contacts", status=501)


def contact_detail(request, **kwargs):
    return HttpResponse("contact_detail", status=501)


def contact_delete(request, **kwargs):
    return HttpResponse("contact_delete", status=501)


def contact_subscribe(request, **kwargs):
    return HttpResponse("contact_subscribe", status=501)


def subscription_unsubscribe(request, **kwargs):
    return HttpResponse("subscription_unsubscribe", status=501)


def suppressions(request, **kwargs):
    return HttpResponse("suppressions", status=501)


def suppression_remove(request, **kwargs):
    return HttpResponse("suppression_remove", status=501)


def public_signup(request, **kwargs):
    return HttpResponse("public_signup", status=501)


def confirm_subscription(request, **kwargs):
    return HttpResponse("confirm_subscription", status=501)
