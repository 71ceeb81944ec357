"""How the API says who may call it; the authentication middleware has already identified the caller.

Each class only reports what the middleware found, so the OpenAPI document names the three ways in
and credentials are checked (and throttled) once per request.
"""

from django.conf import settings
from ninja.security import APIKeyCookie, HttpBasicAuth, HttpBearer


class BasicAuth(HttpBasicAuth):
    def __call__(self, request):
        return self.authenticate(request, None, None)

    def authenticate(self, request, username, password):
        return request.user if request.auth_method == "basic" else None


class TokenAuth(HttpBearer):
    def __call__(self, request):
        return self.authenticate(request, None)

    def authenticate(self, request, token):
        return request.user if request.auth_method == "token" else None


class SessionAuth(APIKeyCookie):
    """The web app's session cookie; its CSRF token is checked as for any form."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request, key):
        return request.user if request.auth_method == "session" else None


CLIENT_AUTH = [BasicAuth(), TokenAuth(), SessionAuth()]
