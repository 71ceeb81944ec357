# Infolettre: `make run` starts everything on the embedded default (SQLite); `make test` runs the suite.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
# The first interpreter on this machine that is Python 3.12 or newer.
PY := $(shell for p in python3.12 python3.13 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { command -v $$p; break; }; done)
UV := .tools/bin/uv
VENV := .venv/bin
MANAGE := $(VENV)/python manage.py
TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/infolettre

.PHONY: run run-prod-local test test-sqlite test-postgres lint format bench loadtest install install-test messages clean

$(UV):
	@test -n "$(PY)" || { echo "Python 3.12 or newer is needed"; exit 1; }
	$(PY) -m venv .tools
	.tools/bin/pip install -q uv==0.13.9

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PY) $(SYNC_FLAGS)
	touch $@

install: .venv/.synced messages

# Compile the translation catalogs; until the first catalog exists there is nothing to compile.
messages: .venv/.synced
	@if find infolettre -path '*/locale/*/LC_MESSAGES/*.po' | grep -q .; then \
		command -v msgfmt >/dev/null || apt-get install -y -qq gettext >/dev/null; \
		$(MANAGE) compilemessages -v 0 --ignore=.venv --ignore=.tools; \
	fi

# The web app, the task worker and the local mail catcher, under honcho (Procfile); Ctrl-C stops all.
run: export PORT ?= 8000
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: export PYTHONUNBUFFERED := 1
run: install
	@mkdir -p var
	$(MANAGE) migrate --noinput -v 0
	$(MANAGE) createcachetable
	$(MANAGE) load_demo_data
	$(MANAGE) collectstatic --noinput -v 0
	@echo "Infolettre on $(SITE_URL)/ (caught mail: $(SITE_URL)/dev/outbox/)"
	$(VENV)/honcho -f Procfile start -p $(PORT)

# The production topology on this machine (settings.prod, PostgreSQL, Redis, 2 RQ workers, gunicorn,
# scheduler, bounce server, a mail catcher); deploy/prod-local.sh says what it sets and relaxes.
run-prod-local: install
	deploy/prod-local.sh

# Debian's Chromium drives the browser tests; Playwright never downloads a browser of its own.
/usr/bin/chromium:
	apt-get update -qq && apt-get install -y -qq chromium >/dev/null

install-test: install /usr/bin/chromium

test: install-test lint
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite:
	@echo "== suite on SQLite"
	DATABASE_URL=sqlite:///:memory: $(VENV)/pytest $(PYTEST_ARGS)

test-postgres:
	@echo "== suite on PostgreSQL"
	DATABASE_URL=$(TEST_PG_URL) $(VENV)/pytest $(PYTEST_ARGS)

lint: .venv/.synced
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

format: .venv/.synced
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

bench: install
	$(VENV)/python -m benchmarks

# The hot public endpoints under wrk on loopback, with PostgreSQL and Redis (README, "Hot endpoints").
/usr/bin/wrk:
	apt-get update -qq && apt-get install -y -qq wrk >/dev/null

loadtest: install /usr/bin/wrk
	$(VENV)/python -m loadtest

clean:
	rm -rf .venv .tools var staticfiles
