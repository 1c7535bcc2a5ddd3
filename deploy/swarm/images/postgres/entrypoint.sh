#!/bin/sh
# On the first start (an empty volume): initdb with the password from the Docker secret, a database and owner for
# the journal, and password logins from the stack network. Then PostgreSQL in the foreground.
set -eu
secret="${POSTGRES_PASSWORD_FILE:-/run/secrets/postgres_password}"
user="${POSTGRES_USER:-aisystem}"
db="${POSTGRES_DB:-aisystem}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -s "$secret" ] || { echo "postgres: the password secret $secret is missing or empty" >&2; exit 1; }
  pwfile="$(mktemp)"
  tr -d '\r\n' < "$secret" > "$pwfile"
  initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "CREATE DATABASE \"$db\" OWNER \"$user\";" | postgres --single -D "$PGDATA" -j postgres >/dev/null
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "postgres: initialized $PGDATA with database $db"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql
