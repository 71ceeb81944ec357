#!/usr/bin/env bash
# `make run-prod-local`: the production topology on this machine, under infolettre.settings.prod.
#
# PostgreSQL (127.0.0.1:5432, database infolettre_prod_local, created if missing, the server
# started if it is down), Redis (127.0.0.1:6379, database 1, started if it is down) as cache and
# task queue, then under honcho (deploy/Procfile.prod-local): gunicorn, two RQ workers, the
# scheduler, the bounce server and a mail catcher that keeps every message in
# var/prod-local/outbox/, so nothing leaves the machine.
#
# The secrets are this machine's own, made on the first run into var/prod-local.env (mode 600).
# One production rule is relaxed, for loopback: SECURE_SSL_REDIRECT=false, since no TLS proxy
# stands in front. Everything else is production's: DEBUG off, secure cookies (browsers keep them
# on http://127.0.0.1 and http://localhost, which they count as secure), the Content-Security-
# Policy, the office networks (loopback is the office here, as by default).
set -euo pipefail
cd "$(dirname "$0")/.."

export PORT=${PORT:-8100}
export PROD_LOCAL_MAIL_PORT=${PROD_LOCAL_MAIL_PORT:-1125}
PG_SERVER=${PROD_LOCAL_PG_SERVER:-postgres://postgres@127.0.0.1:5432}
PG_DATABASE=${PROD_LOCAL_PG_DATABASE:-infolettre_prod_local}
REDIS_PORT=${PROD_LOCAL_REDIS_PORT:-6379}
STATE=var/prod-local
ENV_FILE=var/prod-local.env
MANAGE=(.venv/bin/python manage.py)

wait_until() {
	local what=$1
	shift
	for _ in $(seq 60); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 1
	done
	echo "$what did not become ready" >&2
	return 1
}

mkdir -p "$STATE/outbox" "$STATE/media" "$STATE/redis"

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
	echo "== starting PostgreSQL"
	pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
	wait_until PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
fi
if [ -z "$(psql "$PG_SERVER/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" ]; then
	echo "== creating the database $PG_DATABASE"
	psql "$PG_SERVER/postgres" -qc "CREATE DATABASE \"$PG_DATABASE\""
fi

if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
	echo "== starting Redis on 127.0.0.1:$REDIS_PORT (append-only file in $STATE/redis/)"
	# Append-only, as production should run it: queued tasks survive a restart of Redis.
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
		--dir "$PWD/$STATE/redis" --appendonly yes --logfile "$PWD/$STATE/redis/redis.log"
	wait_until Redis redis-cli -p "$REDIS_PORT" ping
fi

if [ ! -f "$ENV_FILE" ]; then
	echo "== making this machine's secrets into $ENV_FILE"
	(
		umask 077
		.venv/bin/python - >"$ENV_FILE" <<-'PYTHON'
			import base64, os, secrets
			print("# make run-prod-local: this machine's own secrets, made on its first run.")
			print(f"SECRET_KEY={secrets.token_urlsafe(50)}")
			print(f"FIELD_ENCRYPTION_KEYS={base64.urlsafe_b64encode(os.urandom(32)).decode()}")
		PYTHON
	)
fi
chmod 600 "$ENV_FILE"
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a

# The production settings with local values; the variables are those of
# deploy/infolettre.env.example.
export DJANGO_SETTINGS_MODULE=infolettre.settings.prod
export DATABASE_URL="$PG_SERVER/$PG_DATABASE"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/1"
export TASKS_ON_REDIS=1
export SITE_URL="http://127.0.0.1:$PORT"
export ALLOWED_HOSTS=127.0.0.1,localhost
export EMAIL_URL="smtp://127.0.0.1:$PROD_LOCAL_MAIL_PORT"
export OUTBOX_DIR="$PWD/$STATE/outbox"
export MEDIA_ROOT="$PWD/$STATE/media"
export BOUNCE_SERVER_HOST=127.0.0.1
export BOUNCE_SERVER_PORT=${PROD_LOCAL_BOUNCE_PORT:-2626}
# The relaxation for loopback: no TLS proxy in front, so no redirect to https://.
export SECURE_SSL_REDIRECT=false
export PYTHONUNBUFFERED=1

"${MANAGE[@]}" migrate --noinput -v 0
# A no-op while the cache is Redis; it creates the cache table when REDIS_URL is unset.
"${MANAGE[@]}" createcachetable
"${MANAGE[@]}" collectstatic --noinput -v 0
"${MANAGE[@]}" load_demo_data
echo "== production checks (the warning about SECURE_SSL_REDIRECT is the loopback relaxation)"
"${MANAGE[@]}" check --deploy --fail-level ERROR

echo "Infolettre (production settings) on $SITE_URL/ ; caught mail in $OUTBOX_DIR/"
exec .venv/bin/honcho -f deploy/Procfile.prod-local -d . -e "$ENV_FILE" start -c worker=2 -p "$PORT"
