"""The staff gate: office networks first, then a staff account, its second factor, and its role."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode

from .networks import from_office


def is_verified(user):
    """Whether the session's user passed their second factor (django-otp's OTPMiddleware)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def second_factor_url(request):
    return f"{reverse('staff:second_factor')}?{urlencode({'next': request.get_full_path()})}"


def office_only(view):
    """Answer 404 to anyone outside the office networks: the page is not even confirmed to exist."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not from_office(request):
            raise Http404
        response = view(request, *args, **kwargs)
        # Staff pages hold what only their viewer may see: no cache keeps a copy.
        add_never_cache_headers(response)
        return response

    wrapper.staff_area = True
    return wrapper


def staff_page(*roles):
    """Let in, from the office only, a staff member who passed their second factor.

    Anonymous visitors are sent to sign in, and staff without their second factor to it. A client
    user gets 404: the operator's staff pages are none of a client's business. Staff whose role is
    not among `roles` (any role when none is named) get 403.
    """

    def decorate(view):
        @office_only
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user.is_staff:
                raise Http404
            if not is_verified(user):
                return redirect(second_factor_url(request))
            if roles and user.staff_role not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
