from django.http import HttpResponse


def outbox(request, **kwargs):
    return HttpResponse("outbox")


def outbox_message(request, **kwargs):
    return HttpResponse("outbox_message")

