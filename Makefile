# 巴州区脱贫攻坚施工图管理系统: the commands a developer and CI use. `make help` lists them.
#
# On a fresh machine:  make run   (install, migrate, load the 2017 demo, serve on 127.0.0.1:8000)
#                      make test  (install, run the whole test suite)
# Every target that needs Python first creates .venv and installs the project into it; the install
# is redone only when pyproject.toml changes (the stamp file .venv/.installed).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# `make run`
HOST ?= 127.0.0.1
PORT ?= 8000
# `make test`: number of pytest-xdist workers, and extra pytest arguments (e.g. PYTEST_ARGS='-m "not slow"').
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=
# `make test-pg`: the database whose name pytest-django derives test_bazhou_gw0, _gw1, … from.
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/bazhou
# `make bench-seed`: arguments for bench/seed.py (e.g. BENCH_ARGS="--scales 1 --engines sqlite").
BENCH_ARGS ?=
# `make bench-dashboard`: arguments for bench/dashboard.py (e.g. BENCH_DASHBOARD_ARGS="--runs 5 --queries 5").
BENCH_DASHBOARD_ARGS ?=
# `make bench-pages`: arguments for bench/pages.py (e.g. BENCH_PAGES_ARGS="--reuse", "--scale 1 --engine sqlite").
BENCH_PAGES_ARGS ?=
# `make bench-api`: arguments for bench/api.py (e.g. BENCH_API_ARGS="--seconds 15 --repeat 1 --concurrency 8").
BENCH_API_ARGS ?=
# `make bench-excel`: arguments for bench/excel.py (e.g. BENCH_EXCEL_ARGS="--runs 1 --only export").
BENCH_EXCEL_ARGS ?=
# `make bench-jobs`: arguments for bench/jobs.py (e.g. BENCH_JOBS_ARGS="--runs 1 --only register").
BENCH_JOBS_ARGS ?=
# `make bench-load`: arguments for bench/load.py (e.g. BENCH_LOAD_ARGS="--seconds 30 --clients 6").
BENCH_LOAD_ARGS ?=
# `make restore FILE=var/backups/<timestamp>.dump`: the backup to restore (required).
FILE ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv run test test-pg lint bench-seed bench-pages bench-dashboard bench-api bench-excel bench-jobs bench-load backup restore

help:
	@echo "make run         install, migrate, load the 2017 demo (idempotent), serve http://$(HOST):$(PORT)/ with a background worker"
	@echo "make test        install, run the whole test suite (pytest -n $(PYTEST_WORKERS)); PostgreSQL if DATABASE_URL is set"
	@echo "make test-pg     make test on PostgreSQL ($(PG_TEST_URL))"
	@echo "make lint        ruff check, ruff format --check, lint-imports (app layers), makemigrations --check"
	@echo "make bench-seed  time seed_demo on fresh databases and print rows/s (bench/seed.py $(BENCH_ARGS))"
	@echo "make bench-pages time the village, household and plan pages at 10x the demo on PostgreSQL (bench/pages.py $(BENCH_PAGES_ARGS))"
	@echo "make bench-dashboard time the dashboard at 10x the demo on PostgreSQL, reusing bazhou_bench_pages (bench/dashboard.py)"
	@echo "make bench-api   load the API lists through gunicorn (2 workers) at 10x the demo, reusing bazhou_bench_pages (bench/api.py)"
	@echo "make bench-excel time the one-table Excel export and a 10,000-row import at 10x the demo, reusing bazhou_bench_pages (bench/excel.py)"
	@echo "make bench-jobs  the district's one table and register (700k members) as background jobs at 10x the demo: seconds, peak memory (bench/jobs.py)"
	@echo "make bench-load  gunicorn (2 workers) under a mix of pages and edits, and racing edits, at 10x the demo (bench/load.py)"
	@echo "make backup      pg_dump -Fc the DATABASE_URL database into var/backups/<timestamp>.dump (bin/backup)"
	@echo "make restore FILE=var/backups/<timestamp>.dump  pg_restore it into the DATABASE_URL database (bin/restore)"
	@echo "make venv        only create .venv and install the project with its dev extra"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev]"
	@touch $@

# The default SQLite file lives in var/, which git does not keep.
var:
	@mkdir -p var

# The demo data is of 2017: unless BAZHOU_TODAY is set (even to empty), the product's "today" is 2017-09-15.
run: export BAZHOU_TODAY ?= 2017-09-15
run: $(STAMP) | var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "BAZHOU_TODAY=$${BAZHOU_TODAY:-（真实日期）}  站点 http://$(HOST):$(PORT)/  管理后台 http://$(HOST):$(PORT)/admin/"
	@# The background worker (exports, registers, imports, bulletins) runs beside the web server and stops with it.
	$(PY) manage.py jobs_worker --verbosity 1 & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(PY) manage.py runserver $(HOST):$(PORT)

# --create-db: always a fresh test database (on PostgreSQL pytest-django creates test_<name>_gwN itself).
test: $(STAMP) | var
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --create-db $(PYTEST_ARGS)

test-pg:
	DATABASE_URL=$(PG_TEST_URL) $(MAKE) test

lint: $(STAMP) | var
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

bench-seed: $(STAMP) | var
	$(PY) bench/seed.py $(BENCH_ARGS)

bench-pages: $(STAMP) | var
	$(PY) bench/pages.py $(BENCH_PAGES_ARGS)

bench-dashboard: $(STAMP) | var
	$(PY) bench/dashboard.py $(BENCH_DASHBOARD_ARGS)

bench-api: $(STAMP) | var
	$(PY) bench/api.py $(BENCH_API_ARGS)

bench-excel: $(STAMP) | var
	$(PY) bench/excel.py $(BENCH_EXCEL_ARGS)

bench-jobs: $(STAMP) | var
	$(PY) bench/jobs.py $(BENCH_JOBS_ARGS)

bench-load: $(STAMP) | var
	$(PY) bench/load.py $(BENCH_LOAD_ARGS)

# Backups of the PostgreSQL database in DATABASE_URL (docs/deploy.md). Only PostgreSQL's client programs are needed.
backup:
	bin/backup

restore:
	@test -n "$(FILE)" || { echo "make restore FILE=var/backups/<时间>.dump：请用 FILE 指明要恢复的备份文件 / which backup? FILE is required" >&2; exit 2; }
	bin/restore "$(FILE)"
