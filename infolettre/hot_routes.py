"""The fast lane of the hot public endpoints: answered just after the security headers.

A click redirect or an open pixel needs no session, no signed-in user or organisation, no CSRF
check (GET and HEAD only), no message storage, no rate limit (tracking is never limited) and no
language negotiation; on a campaign's opening spike, those middlewares and the resolution of the
path through the whole URLconf (some two hundred routes) cost more than the view itself.

settings.HOT_URLCONF names a URLconf of those routes only. A GET or HEAD request whose path it
resolves is answered by its view at once, after the host is checked as CommonMiddleware would;
every other request goes down the whole stack (so a POST there meets the CSRF check as anywhere). The middleware listed before this one (security headers, the
Content-Security-Policy, static files) applies to the hot routes too, and a hot view sets what
else it needs itself (no-store, no Referer, X-Frame-Options; its error page activates the
request's language).
"""

from django.conf import settings
from django.urls import Resolver404, get_resolver


class HotRouteMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.resolver = get_resolver(settings.HOT_URLCONF) if settings.HOT_URLCONF else None

    def __call__(self, request):
        if self.resolver is not None and request.method in ("GET", "HEAD"):
            try:
                match = self.resolver.resolve(request.path_info)
            except Resolver404:
                return self.get_response(request)
            request.get_host()  # an unknown Host is refused (400) here as on every other page
            request.resolver_match = match
            return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
