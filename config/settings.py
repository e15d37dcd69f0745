"""All settings, read from the environment in this one module.

Defaults are safe for a laptop demo (SQLite under var/, Celery tasks run in-process);
production sets SECRET_KEY, DATABASE_URL and CELERY_BROKER_URL.
"""

import os
import re
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()

# A laptop's own settings, written once by `make demo` (DEBUG=1 and a generated
# SECRET_KEY), so the README's manage.py commands run as written after it. Production has
# no such file, so it still refuses to start without a SECRET_KEY; a variable set in the
# environment always wins over the file. LOCAL_SETTINGS_FILE="" reads none.
LOCAL_SETTINGS_FILE = env.str("LOCAL_SETTINGS_FILE", default=str(VAR_DIR / "local.env"))
if LOCAL_SETTINGS_FILE and Path(LOCAL_SETTINGS_FILE).is_file():
    environ.Env.read_env(LOCAL_SETTINGS_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

_DEMO_SECRET_KEY = "demo-only-insecure-key-do-not-use-in-production"  # noqa: S105
# Read as it is, not through django-environ, which takes a value that starts with "$" for
# the name of another variable: about one key in fifty that Django generates does.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEMO_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "django_htmx",
    "csp",
    # The OpenAPI schema (/api/schema/) and Swagger UI (/api/docs/), its files served by us.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Lowest layer first; each app imports only those above it in this list (make lint).
    "accounts",
    "inbox",
    "triage",
    "routing",
    "billing",
    "pipeline",
    "workspace",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Each request starts and ends in UTC; views activate their clinic's zone.
    "config.time_zone.ResetTimeZoneMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the body or a parameter: size and NUL refusals (config/input.py).
    "config.request_limits.RequestLimitsMiddleware",
    # Below WhiteNoise: static files keep their long caching and need no policy.
    "config.security_headers.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    # /admin/ in the clinic's time zone, named (accounts/admin_time.py).
    "accounts.admin_time.AdminClinicTimeMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it sees what views raise first: database down -> 503, /api/ -> never HTML.
    "config.unavailable.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.clinic_switcher",
                "accounts.context_processors.idle_timeout",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
# Connections are kept between requests and between worker tasks (config.celery): opening
# one cost 12% of a routed message's time (issue 23). The health check at the start of
# each request or task replaces a connection the server dropped (restart, failover, idle
# kill) instead of failing the first query on it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Names each process's connections in pg_stat_activity (which tier holds how many).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "application_name", env.str("DATABASE_APPLICATION_NAME", default="portal_triage")
    )
    # An unreachable database host answers 503 within seconds (config.errors), instead of
    # holding the request for the operating system's TCP timeout (minutes).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
# What a 503 tells clients (the portal, a browser) to wait before trying again while the
# database is unreachable.
DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS = env.int(
    "DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS", default=10
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The lockout backend comes first: it refuses a locked-out username's (or address's)
# sign-in before the password is checked (accounts/backends.py).
AUTHENTICATION_BACKENDS = [
    "accounts.backends.SignInLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed sign-ins (recorded in the database, shared by every web process): this many for
# one username within LOGIN_LOCKOUT_MINUTES lock it for LOGIN_LOCKOUT_MINUTES, even with
# the right password; LOGIN_LOCKOUT_IP_FAILURES, over any usernames, lock one address
# (0 turns either off). Behind proxies or load balancers, LOGIN_LOCKOUT_PROXY_COUNT says
# how many append to X-Forwarded-For, so the address counted is the client's, not theirs.
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
# Off by default: behind a load balancer with LOGIN_LOCKOUT_PROXY_COUNT unset, every
# sign-in would count as the balancer's address, and 50 typos over the whole staff would
# lock everyone out of a clinical system. Turn it on (e.g. 50) with the proxy count right.
LOGIN_LOCKOUT_IP_FAILURES = env.int("LOGIN_LOCKOUT_IP_FAILURES", default=0)
LOGIN_LOCKOUT_PROXY_COUNT = env.int("LOGIN_LOCKOUT_PROXY_COUNT", default=0)
if (
    LOGIN_LOCKOUT_MINUTES < 1
    or min(LOGIN_LOCKOUT_FAILURES, LOGIN_LOCKOUT_IP_FAILURES, LOGIN_LOCKOUT_PROXY_COUNT) < 0
):
    raise ImproperlyConfigured(
        "LOGIN_LOCKOUT_MINUTES must be at least 1; the other LOGIN_LOCKOUT_* not negative."
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files from the app itself (no CDN, no separate server).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# Staff screens: signed out after this long without a click (background refreshes of
# the queue counts do not count as activity).
SESSION_IDLE_TIMEOUT_SECONDS = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=15 * 60)
# The stored session ends with the idle window too (every click saves it, so it runs
# from the last one): a forgotten session is dead for /api/ as well, which the idle
# middleware does not watch. The cookie itself lasts until the browser closes, so a page
# left open still sends it and accounts.middleware can say "signed out after inactivity".
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)

