"""Settings shared by every deployment; each value that differs between machines comes from the environment."""

from pathlib import Path

import environ
from django.utils.csp import CSP

from .mail import mailer_from_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public address of the site, used in links sent by email.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Only for its static files: the API docs page then loads no script from a CDN and runs none
    # inline, as the Content-Security-Policy requires.
    "ninja",
    "django_tasks_db",
    "infolettre.privacy",
    "infolettre.accounts",
    "infolettre.webhooks",
    "infolettre.messaging",
    "infolettre.audience",
    "infolettre.campaigns",
    "infolettre.engagement",
    "infolettre.analytics",
    "django_otp",
    "infolettre.staff",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The click redirect and the open pixel are answered here (infolettre/hot_routes.py says why).
    "infolettre.hot_routes.HotRouteMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "infolettre.accounts.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "infolettre.staff.middleware.StaffAreaMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "infolettre.accounts.rate_limits.PublicRateLimitMiddleware",
    # Big figures past their period are counted again once the answer is sent (infolettre/counts.py).
    "infolettre.counts.RecountAfterResponseMiddleware",
]

ROOT_URLCONF = "infolettre.urls"
# The routes HotRouteMiddleware answers ahead of the rest of the middleware.
HOT_URLCONF = "infolettre.campaigns.hot_urls"
WSGI_APPLICATION = "infolettre.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "infolettre" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "infolettre.accounts.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'infolettre.sqlite3'}")
}
if not env.str("DATABASE_URL", default=""):
    VAR_DIR.mkdir(exist_ok=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web app and the worker read while the other writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Django's Redis cache, reusing its redis-py client (infolettre/redis_cache.py says why).
    CACHES = {"default": {"BACKEND": "infolettre.redis_cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Shared by every process of the embedded default (sign-in throttling must see all workers).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "infolettre_cache",
        }
    }

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
if REDIS_URL and env.bool("TASKS_ON_REDIS", default=False):
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL}}
    INSTALLED_APPS.append("django_rq")
    RQ = {"WORKER_CLASS": "infolettre.rq_worker.Worker"}
# How often an RQ worker checks that the scheduler of deferred tasks runs (infolettre/rq_worker.py).
RQ_MAINTENANCE_SECONDS = env.int("RQ_MAINTENANCE_SECONDS", default=60)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:dashboard"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 2
# How long the link of the welcome message confirms an address.
EMAIL_CONFIRMATION_MAX_AGE = env.int("EMAIL_CONFIRMATION_MAX_AGE", default=60 * 60 * 24 * 3)
INVITATION_MAX_AGE = 60 * 60 * 24 * 7
# How long a privacy request's signed link proves the address and opens the access file.
PRIVACY_REQUEST_LINK_MAX_AGE = env.int("PRIVACY_REQUEST_LINK_MAX_AGE", default=60 * 60 * 24 * 7)
# Sign-in throttling: this many failures for one address (or one network) within the window lock it.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_NETWORK_FAILURE_LIMIT = env.int("LOGIN_NETWORK_FAILURE_LIMIT", default=50)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=15 * 60)
# Public forms (registration, password reset): POSTs per network (/24, /48) within the window.
PUBLIC_FORM_LIMIT = env.int("PUBLIC_FORM_LIMIT", default=20)
PUBLIC_FORM_WINDOW = env.int("PUBLIC_FORM_WINDOW", default=60 * 60)
# Pages opened by a signed link (unsubscribe, preferences, confirmations): invalid or expired links
# per network within the window, after which the network is refused on every such page.
INVALID_LINK_LIMIT = env.int("INVALID_LINK_LIMIT", default=30)
INVALID_LINK_WINDOW = env.int("INVALID_LINK_WINDOW", default=60 * 60)

# The staff area (/equipe/...) answers only to these networks (CIDR list); a staff account signs in
# from nowhere else. The client address is REMOTE_ADDR, or, when REMOTE_ADDR is one of
# TRUSTED_PROXIES, the right-most X-Forwarded-For entry that is not one of them.
OFFICE_NETWORKS = env.str("OFFICE_NETWORKS", default="127.0.0.0/8,::1/128")
TRUSTED_PROXIES = env.str("TRUSTED_PROXIES", default="")
# The name authenticator apps show beside a staff member's second factor.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Infolettre")
# The longest a client's support access grant may last.
ACCESS_GRANT_MAX_DAYS = 7

