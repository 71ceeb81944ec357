"""The development outbox: the messages the local mail catcher kept, mounted at /dev/outbox/ when DEBUG."""

from email.utils import parsedate_to_datetime

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .catcher import message_names, read_headers, read_message

# The list shows this many of the newest messages; the folder may hold more.
LIST_LIMIT = 500


def _date(message):
    try:
        return parsedate_to_datetime(message["Date"])
    except (TypeError, ValueError):
        return None


def _summary(name, message):
    return {
        "name": name,
        "date": _date(message),
        "sender": message.get("From", ""),
        "to": message.get("To", ""),
        "subject": message.get("Subject", ""),
    }


@require_http_methods(["GET", "POST"])
def outbox(request):
    """List the caught messages, newest first; a POST deletes them all."""
    directory = settings.OUTBOX_DIR
    names = message_names(directory)
    if request.method == "POST":
        for name in names:
            (directory / name).unlink(missing_ok=True)
        return redirect("messaging:outbox")
    messages = [_summary(name, read_headers(directory / name)) for name in names[:LIST_LIMIT]]
    return render(
        request,
        "messaging/outbox.html",
        {"outbox_messages": messages, "total": len(names), "directory": directory},
    )


def _part(message, subtype):
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    return part.get_content()


@require_GET
def outbox_message(request, name):
    """Show one caught message; only a name found in the outbox folder is opened."""
    directory = settings.OUTBOX_DIR
    if name not in message_names(directory):
        raise Http404("No such message in the outbox.")
    path = directory / name
    message = read_message(path)
    attachments = [
        part.get_filename() or part.get_content_type() for part in message.iter_attachments()
    ]
    return render(
        request,
        "messaging/outbox_message.html",
        {
            "message": _summary(name, message),
            "headers": list(message.items()),
            "text": _part(message, "plain"),
            "html": _part(message, "html"),
            "attachments": attachments,
            "source": path.read_bytes().decode("utf-8", errors="replace"),
        },
    )
