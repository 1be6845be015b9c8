#!/usr/bin/env bash
# Make sure a PostgreSQL server accepts connections on 127.0.0.1:5432 and that
# the test database exists. Starts an installed cluster, or installs one as root.
set -euo pipefail

db=${SIGREKAP_PG_TEST_DB:-sigrekap_test}
log() { printf '==> %s\n' "$*"; }

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    if ! ready 2>/dev/null; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
            log "Installing PostgreSQL"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        else
            echo "PostgreSQL is missing. Install it with:" >&2
            echo "  sudo apt-get install -y postgresql" >&2
            exit 1
        fi
    fi
fi

if ! ready; then
    log "Starting PostgreSQL"
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 30); do ready && break; sleep 1; done
    ready || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi

# Connect as the postgres superuser through the local socket where we can;
# other machines need trust auth on TCP for the postgres user.
as_postgres() {
    if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1; then
        su postgres -c "psql -qAt -c \"$1\""
    else
        psql -qAt -h 127.0.0.1 -U postgres -c "$1"
    fi
}

# The test role's password is generated here and kept in the ignored instance
# folder, so no credential is committed.
url_file=instance/test-postgres-url
mkdir -p instance
if [ ! -s "$url_file" ]; then
    password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    echo "postgresql+psycopg://sigrekap:$password@127.0.0.1:5432/$db" > "$url_file"
    chmod 600 "$url_file"
fi
password=$(sed -E 's|.*://sigrekap:([^@]*)@.*|\1|' "$url_file")

if as_postgres "select 1 from pg_roles where rolname='sigrekap'" | grep -q 1; then
    as_postgres "alter role sigrekap login createdb password '$password'" >/dev/null
else
    log "Creating PostgreSQL role sigrekap"
    as_postgres "create role sigrekap login createdb password '$password'" >/dev/null
fi
if ! as_postgres "select 1 from pg_database where datname='$db'" | grep -q 1; then
    log "Creating PostgreSQL database $db"
    as_postgres "create database $db owner sigrekap" >/dev/null
fi
