"""Settings for the 巴州区 plan tracker.

Every value a deployment changes comes from an environment variable; docs/configuration.md lists them all.
With nothing set, the product runs in debug mode on an SQLite file under ``var/``.
"""

import datetime
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from bazhou.core.logredact import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.environ.get(name, default))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "true")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from static files: the API docs page needs no internet
    "simple_history",
    "axes",  # login throttling (bazhou/security.py)
    "csp",  # Content-Security-Policy header (CONTENT_SECURITY_POLICY below)
    "django_tasks",  # Django's Tasks API (the backport of Django 6's django.tasks): long work off the request
    "django_tasks_db",  # its database backend: the queue is a table, workers are `manage.py jobs_worker`
    # Our apps, in the order they depend on each other.
    "villages",
    "households",
    "tasks",
    "supervision",
    "bazhou.core",  # label "bazhou": the shared ground (users, access, clock, history, bases)
    "bazhou.surfaces",  # the roof: dashboard, URL map, cross-app pages, API router, demo
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files from STATIC_ROOT, in every app server
    # Below WhiteNoise, so static files keep their long cache: every other answer is "private, no-store".
    "bazhou.core.nostore.NoStoreMiddleware",
    # A view that finds the database not answering gets a Chinese 503 page with Retry-After, not a 500.
    "bazhou.core.unavailable.DatabaseUnavailableMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "bazhou.core.inputs.IllegalCharacterMiddleware",  # NUL, U+FFFF … in a query or form field: 400, nothing done
    "bazhou.core.submissions.SubmitOnceMiddleware",  # a form sent twice is acted on once (needs user and messages)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out login into the lockout page; last, as axes requires
]

ROOT_URLCONF = "bazhou.surfaces.urls"
WSGI_APPLICATION = "bazhou.wsgi.application"

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
                "bazhou.core.context_processors.navigation",
                # The count of change requests waiting for the user's decision (one COUNT, approvers only).
                # The counts beside 我的待办 and 消息 (one query for both, only when the navigation shows them).
                "bazhou.surfaces.context_processors.todo_counts",
            ],
        },
    },
]

# Database: DATABASE_URL, e.g. postgres://user:pass@host:5432/bazhou; default an SQLite file under var/.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'bazhou.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=envint("CONN_MAX_AGE", "0" if DEBUG else "600"),
        conn_health_checks=True,
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

# Reads from a PostgreSQL streaming replica (docs/replica.md): DATABASE_REPLICA_URL, e.g.
# postgres://user:pass@replica-host:5432/bazhou. Unset: one database, no router. Set: dashboards, lists, registers
# and exports read from the replica; writes, and every read of a request or job that writes, go to the primary,
# and the editor's next DATABASE_REPLICA_PIN_SECONDS read from the primary too (a cookie); a replica that does not
# answer is tried again after DATABASE_REPLICA_RETRY_SECONDS, its reads going to the primary meanwhile.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
DATABASE_REPLICA_PIN_SECONDS = envint("DATABASE_REPLICA_PIN_SECONDS", "15")
DATABASE_REPLICA_RETRY_SECONDS = envint("DATABASE_REPLICA_RETRY_SECONDS", "30")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL,
        conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
        conn_health_checks=True,
    )
    # Not in the request's transaction (it only reads), and a replica that does not answer is noticed at once.
    DATABASES["replica"]["ATOMIC_REQUESTS"] = False
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    # Tests read the test database through this alias: no second test database.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["bazhou.core.routers.ReplicaRouter"]
    # Outside everything that reads (sessions, users): each request's reads are decided before them.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("bazhou.core.nostore.NoStoreMiddleware"), "bazhou.core.replica.ReadYourWritesMiddleware"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "bazhou.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# A form whose CSRF token no longer matches (left open too long, signed in anew elsewhere): a Chinese 403 page
# (bazhou/surfaces/errors.py), the API's error shape under /api/.
CSRF_FAILURE_VIEW = "bazhou.surfaces.errors.csrf_failure"

