"""The pages of lists, contacts and the suppression list, and the public sign-up form of a list.

Each page finds its object through the organisation's own queries (another organisation's id is a
404), checks what was sent, calls one action and redirects; a refused form is drawn again with its
messages and changes nothing.
"""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from infolettre.accounts.authentication import client_ip
from infolettre.accounts.errors import AccountNotConfirmed, InvalidLink
from infolettre.accounts.forms import REQUIRED, Field
from infolettre.accounts.validation import check_email
from infolettre.accounts.views import client_page
from infolettre.counts import COUNT_SECONDS, at_least_text
from infolettre.errors import Invalid, NotFound, Throttled

from . import signup
from .actions import (
    check_not_suppressed,
    do_create_contact,
    do_create_list,
    do_delete_contact,
    do_delete_list,
    do_erase_contact,
    do_subscribe,
    do_suppress,
    do_unsubscribe_from_list,
    do_unsuppress,
    do_update_contact,
    do_update_list,
    suppression_hash,
)
from .consent import LAPSE_WARNING
from .errors import AddressSuppressed, ContactExists, ListNameTaken
from .forms import (
    attribute_rows,
    check_consent,
    check_contact,
    check_list,
    check_suppression,
    consent_inputs,
    contact_inputs,
    contact_values,
    list_inputs,
    list_values,
)
from .models import (
    MailingList,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from .paging import PageTooDeep, address_page
from .queries import (
    NO_FIGURES,
    access_contact_for_tenant,
    access_list_for_tenant,
    access_subscription_for_tenant,
    access_suppression_for_tenant,
    list_counts,
    list_subscriptions,
    lists_with_counts,
    search_contacts,
)

PER_PAGE = 50
ACTIVE = (SubscriptionStatus.SUBSCRIBED, SubscriptionStatus.UNCONFIRMED)


def _found(access, object_id):
    try:
        return access(object_id)
    except NotFound:
        raise Http404 from None


def _page(request, queryset):
    """One page of 50 rows, and the query string that keeps the search when changing page."""
    page = Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def _next_or(request, default):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# Lists -------------------------------------------------------------------------------------------


@client_page
def lists(request):
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values, errors = check_list(request.POST)
        if not errors:
            try:
                mailing_list = do_create_list(request.tenant, **values)
            except ListNameTaken as e:
                errors["name"] = str(e.message)
            else:
                messages.success(
                    request, _("The list “%(name)s” is created.") % {"name": mailing_list.name}
                )
                return redirect("audience:list_detail", mailing_list.pk)
        status = 400
    return render(
        request,
        "audience/lists.html",
        {"lists": lists_with_counts(), "form": list_inputs(values, errors), "has_errors": errors},
        status=status,
    )


def _subscribers(request, mailing_list):
    subscriptions = list_subscriptions(mailing_list)
    text = request.GET.get("q", "").strip()
    if text:
        subscriptions = subscriptions.filter(
            Q(contact__email__icontains=text) | Q(contact__name__icontains=text)
        )
    status = request.GET.get("status", "")
    if status in SubscriptionStatus.values:
        subscriptions = subscriptions.filter(status=status)
    if request.GET.get("lapsing"):
        now = timezone.now()
        subscriptions = subscriptions.filter(
            status=SubscriptionStatus.SUBSCRIBED,
            consent_expires_at__gt=now,
            consent_expires_at__lte=now + LAPSE_WARNING,
        )
    return subscriptions, text, status


def _signup_form(mailing_list):
    """The hosted form's address and the HTML a client pastes into their own site."""
    url = signup.hosted_url(mailing_list)
    snippet = render_to_string(
        "audience/_signup_snippet.html",
        {
            "action": url,
            "mailing_list": mailing_list,
            "consent_words": signup.consent_words(mailing_list),
            "language": translation.get_language(),
            "honeypot": signup.HONEYPOT,
        },
    )
    try:
        signup.check_tenant_can_send(mailing_list.tenant)
        can_send = True
    except AccountNotConfirmed:
        can_send = False
    return {"url": url, "snippet": snippet.strip(), "can_send": can_send}


def _first_page(request, anchor=""):
    """The first page of the same search, saying how deep pages are reached (paging.PageTooDeep)."""
    messages.info(
        request,
        _(
            "That page is too far into the list to open by its number. Deep pages are reached "
            "with Next page and Previous page from the page before, or narrowed with a search."
        ),
    )
    query = request.GET.copy()
    query.pop("page", None)
    return redirect(
        f"{request.path}?{query.urlencode()}{anchor}" if query else request.path + anchor
    )


@client_page
def list_detail(request, list_id):
    mailing_list = _found(access_list_for_tenant, list_id)
    values, errors, status = list_values(mailing_list), {}, 200
    if request.method == "POST":
        values, errors = check_list(request.POST)
        if not errors:
            try:
                do_update_list(mailing_list, **values)
            except ListNameTaken as e:
                errors["name"] = str(e.message)
            else:
                messages.success(request, _("The list's settings are saved."))
                return redirect("audience:list_detail", mailing_list.pk)
        status = 400
        mailing_list = access_list_for_tenant(list_id)
    # Being counted (None) on a big organisation's first view: shown as such.
    figures = list_counts(counting=True)
    counts = None if figures is None else figures.get(mailing_list.pk, NO_FIGURES)
    subscriptions, text, status_filter = _subscribers(request, mailing_list)
    # The condition on the contacts' organisation, always true, lets PostgreSQL walk that
    # organisation's addresses in order and stop after a page.
    rows = (
        subscriptions.filter(contact__tenant_id=mailing_list.tenant_id)
        .select_related("contact")
        .order_by("contact__email", "pk")
    )
    try:
        page, query = address_page(
            request,
            rows,
            subscriptions,
            address="contact__email",
            contact_id=lambda subscription: subscription.contact_id,
            seconds=COUNT_SECONDS,
        )
    except PageTooDeep:
        return _first_page(request, "#subscribers")
    return render(
        request,
        "audience/list_detail.html",
        {
            "mailing_list": mailing_list,
            "counts": counts,
            "page": page,
            "query": query,
            "search": text,
            "status_filter": status_filter,
            "statuses": SubscriptionStatus.choices,
            "lapsing_filter": bool(request.GET.get("lapsing")),
            "form": list_inputs(values, errors),
            "has_errors": errors,
            "signup": _signup_form(mailing_list) if mailing_list.public_signup else None,
        },
        status=status,
    )


@require_POST
@client_page
def list_delete(request, list_id):
    mailing_list = _found(access_list_for_tenant, list_id)
    name = mailing_list.name
    do_delete_list(mailing_list)
    messages.success(
        request,
        _("The list “%(name)s” is deleted. Its contacts remain in your contacts.") % {"name": name},
    )
    return redirect("audience:lists")


# Contacts ----------------------------------------------------------------------------------------


def _list_filter(request):
    raw = request.GET.get("list", "")
    if not raw:
        return None
    try:
        return access_list_for_tenant(int(raw))
    except (NotFound, ValueError):
        return None


def _subscribe_from_form(contact, consent):
    return do_subscribe(
        contact,
        consent["mailing_list"],
        basis=consent["basis"],
        consent_at=consent["consent_at"],
        source=consent["source"],
        wording=consent["wording"],
        confirmed=True,
    )


@client_page
def contacts(request):
    values, errors, status, rows = {}, {}, 200, attribute_rows()
    if request.method == "POST":
        values, errors = check_contact(request.POST)
        consent, consent_errors = check_consent(request.POST)
        errors.update(consent_errors)
        if not errors and consent["mailing_list"] is not None:
            try:
                check_not_suppressed(request.tenant.pk, values["email"])
            except AddressSuppressed as e:
                errors["email"] = str(e.message)
        if not errors:
            try:
                with transaction.atomic():
                    contact = do_create_contact(request.tenant, **values)
                    if consent["mailing_list"] is not None:
                        _subscribe_from_form(contact, consent)
            except (ContactExists, AddressSuppressed) as e:
                errors["email"] = str(e.message)
            else:
                messages.success(
                    request, _("The contact %(email)s is added.") % {"email": contact.email}
                )
                return redirect("audience:contact_detail", contact.pk)
        status, rows = 400, attribute_rows(post=request.POST)
        values = request.POST.dict()
    mailing_list = _list_filter(request)
    text = request.GET.get("q", "").strip()
    found = search_contacts(text, mailing_list)
    try:
        page, query = address_page(
            request,
            found.prefetch_related("subscriptions__mailing_list").order_by("email", "pk"),
            found,
            address="email",
            contact_id=lambda contact: contact.pk,
            seconds=COUNT_SECONDS,
        )
    except PageTooDeep:
        return _first_page(request)
    all_lists = list(MailingList.objects.all())
    return render(
        request,
        "audience/contacts.html",
        {
            "page": page,
            "query": query,
            "at_least": at_least_text(),
            "search": text,
            "list_filter": mailing_list,
            "lists": all_lists,
            "inputs": contact_inputs(values, errors),
            "attribute_rows": rows,
            "attributes_error": errors.get("attributes", ""),
            "consent": consent_inputs(values, errors, all_lists),
            "has_errors": errors,
        },
        status=status,
    )


def _contact_page(
    request, contact, *, values=None, errors=None, rows=None, consent=None, status=200
):
    subscriptions = list(
        Subscription.objects.filter(contact=contact).select_related("mailing_list")
    )
    on_lists = {s.mailing_list_id for s in subscriptions if s.status in ACTIVE}
    other_lists = [m for m in MailingList.objects.all() if m.pk not in on_lists]
    consent = consent or {}
    return render(
        request,
        "audience/contact_detail.html",
        {
            "contact": contact,
            "suppression": Suppression.objects.filter(
                email_hash=suppression_hash(contact.email)
            ).first(),
            "subscriptions": subscriptions,
            "inputs": contact_inputs(values or contact_values(contact), errors),
            "attribute_rows": rows or attribute_rows(contact.attributes),
            "attributes_error": (errors or {}).get("attributes", ""),
            "has_errors": errors,
            "other_lists": other_lists,
            "consent": consent_inputs(
                consent.get("values"), consent.get("errors"), other_lists, list_required=True
            ),
            "consent_error": consent.get("error", ""),
            "consent_has_errors": bool(consent.get("errors") or consent.get("error")),
        },
        status=status,
    )


@client_page
def contact_detail(request, contact_id):
    contact = _found(access_contact_for_tenant, contact_id)
    if request.method != "POST":
        return _contact_page(request, contact)
    values, errors = check_contact(request.POST, contact.attributes)
    if not errors and values["email"] != contact.email:
        try:
            check_not_suppressed(contact.tenant_id, values["email"])
        except AddressSuppressed as e:
            errors["email"] = str(e.message)
    if not errors:
        try:
            do_update_contact(contact, **values)
        except ContactExists as e:
            errors["email"] = str(e.message)
        else:
            messages.success(request, _("The contact's details are saved."))
            return redirect("audience:contact_detail", contact.pk)
    return _contact_page(
        request,
        access_contact_for_tenant(contact_id),
        values=request.POST.dict(),
        errors=errors,
        rows=attribute_rows(post=request.POST),
        status=400,
    )


@require_POST
@client_page
def contact_delete(request, contact_id):
    contact = _found(access_contact_for_tenant, contact_id)
    email = contact.email
    do_delete_contact(contact)
    messages.success(request, _("The contact %(email)s is deleted.") % {"email": email})
    return redirect("audience:contacts")


@require_POST
@client_page
def contact_erase(request, contact_id):
    do_erase_contact(_found(access_contact_for_tenant, contact_id), by=request.user)
    # The message names no address: it is kept in the session until shown.
    messages.success(
        request, _("The contact is erased; only a keyed trace stays to block the address.")
    )
    return redirect("audience:contacts")


@require_POST
@client_page
def contact_subscribe(request, contact_id):
    contact = _found(access_contact_for_tenant, contact_id)
    consent, errors = check_consent(request.POST, list_required=True)
    mailing_list = consent.get("mailing_list")
    if (
        not errors
        and (
            Subscription.objects.filter(
                contact=contact, mailing_list=mailing_list, status__in=ACTIVE
            )
        ).exists()
    ):
        errors["list"] = _("This contact is already on this list.")
    if not errors:
        try:
            _subscribe_from_form(contact, consent)
        except AddressSuppressed as e:
            return _contact_page(
                request,
                contact,
                consent={"values": request.POST.dict(), "error": str(e.message)},
                status=409,
            )
        messages.success(
            request,
            _("%(email)s is added to the list “%(name)s”.")
            % {"email": contact.email, "name": mailing_list.name},
        )
        return redirect("audience:contact_detail", contact.pk)
    return _contact_page(
        request,
        contact,
        consent={"values": request.POST.dict(), "errors": errors},
        status=400,
    )


@require_POST
@client_page
def subscription_unsubscribe(request, subscription_id):
    subscription = _found(access_subscription_for_tenant, subscription_id)
    do_unsubscribe_from_list(subscription)
    messages.success(
        request,
        _("%(email)s is unsubscribed from the list “%(name)s”.")
        % {"email": subscription.contact.email, "name": subscription.mailing_list.name},
    )
    return redirect(
        _next_or(request, reverse("audience:contact_detail", args=[subscription.contact_id]))
    )


# Suppression list --------------------------------------------------------------------------------


@client_page
def suppressions(request):
    email, errors, status = "", {}, 200
    if request.method == "POST":
        email, errors = check_suppression(request.POST)
        if not errors:
            if Suppression.objects.filter(email_hash=suppression_hash(email)).exists():
                messages.info(
                    request,
                    _("%(email)s is already on your suppression list.") % {"email": email},
                )
            else:
                do_suppress(request.tenant, email, SuppressionReason.MANUAL)
                messages.success(
                    request,
                    _("%(email)s is on your suppression list: it will not be mailed again.")
                    % {"email": email},
                )
            return redirect("audience:suppressions")
        status = 400
    page, query = _page(request, Suppression.objects.all())
    return render(
        request,
        "audience/suppressions.html",
        {
            "page": page,
            "query": query,
            "field": Field(
                "email",
                _("Email address"),
                "email",
                value=email,
                error=errors.get("email", ""),
                autocomplete="off",
            ),
            "manual": SuppressionReason.MANUAL,
        },
        status=status,
    )


@require_POST
@client_page
def suppression_remove(request, suppression_id):
    suppression = _found(access_suppression_for_tenant, suppression_id)
    if suppression.reason != SuppressionReason.MANUAL:
        messages.error(
            request,
            _(
                "This address stays on the suppression list: it records the person's own choice "
                "or a failed delivery (%(reason)s). Only an address added by hand can be removed."
            )
            % {"reason": suppression.get_reason_display()},
        )
        return redirect("audience:suppressions")
    email = suppression.email
    do_unsuppress(suppression)
    messages.success(
        request, _("%(email)s is no longer on your suppression list.") % {"email": email}
    )
    return redirect("audience:suppressions")


# The public sign-up form -------------------------------------------------------------------------


def _form_language(request):
    """The language the form was shown in: the embedded form says it; the hosted one follows the visitor."""
    language = request.POST.get("language", "")
    return language if language in dict(settings.LANGUAGES) else None


def _signup_inputs(data=None, errors=None):
    data, errors = data or {}, errors or {}
    return [
        Field(
            "name",
            _("Name (optional)"),
            value=data.get("name", ""),
            required=False,
            error=errors.get("name", ""),
            autocomplete="name",
            max_length=200,
            purpose=_("To greet you by name in the messages."),
        ),
        Field(
            "email",
            _("Email address"),
            "email",
            value=data.get("email", ""),
            error=errors.get("email", ""),
            autocomplete="email",
            max_length=254,
            purpose=_("To send you the messages you ask for, and nothing else."),
        ),
    ]


def _check_signup(post):
    errors, cleaned = {}, {}
    email = (post.get("email") or "").strip()
    if not email:
        errors["email"] = str(REQUIRED)
    else:
        try:
            cleaned["email"] = check_email(email)
        except Invalid as e:
            errors["email"] = str(e.message)
    cleaned["name"] = (post.get("name") or "").strip()
    if len(cleaned["name"]) > 200:
        errors["name"] = _("Use at most %(limit)d characters.") % {"limit": 200}
    if post.get("consent") not in ("on", "yes"):
        errors["consent"] = _("Tick the box to subscribe.")
    return cleaned, errors


def _signup_page(request, mailing_list, template, status=200, **context):
    return render(
        request,
        f"audience/{template}.html",
        {
            "mailing_list": mailing_list,
            "organisation": mailing_list.tenant,
            "sender": signup.sender_identity(mailing_list.tenant),
            "consent_words": signup.consent_words(mailing_list),
            "language": translation.get_language(),
            "honeypot": signup.HONEYPOT,
            **context,
        },
        status=status,
    )


@csrf_exempt
def public_signup(request, public_key):
    try:
        mailing_list = signup.signup_list(public_key)
    except NotFound:
        raise Http404 from None
    with translation.override(_form_language(request) or translation.get_language()):
        try:
            signup.check_tenant_can_send(mailing_list.tenant)
        except AccountNotConfirmed:
            return _signup_page(request, mailing_list, "signup_unavailable", status=403)
        if request.method != "POST":
            return _signup_page(request, mailing_list, "public_signup", inputs=_signup_inputs())
        try:
            signup.check_signup_rate(client_ip(request))
        except Throttled:
            return _signup_page(request, mailing_list, "signup_throttled", status=429)
        done = {"double_opt_in": mailing_list.double_opt_in}
        if request.POST.get(signup.HONEYPOT):
            return _signup_page(request, mailing_list, "signup_done", **done)
        cleaned, errors = _check_signup(request.POST)
        if errors:
            return _signup_page(
                request,
                mailing_list,
                "public_signup",
                status=400,
                inputs=_signup_inputs(request.POST, errors),
                consent_error=errors.get("consent", ""),
                consent_given=request.POST.get("consent") in ("on", "yes"),
            )
        signup.do_public_signup(
            mailing_list,
            email=cleaned["email"],
            name=cleaned["name"],
            wording=signup.consent_words(mailing_list),
            language=translation.get_language(),
        )
        return _signup_page(request, mailing_list, "signup_done", **done)


@csrf_exempt
def confirm_subscription(request, token):
    """Confirm with a button, not on opening the link: mail scanners open links on their own."""
    try:
        subscription = signup.subscription_from_link(token)
    except InvalidLink as e:
        return render(request, "audience/confirm_invalid.html", {"message": e.message}, status=400)
    if request.method == "POST" or subscription.status == SubscriptionStatus.SUBSCRIBED:
        if request.method == "POST":
            subscription = signup.do_confirm_signup(token)
        return _signup_page(
            request, subscription.mailing_list, "subscription_confirmed", subscription=subscription
        )
    return _signup_page(
        request,
        subscription.mailing_list,
        "confirm_subscription",
        subscription=subscription,
        token=token,
    )
