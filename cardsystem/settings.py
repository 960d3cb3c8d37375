"""Settings for cardsystem, read from the environment (django-environ) and nothing else.

Out of the box (no environment) the project runs for a local trial: DEBUG on, an
SQLite file beside manage.py, development keys. Production is chosen by variables,
never by a second settings module: with DEBUG=false a missing SECRET_KEY or
CARD_DATA_KEY is a start-up error (system checks cardsystem.E001/E002).
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)

# Development-only fallbacks. They are never used with DEBUG=false: there the
# empty value fails the system checks in cardsystem/checks.py.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105
_DEV_CARD_DATA_KEY = "dev-only-insecure-card-data-key-0123456789abcdef"

SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
CARD_DATA_KEY = env.str("CARD_DATA_KEY", default=_DEV_CARD_DATA_KEY if DEBUG else "")
# Earlier CARD_DATA_KEY values, still able to decrypt and verify cards issued under
# them (key rotation). Comma-separated.
CARD_DATA_OLD_KEYS = env.list("CARD_DATA_OLD_KEYS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "cardsystem.admin_queries.BackOfficeAdminConfig",  # django.contrib.admin, every changelist guarded
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "django_countries",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    # Before cardsystem: its admin module withdraws the TOTP device admin these register.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "cardsystem",
    "bins",
    "cards",
    "transactions",
    "fraud",
    "demo",
]

MIDDLEWARE = [
    # First: the load balancers' probes, answered before the HTTPS redirect, the
    # ALLOWED_HOSTS check and sessions (cardsystem/health.py says why).
    "cardsystem.health.ProbeMiddleware",
    # GET /metrics, for loopback or the METRICS_TOKEN, before the same middleware
    # (cardsystem/metrics_endpoint.py).
    "cardsystem.metrics_endpoint.MetricsMiddleware",
    "cardsystem.middleware.RejectNulBytesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who changes staff users, groups and permissions (cardsystem/staff_audit.py).
    "cardsystem.staff_audit.RequestActorMiddleware",
    # request.user.is_verified(): the back office's second factor (cardsystem/mfa.py).
    "django_otp.middleware.OTPMiddleware",
    "cardsystem.sessions.IdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cardsystem.urls"
WSGI_APPLICATION = "cardsystem.wsgi.application"
ASGI_APPLICATION = "cardsystem.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock at BEGIN, so concurrent writers
    # queue behind busy_timeout instead of failing with "database is locked" when
    # a deferred transaction tries to upgrade its lock. WAL lets readers proceed.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file, not shared-cache memory, so that threads get real,
    # separate connections and the concurrency tests mean something.
    _db["TEST"] = {"NAME": env.str("SQLITE_TEST_NAME", default=str(BASE_DIR / ".test-db.sqlite3"))}
# No server-side parameter binding on PostgreSQL for Django's own cursors: Django then
# binds a plain int in an expression such as F("balance_minor") + amount as int4, and a
# top-up above 2**31 minor units was truncated (tried on 4 December 2026:
# tests/transactions/test_extremes.py caught it). Those client-side cursors never prepare.
# Only cardsystem/sql.py `prepared_cursor` prepares (the decision's long read); Django
# passes psycopg a prepare_threshold of None, which forbids preparing at all, so it is
# set back to psycopg's default here. Behind PgBouncer in transaction mode this needs
# PgBouncer 1.21 or later with max_prepared_statements set (README, "Scale plan").
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db.setdefault("OPTIONS", {})["prepare_threshold"] = 5
# Persistent connections: without them every request reconnects (and on SQLite
# re-runs the PRAGMAs above).
_db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A persistent connection is checked before a request reuses it (a `SELECT 1`); an API
# request's first statement, the read of its key, is the check itself (cardsystem/sql.py
# `first_read`).
_db["CONN_HEALTH_CHECKS"] = True
# The partial indexes of declines carry non-key columns on PostgreSQL (INCLUDE, see
# transactions/models.py); SQLite keeps their keys alone, which is all it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The service layer is the transaction boundary (STYLE.md).
ATOMIC_REQUESTS = False

# --- Cache ----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that does not answer (not one that refuses) must not hold a request
            # or /readyz for the kernel's TCP timeout.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Staff authentication -----------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "cardsystem.passwords.GuessabilityValidator"},
]

# Staff sessions end after 15 idle minutes: every request pushes the expiry on,
# except background polls (cardsystem/sessions.py).
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=15 * 60)
# However active, a staff session ends this long after its login (a working day).
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=8 * 60 * 60)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True

# django-axes: 10 failed logins lock the account (from any address) and, separately,
# the source address, for 30 minutes. A successful login clears the counters of its
# username and address, so one colleague's typos behind a shared office address do
# not pile up into a lockout of the whole office.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# The 30 minutes run from the lockout: attempts during it do not restart them.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "axes/lockout.html"
# The same client address as the API's limits and the audit log (TRUSTED_PROXY_COUNT below).
AXES_CLIENT_IP_CALLABLE = "cardsystem.client_ip.client_ip"
AXES_VERBOSE = False
# A card number typed as a login name is counted and stored masked (cardsystem/receivers.py).
AXES_USERNAME_CALLABLE = "cardsystem.receivers.axes_username"
# What django-axes copies of a failed login's form into its tables: never the password
# (always masked) nor a second-factor code.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]

# Staff need a second factor, a TOTP code from an authenticator app (or a recovery code),
# after their password (cardsystem/mfa.py). On by default in production; a local trial
# (DEBUG) logs in with the password alone.
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=not DEBUG)
# How long the code page waits after the password was accepted.
STAFF_MFA_PENDING_SECONDS = 5 * 60
OTP_TOTP_ISSUER = "cardsystem back office"
# django-otp's own admin pages would show a device's secret and QR code: they are not
# registered (cardsystem/admin_mfa.py), and this is the library's switch for the same.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Four eyes: a manual top-up from the back office above this amount (a decimal string in
# the card currency's major units, whole units for a currency without them) waits for a
# second person's approval. The API's top-ups are not held (cards/change_kinds.py).
TOP_UP_APPROVAL_ABOVE = env.str("TOP_UP_APPROVAL_ABOVE", default="1000.00")

# --- HTTPS (production) -----------------------------------------------------------
HTTPS_ONLY = env.bool("HTTPS_ONLY", default=not DEBUG)
if HTTPS_ONLY:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- I18N, static ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Request bodies: the API takes small JSON documents only.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024)

# Tracebacks (DEBUG pages and error reports) never show card data.
DEFAULT_EXCEPTION_REPORTER_FILTER = "cardsystem.errors.CardDataExceptionReporterFilter"

# --- Client addresses and rate limits ----------------------------------------------------
# How many proxies in front of the app servers append to X-Forwarded-For (nginx: 1). 0, the
# default, ignores the header: a client could write any address in it.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Failed API authentications from one address beyond this rate answer 429 (per second,
# minute or hour; cardsystem/throttling.py). Per-client rates are set by staff, per scope.
API_AUTH_FAILURE_RATE = env.str("API_AUTH_FAILURE_RATE", default="100/minute")

# Load what the first request needs (the fraud model, the live configuration, the database
# connection) when a server process loads cardsystem.wsgi, before it serves
# (cardsystem/warmup.py). false: lazily, at the first request that needs each.
WARM_UP = env.bool("WARM_UP", default=True)

# A Prometheus server scraping /metrics from another machine sends it as a bearer token;
# empty: only this machine's loopback reads the metrics (cardsystem/metrics_endpoint.py).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["cardsystem.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["cardsystem.authentication.HasRequiredScope"],
    "DEFAULT_PARSER_CLASSES": ["cardsystem.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "cardsystem.api.CursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["cardsystem.filtering.StrictFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "cardsystem.schema.AutoSchema",
    "EXCEPTION_HANDLER": "cardsystem.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["cardsystem.throttling.ClientScopeRateThrottle"],
    # Read by cardsystem.client_ip for every use of the client's address.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "cardsystem API",
    "DESCRIPTION": "Card issuing, management and real-time authorization. "
    "Authenticate with `Authorization: Bearer <key>`. A request body may hold only the "
    "fields its schema lists; a query parameter must be one the operation lists, given "
    "once and not empty. Anything else is a 400 naming the field or parameter.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cardsystem.schema.document_rate_limits",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CountryEnum": "cardsystem.api.COUNTRY_CHOICES",
        "CardStatusEnum": "cards.models.Card.Status",
        "TransactionStatusEnum": "transactions.models.Transaction.Status",
    },
}

# --- Logging ------------------------------------------------------------------------------
# One JSON object per line. Each authorization decision is one line on the
# "cardsystem.authorizations" logger, to stdout and to a rotating file; it carries the
# masked PAN only (transactions/services/authorizations.py).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_DIR = Path(env.str("LOG_DIR", default=str(BASE_DIR / "logs")))
LOG_DIR.mkdir(parents=True, exist_ok=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            # Masks card numbers in every line, whatever a request put in them.
            "()": "cardsystem.log_scrubbing.ScrubbingJsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "level": LOG_LEVEL},
        "decisions_file": {
            # Rotation under a file lock: several gunicorn workers share the file.
            "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
            "filename": str(LOG_DIR / "authorizations.log"),
            "maxBytes": env.int("LOG_FILE_MAX_BYTES", default=50 * 1024 * 1024),
            "backupCount": env.int("LOG_FILE_BACKUPS", default=10),
            "formatter": "json",
            "delay": True,
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "axes": {"level": "WARNING"},
        # Django's own handlers (a console copy with DEBUG on, runserver's request lines)
        # would write unscrubbed: its records go to the root's console alone.
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "cardsystem.authorizations": {"handlers": ["decisions_file"], "level": "INFO"},
    },
}