# Password rules for every password set through a form (the admin's add-user and change-password forms, 修改密码
# at /account/password/, createsuperuser): at least PASSWORD_MIN_LENGTH characters, not all digits, not a common
# password, not like the username or name, and not a common word, the username or the place's name with digits
# around it (admin12345, bazhou2017). Every message is Chinese (bazhou/core/security.py).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "bazhou.core.security.MinimumLengthValidator",
        "OPTIONS": {"min_length": envint("PASSWORD_MIN_LENGTH", "10")},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "bazhou.core.security.GuessablePasswordValidator"},
]

# Login throttling (django-axes, bazhou/security.py): after AXES_FAILURE_LIMIT failed logins for one username
# from one address, that pair is locked for LOGIN_LOCKOUT_MINUTES, even with the right password; other users
# and other addresses are unaffected. A successful login clears the count.
AUTHENTICATION_BACKENDS = [
    "bazhou.core.security.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = datetime.timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", "30"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "bazhou.core.security.client_ip"
AXES_LOCKOUT_CALLABLE = "bazhou.core.security.lockout_response"
AXES_VERBOSE = False  # no start-up banner on standard output (it would land in `manage.py dumpdata > file`)
# django-axes' admin pages are in English only: lockouts are listed and lifted with its commands instead
# (manage.py axes_list_attempts, axes_reset_username <用户名>; docs/deploy.md), and logged.
AXES_ENABLE_ADMIN = False
# The addresses of reverse proxies whose X-Forwarded-For names the client (bazhou.core.security.client_ip).
BAZHOU_TRUSTED_PROXIES = envlist("TRUSTED_PROXIES", "127.0.0.1,::1")

# Sessions end after a working day (9 hours from sign-in, SESSION_HOURS) and when the browser closes:
# township offices share computers.
SESSION_COOKIE_AGE = envint("SESSION_HOURS", "9") * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "static"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))

