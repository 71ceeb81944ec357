"""The REST API under /api/v1: the one place where errors become HTTP answers."""

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from infolettre.errors import (
    Conflict,
    Forbidden,
    InfolettreError,
    Invalid,
    NotFound,
    Throttled,
    Unauthenticated,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR = [
    (NotFound, 404),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (Conflict, 409),
    (Throttled, 429),
    (Invalid, 422),
]

api = NinjaAPI(
    title="Infolettre API",
    version="1",
    description=(
        "Email and SMS campaigns whose privacy policy is enforced by the code. Authenticate with "
        "HTTP Basic (email and password), a personal API token (`Authorization: Bearer …`), "
        "or the session cookie of the web app (with its CSRF token)."
    ),
    urls_namespace="api",
)


def error_body(code, message, details=None):
    body = {"code": code, "message": str(message)}
    if details:
        body["details"] = details
    return body


@api.exception_handler(InfolettreError)
def infolettre_error(request, exc):
    status = next((s for cls, s in STATUS_BY_ERROR if isinstance(exc, cls)), 400)
    return api.create_response(
        request, error_body(exc.code, exc.message, exc.details), status=status
    )


@api.exception_handler(ValidationError)
def validation_error(request, exc):
    details = [
        {
            "field": ".".join(str(part) for part in e.get("loc", ())[1:]) or None,
            "message": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in exc.errors
    ]
    return api.create_response(
        request, error_body("validation_error", "The request is not valid.", details), status=422
    )


@api.exception_handler(AuthenticationError)
def authentication_error(request, exc):
    response = api.create_response(
        request, error_body("unauthenticated", Unauthenticated.message), status=401
    )
    response["WWW-Authenticate"] = 'Basic realm="Infolettre", charset="UTF-8"'
    return response


@api.exception_handler(HttpError)
def http_error(request, exc):
    code = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "error"
    )
    return api.create_response(request, error_body(code, exc.message), status=exc.status_code)


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(request, error_body("not_found", NotFound.message), status=404)


@api.exception_handler(SuspiciousOperation)
def suspicious_request(request, exc):
    """A body past DATA_UPLOAD_MAX_MEMORY_SIZE (413) or a malformed request (400): a client error."""
    if isinstance(exc, RequestDataTooBig):
        body = error_body("request_too_large", "The request body is too large.")
        return api.create_response(request, body, status=413)
    return api.create_response(request, error_body("bad_request", "Bad request."), status=400)


@api.exception_handler(Exception)
def server_error(request, exc):
    logger.exception("Unhandled error in %s %s", request.method, request.path)
    return api.create_response(
        request,
        error_body("server_error", "An unexpected error occurred; it has been logged."),
        status=500,
    )


def _mount_routers():
    from infolettre.accounts.api import router as accounts_router
    from infolettre.audience import api as audience
    from infolettre.audience import api_imports, api_segments
    from infolettre.campaigns import api as campaigns
    from infolettre.campaigns import api_templates, api_tracking
    from infolettre.privacy.api import router as privacy_router
    from infolettre.privacy.api_requests import router as privacy_requests_router
    from infolettre.webhooks.api import router as webhooks_router

    api.add_router("/", accounts_router)
    api.add_router("/", audience.router)
    api.add_router("/", api_imports.router)
    api.add_router("/", api_segments.router)
    api.add_router("/", campaigns.router)
    api.add_router("/", api_templates.router)
    api.add_router("/", api_tracking.router)
    api.add_router("/privacy", privacy_router)
    api.add_router("/privacy", privacy_requests_router)
    api.add_router("/", webhooks_router)


_mount_routers()
