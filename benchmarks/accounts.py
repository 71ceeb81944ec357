"""Foundation figures: registration, sign-in with the password hasher in force, and API requests
authenticated by token, Basic or session, each through the whole middleware stack."""

import base64
import json
import time

from django.conf import settings
from django.test import Client

from infolettre.accounts.models import User

PASSWORD = "a long enough passphrase 42"  # noqa: S105


def _rate(label, count, seconds, unit="requests"):
    print(
        f"  {label:<60} {count / seconds:>9.1f} {unit}/s   {seconds / count * 1000:>8.2f} ms each"
    )


def _timed(count, request):
    start = time.perf_counter()
    for i in range(count):
        response = request(i)
        assert response.status_code < 300, (response.status_code, response.content[:200])
    return time.perf_counter() - start


def run():
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"accounts (database: {engine}; password hasher: {settings.PASSWORD_HASHERS[0].rsplit('.', 1)[-1]})"
    )
    client = Client()

    def register(i):
        body = {
            "name": f"Bench {i}",
            "title": "CEO",
            "email": f"bench{i}@example.com",
            "company_name": f"Bench {i} Inc.",
            "address": "1 rue Sherbrooke, Montréal",
            "phone": "+15145550123",
            "website": "https://example.com",
            "password": PASSWORD,
            "accept_policy": True,
            "newsletter": i % 2 == 0,
        }
        return client.post(
            "/api/v1/auth/register", json.dumps(body), content_type="application/json"
        )

    count = 100
    _rate("register an organisation (API, welcome email rendered)", count, _timed(count, register))

    user = User.objects.get(email="bench0@example.com")
    basic = {
        "HTTP_AUTHORIZATION": "Basic "
        + base64.b64encode(f"{user.email}:{PASSWORD}".encode()).decode()
    }
    count = 50
    _rate(
        "GET /api/v1/me with HTTP Basic (password hashed each time)",
        count,
        _timed(count, lambda i: client.get("/api/v1/me", **basic)),
    )

    raw = client.post(
        "/api/v1/auth/tokens",
        json.dumps({"name": "bench"}),
        content_type="application/json",
        **basic,
    ).json()["token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    count = 2000
    _rate(
        "GET /api/v1/me with a Bearer token",
        count,
        _timed(count, lambda i: client.get("/api/v1/me", **bearer)),
    )

    session = Client()
    session.force_login(user)
    _rate(
        "GET /api/v1/me with the session cookie",
        count,
        _timed(count, lambda i: session.get("/api/v1/me")),
    )
    count = 500
    _rate(
        "GET /api/v1/members/{id} (tenant-scoped lookup, token)",
        count,
        _timed(count, lambda i: client.get(f"/api/v1/members/{user.pk}", **bearer)),
    )