# --- HTTPS and browser hardening -------------------------------------------------------
# On by default in production (DEBUG off), off in development; each can be set from the
# environment, e.g. a short SECURE_HSTS_SECONDS for a first rollout. Behind a proxy or
# load balancer that ends TLS, SECURE_PROXY_SSL_HEADER names the header it sets (e.g.
# HTTP_X_FORWARDED_PROTO, meaning "X-Forwarded-Proto: https"); without it every request
# looks like plain HTTP and SECURE_SSL_REDIRECT would redirect forever.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Paths (regular expressions, no leading slash) still answered over plain HTTP: the
# health probes of a load balancer or orchestrator, which carry no patient data.
SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=[r"^health/"])
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
_PROXY_SSL_HEADER = env.str("SECURE_PROXY_SSL_HEADER", default="")
if _PROXY_SSL_HEADER and not re.fullmatch(r"HTTP_[A-Z0-9_]+", _PROXY_SSL_HEADER):
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER is a request.META name such as HTTP_X_FORWARDED_PROTO."
    )
SECURE_PROXY_SSL_HEADER = (_PROXY_SSL_HEADER, "https") if _PROXY_SSL_HEADER else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script or style anywhere (tests/config/test_security_headers.py checks the
# templates): every script is a static file wired by data- attributes, so an injected
# <script> or onclick= does not run. No page uses data: images, so img-src allows none.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Request bodies: a message is at most 20,000 characters (MESSAGE_BODY_MAX_CHARS), under
# 120 kB even with every character JSON-escaped; 1 MB leaves room and refuses anything
# else with a 413 before it is read (config.request_limits). Nothing here uploads files.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# No API payload nests more than three levels; deeper JSON is refused with a 400.
JSON_MAX_DEPTH = 32

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Staff work by default; the integration endpoints say IsIntegration instead.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.IsStaff",
        "accounts.permissions.TokenScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.request_limits.DepthLimitedJSONParser"],
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.AutoSchema",
}

# The API's OpenAPI 3 description (config/api_schema.py; committed as docs/api/openapi.yaml,
# which `make lint` compares with what the code says). Any signed-in principal, staff or
# integration, may read it: integrators generate clients from it; it holds no patient data.
SPECTACULAR_SETTINGS = {
    "TITLE": "Portal triage API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Patient portal messages in, replies out (the portal's and EHR's integration "
        "tokens), and the clinic staff's work items, time and e-visits. Authenticate with "
        "`Authorization: Bearer pt_...` (an API token, scoped to clinics and to scopes such "
        "as `work:read`) or a signed-in staff session. Every error answers one shape, "
        "`Error`: a machine-readable `code`, a sentence in `detail`, and for invalid input "
        "the fields in `errors`. See docs/integration.md."
    ),
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's scripts and styles from our own static files: the CSP allows no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_schema.add_error_responses",
    ],
}

