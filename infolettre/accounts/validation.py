"""Checks shared by the web forms and the API: each returns the normalised value or raises Invalid."""

import phonenumbers
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email

from infolettre.errors import Invalid


def check_email(value):
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise Invalid(_("Enter a valid email address.")) from None


def check_phone(value):
    try:
        number = phonenumbers.parse(value.strip(), settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Invalid(_("Enter a valid phone number, for example +1 514 555 0123."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_website(value):
    value = value.strip()
    if "://" not in value:
        value = f"https://{value}"
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise Invalid(
            _("Enter a valid website address, for example https://example.com.")
        ) from None
    return value


def check_password(value, user=None):
    try:
        password_validation.validate_password(value, user)
    except ValidationError as e:
        raise Invalid(" ".join(e.messages)) from None
    return value


def check_choice(value, choices):
    if value and value not in dict(choices):
        raise Invalid(_("Choose one of the proposed answers."))
    return value
