from django.http import HttpResponse


def home(request, **kwargs):
    return HttpResponse("home")


def register(request, **kwargs):
    return HttpResponse("register")


def registered(request, **kwargs):
    return HttpResponse("registered")


def confirm_email(request, **kwargs):
    return HttpResponse("confirm_email")


def resend_confirmation(request, **kwargs):
    return HttpResponse("resend_confirmation")


def login(request, **kwargs):
    return HttpResponse("login")


def logout(request, **kwargs):
    return HttpResponse("logout")


def password_reset(request, **kwargs):
    return HttpResponse("password_reset")


def password_reset_confirm(request, **kwargs):
    return HttpResponse("password_reset_confirm")


def dashboard(request, **kwargs):
    return HttpResponse("dashboard")


def profile(request, **kwargs):
    return HttpResponse("profile")


def password_change(request, **kwargs):
    return HttpResponse("password_change")


def consents(request, **kwargs):
    return HttpResponse("consents")


def api_tokens(request, **kwargs):
    return HttpResponse("api_tokens")


def revoke_api_token(request, **kwargs):
    return HttpResponse("revoke_api_token")


def organisation(request, **kwargs):
    return HttpResponse("organisation")


def team(request, **kwargs):
    return HttpResponse("team")


def change_member_role(request, **kwargs):
    return HttpResponse("change_member_role")


def remove_member(request, **kwargs):
    return HttpResponse("remove_member")


def cancel_invitation(request, **kwargs):
    return HttpResponse("cancel_invitation")


def accept_invitation(request, **kwargs):
    return HttpResponse("accept_invitation")