# The session cookie dies with the browser, as the policy promises.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# One policy in every environment, so that a page it breaks shows in development and in the tests.
# No inline script anywhere: a script that must be inline carries the nonce (CSP.NONCE, the
# `csp_nonce` template variable). Inline styles are allowed: the previews of a campaign (srcdoc
# frames, which inherit this policy) are email HTML, made of style attributes and <style> blocks,
# and htmx inserts its own small <style>. Images may come from any https host because a campaign's
# preview shows the client's images where they are hosted.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "https:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Phone numbers written without a country code are read as numbers of this region.
DEFAULT_PHONE_REGION = env.str("DEFAULT_PHONE_REGION", default="CA")

# The keys of the confidential fields' encryption at rest (privacy.encryption): comma-separated,
# URL-safe base64 of 32 random bytes each; the first encrypts, every one decrypts. Unset, a public
# development key is used, which production refuses (settings/prod.py).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "infolettre" / "locale"]
USE_I18N = True
TIME_ZONE = env.str("TIME_ZONE", default="America/Toronto")
USE_TZ = True

# Uploaded files (contact imports and their reports); a shared volume when workers run on several machines.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never served publicly: downloads go through views that check the tenant

# The largest contact file an import accepts.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=200 * 1024 * 1024)

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

EMAIL_URL = env.str("EMAIL_URL", default="smtp://127.0.0.1:1025")
MAILERS = {"default": mailer_from_url(EMAIL_URL)}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Infolettre <bonjour@infolettre.local>")
# The local mail catcher writes what it receives here; /dev/outbox/ shows it when DEBUG.
OUTBOX_DIR = Path(env.str("OUTBOX_DIR", default=str(VAR_DIR / "outbox")))

# Campaign sending. The transport defaults to EMAIL_URL; mailer://<alias> names a MAILERS entry
# (a delivery provider through django-anymail).
CAMPAIGN_TRANSPORT_URL = env.str("CAMPAIGN_TRANSPORT_URL", default=EMAIL_URL)
# Other transports the operator may give a client (its sending profile): name=url pairs.
CAMPAIGN_TRANSPORTS = env.dict("CAMPAIGN_TRANSPORTS", default={})
# The disclosure log names each processor that receives mail. Our own relay on these hosts is not a
# third party (it hands mail to the recipient's own provider), so sending through it logs nothing.
LOCAL_MAIL_HOSTS = env.list("LOCAL_MAIL_HOSTS", default=["localhost", "127.0.0.1", "::1"])
# A processor's name by host, "mailer:<alias>" or scheme: smtp.postmarkapp.com=Postmark,...
PROCESSOR_NAMES = env.dict("PROCESSOR_NAMES", default={})
# Processor name -> dotted path of a function(email, categories) -> outcome, for a processor with
# an API to pass corrections on; email providers have none (privacy.disclosures).
PROCESSOR_CORRECTION_HANDLERS = {}
CAMPAIGN_LANES = env.int("CAMPAIGN_LANES", default=2)
CAMPAIGN_BATCH_SIZE = env.int("CAMPAIGN_BATCH_SIZE", default=200)
CAMPAIGN_LANE_SECONDS = env.int("CAMPAIGN_LANE_SECONDS", default=60)
# A worker's claim on a batch; after a crash the batch waits this long before another worker takes it.
CAMPAIGN_CLAIM_SECONDS = env.int("CAMPAIGN_CLAIM_SECONDS", default=300)
CAMPAIGN_RATE_PER_SECOND = env.int("CAMPAIGN_RATE_PER_SECOND", default=0)
CAMPAIGN_MAX_ATTEMPTS = env.int("CAMPAIGN_MAX_ATTEMPTS", default=5)
CAMPAIGN_RETRY_SECONDS = env.int("CAMPAIGN_RETRY_SECONDS", default=60)
# A campaign under way from which no message has left for this long is shown as delayed, and the
# watchdog (campaigns.tasks.restart_stalled_campaigns) restarts its lanes if messages are due.
CAMPAIGN_STALL_SECONDS = env.int("CAMPAIGN_STALL_SECONDS", default=120)
# Return paths (VERP) and one-click mailto unsubscribes use this domain; its MX is the bounce server.
BOUNCE_DOMAIN = env.str("BOUNCE_DOMAIN", default="bounces.infolettre.local")
BOUNCE_SERVER_HOST = env.str("BOUNCE_SERVER_HOST", default="127.0.0.1")
BOUNCE_SERVER_PORT = env.int("BOUNCE_SERVER_PORT", default=2526)
# Soft bounces (mailbox full, greylisting) of one address within 30 days before it is suppressed.
SOFT_BOUNCE_LIMIT = env.int("SOFT_BOUNCE_LIMIT", default=3)
# Webhooks may call private or loopback addresses (and plain http on loopback): development only.
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)

