from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from infolettre.privacy.fields import EncryptedCharField

from .tenancy import TenantOwned, TenantScopedManager


class CompanySize(models.TextChoices):
    MICRO = "1-10", _("1 to 10 employees")
    SMALL = "11-50", _("11 to 50 employees")
    MEDIUM = "51-200", _("51 to 200 employees")
    LARGE = "201-1000", _("201 to 1,000 employees")
    ENTERPRISE = "1000+", _("More than 1,000 employees")


class Industry(models.TextChoices):
    RETAIL = "retail", _("Retail and e-commerce")
    SERVICES = "services", _("Professional services")
    TECHNOLOGY = "technology", _("Technology")
    MEDIA = "media", _("Media and publishing")
    EDUCATION = "education", _("Education")
    HEALTH = "health", _("Health")
    NONPROFIT = "nonprofit", _("Non-profit organisation")
    PUBLIC = "public", _("Public sector")
    MANUFACTURING = "manufacturing", _("Manufacturing")
    TOURISM = "tourism", _("Tourism and hospitality")
    OTHER = "other", _("Other")


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    NON_BINARY = "non_binary", _("Non-binary")
    SELF_DESCRIBED = "other", _("Other")


class HeardAbout(models.TextChoices):
    SEARCH = "search", _("A search engine")
    COLLEAGUE = "colleague", _("A colleague or a friend")
    SOCIAL = "social", _("Social media")
    EVENT = "event", _("An event or a conference")
    ADVERTISEMENT = "advertisement", _("An advertisement")
    OTHER = "other", _("Other")


class Organisation(models.Model):
    """A client organisation: the tenant that owns its users, lists and campaigns."""

    name = models.CharField(_("company name"), max_length=200)
    address = models.TextField(_("company address"))
    # Confidential (accounts.personal_data): encrypted at rest, clear only in Python.
    phone = EncryptedCharField(_("company phone"), max_length=32)
    fax = EncryptedCharField(_("company fax"), max_length=32, blank=True)
    website = models.URLField(_("company website"), max_length=300)
    company_size = models.CharField(
        _("company size"), max_length=16, choices=CompanySize.choices, blank=True
    )
    industry = models.CharField(_("industry"), max_length=32, choices=Industry.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("organisation")

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MEMBER = "member", _("Member")


class StaffRole(models.TextChoices):
    """The operator's staff roles (privacy.declaration says field by field what each may see)."""

    SUPPORT = "support", _("Support")
    BILLING = "billing", _("Billing")
    PRIVACY_OFFICER = "privacy_officer", _("Privacy officer")
    ADMINISTRATOR = "administrator", _("Administrator")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    """A person who signs in: a client user (with an organisation) or a member of the operator's staff."""

    tenant = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="users"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title"), max_length=200)
    gender = models.CharField(_("gender"), max_length=16, choices=Gender.choices, blank=True)
    heard_about = models.CharField(
        _("how you heard of us"), max_length=32, choices=HeardAbout.choices, blank=True
    )
    language = models.CharField(_("language"), max_length=8, default="fr")
    email_confirmed_at = models.DateTimeField(_("address confirmed on"), null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    staff_role = models.CharField(
        _("staff role"), max_length=16, choices=StaffRole.choices, blank=True
    )
    # The daily campaign activity report is sent unless the person stopped it (from its own link).
    daily_report_stopped_at = models.DateTimeField(
        _("daily activity report stopped on"), null=True, blank=True
    )
    date_joined = models.DateTimeField(_("account created on"), default=timezone.now)

    objects = UserManager()
    # Members of the active organisation only; sign-in alone reads across tenants (objects).
    members = TenantScopedManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        verbose_name = _("user account")

    def __str__(self):
        return self.name

    @property
    def email_confirmed(self):
        return self.email_confirmed_at is not None

    @property
    def is_owner(self):
        return self.role == Role.OWNER


class ApiToken(TenantOwned):
    """A personal API token: shown once, stored as a digest, revocable."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("token name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(_("token digest"), max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(_("last used on"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")


class Invitation(TenantOwned):
    """An owner's invitation to join their organisation with a role."""

    email = models.EmailField(_("invited address"))
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("invitation")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=models.Q(accepted_at__isnull=True),
                name="one_pending_invitation_per_address",
            )
        ]
