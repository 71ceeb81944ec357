from django.conf import settings


def site(request):
    return {"operator": settings.OPERATOR, "debug": settings.DEBUG}
