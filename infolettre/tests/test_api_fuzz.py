"""Generated requests against the OpenAPI document: no input may make the API fail (5xx).

Schemathesis reads /api/v1/openapi.json from the WSGI application in-process and generates a few
requests per operation (valid and invalid bodies, odd path and query values), sent as a signed-in
client owner. Kept small (a few examples an operation, no deadline) so the whole file stays quick;
raise FUZZ_EXAMPLES locally for a longer hunt.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from conftest import basic_auth

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def owner_headers(owner, settings):
    # Generated requests come fast from one address: the public forms' limit must not hide a crash.
    settings.PUBLIC_FORM_LIMIT = settings.INVALID_LINK_LIMIT = 10**6
    # As Django's test client does: the end of a request must not close the test's database
    # connection (the WSGI handler would, and every later request would fail for that reason).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"Authorization": basic_auth(owner)["HTTP_AUTHORIZATION"]}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_causes_a_server_error(case, owner_headers):
    """Whatever the body, path or query, the API answers below 500 (a code, never a crash)."""
    response = case.call(headers=owner_headers)
    assert response.status_code < 500, (
        case.method,
        case.formatted_path,
        repr(case.body)[:400],
        repr(case.query)[:200],
    )
