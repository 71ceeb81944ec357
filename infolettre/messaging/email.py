"""The operator's own messages to people: rendered in their language, identified as CASL requires."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import models
from django.template.loader import render_to_string
from django.utils import translation

from infolettre.privacy.disclosures import disclose_operator_message


class MessageKind(models.TextChoices):
    """The kinds the code keeps apart: each has its own rules on consent and unsubscribing."""

    WELCOME = "welcome"
    ACCOUNT = "account"  # replies to the person's own action: password reset, invitation
    SERVICE_NOTICE = "service_notice"
    PROMOTIONAL = "promotional"
    # The daily campaign activity report: each user may stop it from its own link.
    DAILY_REPORT = "daily_report"


def render_email(template, context, language):
    """Render `<template>_subject.txt`, `.txt` and `.html` in the recipient's language."""
    context = {"operator": settings.OPERATOR, "site_url": settings.SITE_URL, **context}
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    return subject, text, html


def send_email(*, kind, to, template, context, language, headers=None):
    subject, text, html = render_email(template, context, language)
    message = EmailMultiAlternatives(
        subject,
        text,
        settings.DEFAULT_FROM_EMAIL,
        [to],
        headers={**(headers or {}), "X-Infolettre-Kind": kind},
    )
    message.attach_alternative(html, "text/html")
    disclose_operator_message(kind, to)
    message.send()
