from django.http import Http404

from .networks import from_office


class StaffAreaMiddleware:
    """Answer 404 for any staff page to a request from outside the office, or from a client user.

    It runs before the view and its other decorators (require_POST would answer 405 and so confirm
    the page exists); each staff view's own gate (staff.access) says the same again.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "staff_area", False):
            return None
        user = request.user
        if not from_office(request) or (user.is_authenticated and not user.is_staff):
            raise Http404
        return None