# The date the product treats as "today" for overdue, due-soon and stale questions.
# Empty means the real date in Asia/Shanghai; the demo sets it to a day in 2017 (see docs/configuration.md).
BAZHOU_TODAY = os.environ.get("BAZHOU_TODAY", "")
# Evidence files (photos, PDF): the largest accepted upload, in megabytes.
BAZHOU_MAX_UPLOAD_MB = envint("BAZHOU_MAX_UPLOAD_MB", "10")
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Days ahead that count as "due soon" (临期: the dashboard, the review queue's default, 我的待办, the cards, the daily
# digest: one window everywhere), and days without progress that count as "stale". BAZHOU_TODO_DUE_DAYS is the old
# name of the due-soon window, still read from the environment when the new one is not set.
BAZHOU_DUE_SOON_DAYS = envint("BAZHOU_DUE_SOON_DAYS", os.environ.get("BAZHOU_TODO_DUE_DAYS", "7"))
BAZHOU_STALE_DAYS = envint("BAZHOU_STALE_DAYS", "30")
# The day of the month on which supervision_daily takes every area's monthly snapshot (月度快照, docs/snapshots.md):
# 1–28, so that every month has it; checked where it is read (supervision.snapshots.snapshot_day).
BAZHOU_SNAPSHOT_DAY = envint("BAZHOU_SNAPSHOT_DAY", "25")

# The address people open the site at, for links in e-mails (e.g. https://fupin.example.gov.cn); empty = no links.
BAZHOU_SITE_URL = os.environ.get("BAZHOU_SITE_URL", "").rstrip("/")

# The supervision chain (docs/supervision-chain.md). Days a rectification may be overdue before it is put before
# the 挂包 leader, days the leader has to answer, and days overdue after which a rectification or a plan row is
# referred to the 纪委's accountability inbox. Rows due within BAZHOU_DUE_SOON_DAYS show on 我的待办.
BAZHOU_ESCALATE_AFTER_DAYS = envint("BAZHOU_ESCALATE_AFTER_DAYS", "15")
BAZHOU_ESCALATION_RESPONSE_DAYS = envint("BAZHOU_ESCALATION_RESPONSE_DAYS", "7")
BAZHOU_CASE_RECTIFICATION_DAYS = envint("BAZHOU_CASE_RECTIFICATION_DAYS", "30")
BAZHOU_CASE_TASK_DAYS = envint("BAZHOU_CASE_TASK_DAYS", "60")

# Message channels besides the in-app inbox and e-mail (docs/notifications.md): each is on when its address is set.
# SMS through an HTTP gateway: BAZHOU_SMS_KIND "aliyun" (阿里云短信 SendSms) or "json" (a generic JSON gateway).
BAZHOU_SMS_KIND = os.environ.get("BAZHOU_SMS_KIND", "aliyun")
BAZHOU_SMS_URL = os.environ.get("BAZHOU_SMS_URL", "")
BAZHOU_SMS_KEY_ID = os.environ.get("BAZHOU_SMS_KEY_ID", "")
BAZHOU_SMS_KEY_SECRET = os.environ.get("BAZHOU_SMS_KEY_SECRET", "")
BAZHOU_SMS_SIGN_NAME = os.environ.get("BAZHOU_SMS_SIGN_NAME", "")
BAZHOU_SMS_TEMPLATE = os.environ.get("BAZHOU_SMS_TEMPLATE", "")
# 企业微信 group robot: the webhook address with its key; 钉钉 custom robot: the webhook with its access_token,
# and the secret of its 加签 security setting.
BAZHOU_WECOM_WEBHOOK = os.environ.get("BAZHOU_WECOM_WEBHOOK", "")
BAZHOU_DINGTALK_WEBHOOK = os.environ.get("BAZHOU_DINGTALK_WEBHOOK", "")
BAZHOU_DINGTALK_SECRET = os.environ.get("BAZHOU_DINGTALK_SECRET", "")
# A delivery is tried at most this many times, waiting BAZHOU_NOTIFY_BACKOFF_SECONDS × 2^(n-1) between tries;
# BAZHOU_NOTIFY_TIMEOUT seconds for one HTTP request.
BAZHOU_NOTIFY_MAX_ATTEMPTS = envint("BAZHOU_NOTIFY_MAX_ATTEMPTS", "5")
BAZHOU_NOTIFY_BACKOFF_SECONDS = envint("BAZHOU_NOTIFY_BACKOFF_SECONDS", "60")
BAZHOU_NOTIFY_TIMEOUT = envint("BAZHOU_NOTIFY_TIMEOUT", "10")

# Background jobs (bazhou/core/jobs.py, docs/jobs.md): Django's Tasks API through the django-tasks backport and its
# database backend; `manage.py jobs_worker` runs them (`make run` starts one beside the web server). In tests the
# jobs run when a test asks (tests/jobs.py), through the same backend.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# How long a job's file (an export, a register) is kept for download.
BAZHOU_JOB_RESULT_HOURS = envint("BAZHOU_JOB_RESULT_HOURS", "24")
# A worker not seen for this long is taken as stopped: /healthz/ says so and its running job is taken up again
# (once) or marked failed.
BAZHOU_JOB_STALE_SECONDS = envint("BAZHOU_JOB_STALE_SECONDS", "90")
# How many times a job whose worker stopped is started again before it is marked failed.
BAZHOU_JOB_MAX_ATTEMPTS = envint("BAZHOU_JOB_MAX_ATTEMPTS", "2")

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "bazhou-plan@localhost")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "false")

