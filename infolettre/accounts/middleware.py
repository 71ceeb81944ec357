from django.contrib import auth
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from infolettre.errors import InfolettreError
from infolettre.staff.networks import from_office

from .authentication import read_authorization
from .tenancy import tenant_scope


class AuthenticationMiddleware:
    """Identify the user once per request and activate their organisation for the whole of it.

    Credentials in an Authorization header (HTTP Basic or an API token) win over the session
    cookie, so a person who refuses cookies can use every page and route.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            found = read_authorization(request)
        except InfolettreError as e:
            return credentials_refused(request, e)
        if found:
            request.auth_method, request.user = found
            # Credentials sent with a request are not a session: no cookie, no CSRF token to steal.
            request._dont_enforce_csrf_checks = True
        else:
            request.user = auth.get_user(request)
            if request.user.is_staff and (
                request.path.startswith("/api/") or not from_office(request)
            ):
                # A staff session exists only inside the office, and staff have no API.
                request.user = auth.models.AnonymousUser()
            request.auth_method = "session" if request.user.is_authenticated else None
        request.tenant = request.user.tenant if request.user.is_authenticated else None
        with tenant_scope(request.tenant):
            return self.get_response(request)


def credentials_refused(request, error):
    status = 429 if error.code == "sign_in_throttled" else 401
    if request.path.startswith("/api/"):
        response = JsonResponse({"code": error.code, "message": str(error.message)}, status=status)
    else:
        response = HttpResponse(
            str(error.message), status=status, content_type="text/plain; charset=utf-8"
        )
    if status == 401:
        response["WWW-Authenticate"] = f'Basic realm="{_("Infolettre")}", charset="UTF-8"'
    return response
