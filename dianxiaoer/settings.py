"""Settings for dianxiaoer, read from the environment.

With nothing set, the product runs on embedded defaults: SQLite, the in-memory channel
layer, a filesystem Celery broker and a local-memory cache. ``DATABASE_URL`` switches to
PostgreSQL, ``REDIS_URL`` moves the channel layer, the Celery broker and the cache to Redis.
"""
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from dianxiaoer.sqlite_checkpoint import CONNECTION_PRAGMAS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("DXE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# HTTPS hardening follows DEBUG unless set: production is served behind TLS.
HTTPS = env.bool("HTTPS", default=not DEBUG)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me-0123456789abcdefghijklmnop")
else:
    SECRET_KEY = env.str("SECRET_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "channels",
    "django_celery_beat",
    "accounts",
    "customers",
    "inbox",
    "orders",
    "aftersales",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dianxiaoer.urls"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

WSGI_APPLICATION = "dianxiaoer.wsgi.application"
ASGI_APPLICATION = "dianxiaoer.asgi.application"

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
# Threads running the websocket frames' queries (inbox/consumers/base.py: db_call): one for
# SQLite (one writer at a time), SOCKET_DB_THREADS (default 4) for PostgreSQL.
SOCKET_DB_THREADS = 1
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    # Under ASGI (daphne) each request runs in a fresh thread, so Django's thread-local
    # persistent connections are never reused and pile up until PostgreSQL refuses new ones.
    # A process-wide pool (psycopg 3, Django's "pool" option) reuses them instead: requests
    # and socket frames borrow a connection and give it back, paying no connect each time.
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
            "timeout": env.int("DB_POOL_TIMEOUT", default=10),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        SOCKET_DB_THREADS = env.int("SOCKET_DB_THREADS", default=4)
        # Pooled connections live long, so prepared statements pay: after
        # DB_PREPARE_THRESHOLD runs of one query on a connection, PostgreSQL keeps its plan
        # and stops planning it on every request (needs server-side parameter binding).
        # 0 turns it off (e.g. behind a transaction-mode PgBouncer).
        prepare_threshold = env.int("DB_PREPARE_THRESHOLD", default=5)
        if prepare_threshold:
            DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=prepare_threshold)
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # IMMEDIATE transactions avoid lock-upgrade deadlocks between daphne and the
            # worker; WAL lets readers proceed while one writer commits; server processes
            # checkpoint the log on a thread of their own (dianxiaoer/sqlite_checkpoint.py).
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": CONNECTION_PRAGMAS,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# The guard first: it refuses sign-ins from a (username, address) that failed too often.
AUTHENTICATION_BACKENDS = ["accounts.login_guard.LoginGuardBackend", "django.contrib.auth.backends.ModelBackend"]

# Platform channels' outbound URLs may reach private addresses (dianxiaoer/safe_http.py).
OUTBOUND_ALLOW_PRIVATE = env.bool("OUTBOUND_ALLOW_PRIVATE", default=False)
# The product's public address, e.g. https://kefu.example.com: links sent off-site (images
# in replies to platform buyers, inbox/attachment_links.py) start with it.
SITE_URL = env.str("SITE_URL", default="").rstrip("/")

# --- Redis: channel layer, Celery broker, cache -----------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: a group send is one PUBLISH, and each process reads one subscription.
            # The list-based core layer (a Lua script per group send, a BRPOP loop and
            # backup-queue cleanup per receive) cost the buyers' process 5 ms of CPU per chat
            # message at 250/s, and capped it near 200/s. Neither layer keeps a message for
            # a process that is not listening; clients resync what they missed.
            "BACKEND": "dianxiaoer.channel_layers.PipelinedRedisPubSubChannelLayer",
            # socket_timeout=None: with redis-py 8 an idle subscriber otherwise dies after ~5 s
            # (see shared/TOOLCHAIN.md); tests/integration holds an idle socket to prove it.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dxe",
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    CHANNEL_RELAY_SOCKET = ""
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "dianxiaoer.channel_layers.SweepingInMemoryChannelLayer"}}
    # The worker's and commands' events reach the web server's in-memory layer through it.
    CHANNEL_RELAY_SOCKET = env.str("CHANNEL_RELAY_SOCKET", default=str(VAR_DIR / "channel-relay.sock"))
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    _broker_dir = VAR_DIR / "celery-broker"
    # kombu's filesystem transport needs its folders before the worker starts.
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Installed into the scheduler's table when beat starts (editable in the admin afterwards).
# Each sweep's run expires after its period: a worker back from an outage does one sweep,
# not the backlog beat queued meanwhile.
CELERY_BEAT_SCHEDULE = {
    "inbox: requeue overdue platform deliveries": {
        "task": "inbox.tasks.requeue_overdue_deliveries",
        "schedule": 60.0,
        "options": {"expire_seconds": 60},
    },
    # Agents expect a snoozed conversation back within seconds of its time.
    "inbox: wake snoozed conversations": {
        "task": "inbox.tasks.wake_snoozed",
        "schedule": 15.0,
        "options": {"expire_seconds": 15},
    },
    # A dead server process's agents are offline within PRESENCE_TTL plus this period.
    "inbox: expire stale agent presence": {
        "task": "inbox.tasks.expire_presence",
        "schedule": 30.0,
        "options": {"expire_seconds": 30},
    },
}
CELERY_TIMEZONE = "Asia/Shanghai"

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/inbox/"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- I18n -------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploaded chat images: accepted formats and the largest size, in bytes.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ATTACHMENT_MAX_BYTES + 1024 * 1024
# New chat visitors (profiles made by a first message) one client address may bring a shop
# per hour (inbox/visitor_quota.py); 0 turns the cap off.
CHAT_NEW_VISITORS_PER_ADDRESS_PER_HOUR = env.int("CHAT_NEW_VISITORS_PER_ADDRESS_PER_HOUR", default=30)

# --- Security ---------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- API --------------------------------------------------------------------------------
# How long an API token's user and a user's memberships stay cached (accounts/identity_cache.py);
# every change drops them at once, this bounds only what a change in another process without a
# shared cache (REDIS_URL unset) can outlive.
IDENTITY_CACHE_SECONDS = env.int("IDENTITY_CACHE_SECONDS", default=60)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.identity_cache.CachedTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "dianxiaoer.api_errors.exception_handler",
    # How many proxies in front append to X-Forwarded-For: throttles (the token endpoint's
    # password-guessing limit) count per client address taken that many hops from the end.
    # 0 (direct) ignores the header; DRF's default (None) took the whole header as the
    # address, so a client sending a fresh made-up one each time was never throttled.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "dianxiaoer API",
    "DESCRIPTION": "Shared customer-service inbox for e-commerce sellers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Realtime and channels in -------------------------------------------------------------
# Webhook requests older or newer than this many seconds are refused (replay window).
WEBHOOK_TOLERANCE_SECONDS = env.int("WEBHOOK_TOLERANCE_SECONDS", default=300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
