from django.http import HttpResponse


def policy(request, **kwargs):
    return HttpResponse("policy")


def declaration(request, **kwargs):
    return HttpResponse("declaration")