CAMPAIGN_TEST_SENDS_PER_HOUR = env.int("CAMPAIGN_TEST_SENDS_PER_HOUR", default=50)
# A sender address's confirmation link: how long it works, and how often a new one may be asked.
SENDER_VERIFICATION_MAX_AGE = env.int("SENDER_VERIFICATION_MAX_AGE", default=60 * 60 * 24 * 3)
SENDER_LINK_INTERVAL = env.int("SENDER_LINK_INTERVAL", default=300)

# Periodic tasks `manage.py scheduler` enqueues once a day when their local time (TIME_ZONE) comes:
# (dotted path of the task, "HH:MM"). Each task is safe to enqueue twice on the same day.
DAILY_REPORT_TIME = env.str("DAILY_REPORT_TIME", default="07:00")
PERIODIC_TASKS = [("infolettre.analytics.tasks.send_daily_reports", DAILY_REPORT_TIME)]
# Retention: days per "app.Model" or category code, instead of the declaration's periods.
RETENTION_OVERRIDES = {k: int(v) for k, v in env.dict("RETENTION_OVERRIDES", default={}).items()}
PERIODIC_TASKS += [("infolettre.privacy.tasks.apply_retention", "03:00")]
# Webhook retries are deferred tasks; this daily sweep catches any a crashed worker left behind.
PERIODIC_TASKS += [("infolettre.webhooks.tasks.retry_due_webhooks", "04:30")]
# Campaign lanes die with their worker, the database connection or the task queue: every minute the
# watchdog restarts the lanes of campaigns whose messages stopped leaving.
PERIODIC_TASKS += [("infolettre.campaigns.tasks.restart_stalled_campaigns", "every 60s")]
# Finished tasks of the database task engine are deleted after this many days.
TASK_RESULT_DAYS = 14
PERIODIC_TASKS += [("infolettre.analytics.tasks.prune_finished_tasks", "04:45")]
# With Redis, opens and clicks are counted there (keys under this prefix) and moved into the tables
# every minute (campaigns.tracking_counters); without it they are written at once.
TRACKING_COUNTER_PREFIX = env.str("TRACKING_COUNTER_PREFIX", default="infolettre:tracking")
# Each web process keeps a tracked link's address this long too (a link never changes; a deleted
# campaign's links lead nowhere once this and the shared cache's ten minutes are over).
TRACKING_LOCAL_SECONDS = 60
if REDIS_URL:
    PERIODIC_TASKS += [
        ("infolettre.campaigns.tracking_counters.flush_tracking_counters", "every 60s")
    ]

# Who runs this deployment: shown in the policy, in the footer and in every message.
OPERATOR = {
    "name": env.str("OPERATOR_NAME", default="Infolettre"),
    "address": env.str(
        "OPERATOR_ADDRESS", default="1000, rue Sherbrooke Ouest, Montréal (Québec) H3A 3G4"
    ),
    "privacy_officer": env.str("PRIVACY_OFFICER_NAME", default="Direction générale"),
    "privacy_email": env.str("PRIVACY_EMAIL", default="vieprivee@infolettre.local"),
}

# Personal data never goes into logs; the filter masks any address or phone number that slips in.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "infolettre.privacy.log_redaction.RedactPersonalData"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own handlers would print unfiltered lines; everything goes through ours instead.
    "loggers": {"django": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