# --- Celery --------------------------------------------------------------------------
# With no broker configured, tasks run in-process (the demo); with one, real workers.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Delivery is at least once: a task is acknowledged after it ran, and put back when its
# worker dies. Every task re-checks state under a row lock, so a second run is harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Longer than the longest task (training, exports), so Redis does not hand a running
# task to a second worker.
# A web request publishes its message's task after the commit. With Redis down or hung,
# kombu waits forever on a dead socket and retries the publish 3 times by default: the
# portal's request would hang, though the message is stored and the stuck-message sweep
# enqueues it later. So a publish gives up after about two broker timeouts (tested in
# tests/config/test_error_answers.py); Redis answers in milliseconds when it is up.
CELERY_BROKER_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=1.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
    "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
    # Message priorities on Redis: one list per step (`triage`, `triage\x06\x163`, ...;
    # kombu's default steps and separator, spelled out because the key names depend on
    # them), and a worker pops the lists highest priority (0) first.
    "priority_steps": [0, 3, 6, 9],
    "sep": "\x06\x16",
}
CELERY_BROKER_CONNECTION_TIMEOUT = CELERY_BROKER_SOCKET_TIMEOUT
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# triage: classify and route (nothing slow ever waits in front of an emergent message);
# default: notifications and sweeps; slow: replay, training, exports.
CELERY_TASK_DEFAULT_QUEUE = "default"
# Emergent first under a burst (pipeline/priority.py): a message whose red flags say
# emergent is sent at priority 0, the highest on Redis; an urgent red flag at 3; any other
# message at 6, also when sent without a priority (the stuck-message sweep), since the
# route below supplies it. An emergent task is thus the next one a free worker process
# takes, however many routine ones wait (workers prefetch one task per process).
TRIAGE_PRIORITY_EMERGENT = 0
TRIAGE_PRIORITY_URGENT = 3
TRIAGE_PRIORITY_ROUTINE = 6
CELERY_TASK_ROUTES = {
    "pipeline.tasks.classify_and_route": {
        "queue": "triage",
        "priority": TRIAGE_PRIORITY_ROUTINE,
    },
    # A chunk of a bulk intake's routine messages (pipeline.receivers): the same queue.
    "pipeline.tasks.classify_and_route_many": {
        "queue": "triage",
        "priority": TRIAGE_PRIORITY_ROUTINE,
    },
    "pipeline.tasks.*": {"queue": "default"},
    "routing.rule_trial.replay_routing_rules": {"queue": "slow"},
    "triage.tasks.train_default_model": {"queue": "slow"},
    "triage.tasks.train_ensemble_model": {"queue": "slow"},
    "triage.tasks.train_candidate_model": {"queue": "slow"},
    "routing.tasks.refresh_operations_snapshots": {"queue": "slow"},
    "routing.*": {"queue": "default"},
    "billing.*": {"queue": "default"},
}
# Beat: the sweeps that make delivery safe. Each is idempotent; two beats are harmless.
SWEEP_INTERVAL_SECONDS = env.float("SWEEP_INTERVAL_SECONDS", default=30.0)
# The operations dashboard of a clinic with at least OPERATIONS_SNAPSHOT_MIN_ITEMS items in
# its 12 weeks is read from figures beat stores this often (routing.operations_rollup);
# figures older than OPERATIONS_SNAPSHOT_MAX_AGE_SECONDS are computed again on view.
OPERATIONS_SNAPSHOT_INTERVAL_SECONDS = env.float(
    "OPERATIONS_SNAPSHOT_INTERVAL_SECONDS", default=600.0
)
OPERATIONS_SNAPSHOT_MAX_AGE_SECONDS = env.int("OPERATIONS_SNAPSHOT_MAX_AGE_SECONDS", default=1800)
OPERATIONS_SNAPSHOT_MIN_ITEMS = env.int("OPERATIONS_SNAPSHOT_MIN_ITEMS", default=20_000)
CELERY_BEAT_SCHEDULE = {
    "requeue-stuck-messages": {
        "task": "pipeline.tasks.requeue_stuck_messages",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    "sweep-sla": {"task": "routing.tasks.sweep_sla", "schedule": SWEEP_INTERVAL_SECONDS},
    # Pended items due back (routing.pending): each is back in its pool within a minute.
    "return-pended-items": {"task": "routing.tasks.return_pended_items", "schedule": 60.0},
    "apply-coverage": {"task": "routing.tasks.apply_coverage", "schedule": 60.0},
    "evisit-windows": {"task": "billing.tasks.recompute_open_windows", "schedule": 300.0},
    "undelivered-replies": {
        "task": "routing.tasks.alert_undelivered_replies",
        "schedule": 60.0,
    },
    "unrouted-messages": {"task": "routing.tasks.alert_unrouted_messages", "schedule": 60.0},
    "retry-notifications": {
        "task": "routing.tasks.retry_pending_notifications",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    "operations-snapshots": {
        "task": "routing.tasks.refresh_operations_snapshots",
        "schedule": OPERATIONS_SNAPSHOT_INTERVAL_SECONDS,
    },
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A malformed entry in a queue is logged (without its content) and dropped instead of
# stopping the worker (config/celery.py, "Poison messages"). Only for plain redis:// (a
# rediss:// URL keeps kombu's own transport, which sets up TLS from the scheme).
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "config.celery:PoisonTolerantRedisTransport"
CELERY_WORKER_CONSUMER = "config.celery:PoisonTolerantConsumer"

# --- Cache: the API's per-token rate limit (accounts.throttling) ----------------------
# Shared by every web process, so Redis in production: CACHE_URL when set (redis://...,
# or locmemcache:// for one process); else, beside a Redis broker, the same server one
# database up (queues and counters apart, one FLUSHDB never empties both); else (the
# demo, no broker) this process's memory.


def cache_beside_broker(broker_url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(broker_url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db + 1) % 16}"))


if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache_url("CACHE_URL")}
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": cache_beside_broker(CELERY_BROKER_URL),
            # Redis stopped: a request waits this long at most, then is let through.
            "OPTIONS": {
                "socket_connect_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
                "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Requests per token (per person for a signed-in session): "600/min", "20/s", "10000/hour".
API_RATE_PER_TOKEN = env.str("API_RATE_PER_TOKEN", default="600/min")

# --- Triage --------------------------------------------------------------------------
TRIAGE_CORPUS_DIR = Path(env.str("TRIAGE_CORPUS_DIR", default=str(BASE_DIR / "triage" / "corpus")))
# A triage worker classifies up to this many waiting messages in one model call (its own
# first): under load the transformer runs in batches; when idle, one message at a time.
TRIAGE_BATCH_SIZE = env.int("TRIAGE_BATCH_SIZE", default=32)
MESSAGE_BODY_MAX_CHARS = 20_000

# --- Routing -------------------------------------------------------------------------
# A message still received/classified after this long is enqueued again by the sweep.
STUCK_MESSAGE_AFTER_SECONDS = env.int("STUCK_MESSAGE_AFTER_SECONDS", default=120)
# ...and enqueued again at most once per this window: a broker that is backed up, not
# lost, still holds the last copy (one copy per message, not one per sweep).
STUCK_REQUEUE_WINDOW_SECONDS = env.int("STUCK_REQUEUE_WINDOW_SECONDS", default=300)
# A message still unrouted this long after it was stored alerts its clinic's
# administrators (once) and fails the readiness check (GET /health/ready).
UNROUTED_ALERT_MINUTES = env.int("UNROUTED_ALERT_MINUTES", default=10)
# A pending notification older than this is sent again by the sweep.
NOTIFICATION_RETRY_AFTER_SECONDS = env.int("NOTIFICATION_RETRY_AFTER_SECONDS", default=30)
# A reply to a patient the portal has not confirmed after this long alerts the clinic's
# administrators (and its alert webhook): the portal may be down and the patient unanswered.
UNDELIVERED_REPLY_ALERT_MINUTES = env.int("UNDELIVERED_REPLY_ALERT_MINUTES", default=15)
# Emergent alerts repeat this often until someone claims the item.
EMERGENT_ALERT_REPEAT_MINUTES = 15
NOTIFICATION_CHANNELS = {
    "email": "routing.notifications.EmailChannel",
    "webhook": "routing.notifications.WebhookChannel",
}
# Event webhooks (routing.webhooks): a failed delivery is tried again after each of these
# waits in turn (the last one repeats), and given up (failed, replayable in the admin)
# after WEBHOOK_MAX_ATTEMPTS attempts or WEBHOOK_GIVE_UP_AFTER_SECONDS since the event.
WEBHOOK_RETRY_SECONDS = env.list(
    "WEBHOOK_RETRY_SECONDS", cast=int, default=[10, 30, 60, 120, 300, 600, 1800, 3600]
)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=30)
WEBHOOK_GIVE_UP_AFTER_SECONDS = env.int("WEBHOOK_GIVE_UP_AFTER_SECONDS", default=24 * 3600)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_SWEEP_INTERVAL_SECONDS = env.float("WEBHOOK_SWEEP_INTERVAL_SECONDS", default=10.0)
CELERY_BEAT_SCHEDULE["retry-webhook-deliveries"] = {
    "task": "routing.tasks.retry_webhook_deliveries",
    "schedule": WEBHOOK_SWEEP_INTERVAL_SECONDS,
}
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="triage@localhost")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Request errors can carry message bodies (PHI); keep them at warning without payloads.
    "loggers": {
        "django.request": {"level": "ERROR"},
        # One INFO line per task is noise in the in-process demo; workers log at WARNING.
        "celery.app.trace": {"level": env.str("CELERY_TRACE_LOG_LEVEL", default="WARNING")},
    },
}