# The API under /api/v1/ (bases in bazhou/core/api/, routes in bazhou/surfaces/api/urls.py; docs/api.md): tokens
# for programs, the session (with CSRF) for the browser.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "bazhou.core.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["bazhou.core.api.permissions.SignedIn"],
    "DEFAULT_FILTER_BACKENDS": ["bazhou.core.api.filters.Filters"],
    "DEFAULT_PAGINATION_CLASS": "bazhou.core.api.pagination.KeysetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "bazhou.core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "bazhou.core.api.errors.exception_handler",
    # DRF's JSON, byte for byte, written by orjson (bazhou/core/api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["bazhou.core.api.renderers.JSONRenderer"],
    # DRF's parsers, with a JSON parser that answers 400 (not 500) to a body nested too deeply to read.
    "DEFAULT_PARSER_CLASSES": [
        "bazhou.core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "巴州区脱贫攻坚施工图管理系统 API",
    "DESCRIPTION": "与页面相同的数据和规则：访问范围、校验、版本（ETag / If-Match）。使用说明见 docs/api.md。",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "TAGS": [
        {"name": "施工图", "description": "施工图（一村一案）、任务行（含一户一策）、资金来源、进度、批准、修改历史"},
        {"name": "村与区域", "description": "乡镇、村、贫困村退出指标及达标情况、帮扶力量（五个一）"},
        {"name": "建档立卡", "description": "贫困户、家庭成员、家庭年收入（改须带 If-Match）；按身份证号查找用 POST"},
        {"name": "督查", "description": "督查、发现问题、整改（开始、填报、复查销号）、责任追究、通报"},
        {"name": "驾驶舱", "description": "首页驾驶舱的统计数字"},
        {"name": "令牌", "description": "程序访问用的令牌：新建（只显示一次）、查看、撤销"},
    ],
    # Every operation's error statuses, each with the one error body (bazhou/core/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "bazhou.core.api.schema.document_errors",
    ],
    # 3.1: a nullable nested object is "oneOf: [object, null]", which validators read the same way we mean it.
    "OAS_VERSION": "3.1.0",
    # One name per choice set shared by several fields, and distinct names for the many "status" fields.
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "tasks.models.Task.Status",
        "PlanStateEnum": "tasks.models.Plan.State",
        "VillageStatusEnum": "villages.models.Village.Status",
        "TownshipKindEnum": "villages.models.Township.Kind",
        "HouseholdStatusEnum": "households.models.Household.Status",
        "CauseEnum": "households.models.Cause",
        "RectificationStatusEnum": "supervision.models.Rectification.Status",
        "BulletinStateEnum": "supervision.models.Bulletin.State",
        "InspectionKindEnum": "supervision.models.Inspection.Kind",
        "OrganiserEnum": "supervision.models.Organiser",
        "DecisionAlertSourceEnum": "households.models.DecisionAlert.Source",
        "FundSourceEnum": "tasks.models.FundSource",
        "ChangeRequestKindEnum": "tasks.models.ChangeRequest.Kind",
        "ChangeRequestStateEnum": "tasks.models.ChangeRequest.State",
        "ChangeRequestReasonCategoryEnum": "tasks.models.ChangeRequest.ReasonCategory",
    },
}

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# Logging: every line to standard output (systemd's journal keeps it), with anything shaped like an ID number
# replaced by [身份证号] (bazhou/logredact.py); gunicorn.conf.py uses the same configuration.
LOGGING = logging_config(os.environ.get("LOG_LEVEL", "INFO"))

# Content-Security-Policy (django-csp) on every response: scripts, styles, images and connections only from
# this site. No inline script, no eval, no <style> element: JavaScript lives in static/js/ and takes its data
# from json_script elements; htmx is told not to inject its indicator styles (templates/base.html); our
# templates carry no style attribute either (tests/test_production.py checks). One exception, style
# *attributes* (style-src-attr): ECharts' SVG renderer writes one on the <svg> it draws and its tooltip builds
# HTML with them. A style attribute cannot run script or hold a selector (reading a page through CSS needs a
# <style> element, which stays blocked), and url() in it is still limited by img-src.
# data: images are the icons inside Bootstrap's CSS (select arrows, check marks).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Static files: WhiteNoise serves STATIC_ROOT (filled by collectstatic, compressed) from every app server; in
# debug mode straight from static/ and the apps, so nothing needs collecting.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Production (DEBUG off): TLS is terminated at the reverse proxy, which sets X-Forwarded-Proto (docs/deploy.md).
# Cookies are sent over HTTPS only, plain HTTP is redirected to HTTPS (except the health check), and HSTS tells
# browsers to use nothing else. SECURE_COOKIES=0 declares a site reached over plain HTTP (an intranet without
# certificates, a benchmark on 127.0.0.1): each of the three would break it, so none is on by default then.
if not DEBUG:
    HTTPS = envbool("SECURE_COOKIES", "true")
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = HTTPS
    CSRF_COOKIE_SECURE = HTTPS
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "true" if HTTPS else "false")
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000" if HTTPS else "0")
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "true")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "false")
    if not SECURE_HSTS_PRELOAD:
        # The browsers' preload list is for sites on the public internet; a district's server on a closed
        # network is never submitted to it. Set SECURE_HSTS_PRELOAD=1 for a public domain.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
