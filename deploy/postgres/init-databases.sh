#!/bin/sh
# Runs once, when the postgresql container starts on an empty data volume (docker-entrypoint-initdb.d).
# One server, three databases, two owners:
#   capaflow                         the read model, directory and outbox (role capaflow)
#   temporal, temporal_visibility    Temporal's persistence and visibility stores (role temporal)
# The passwords come from the container's environment; psql quotes them (:'var'), so any character is safe here.
set -eu

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v capaflow_password="$CAPAFLOW_DB_PASSWORD" \
    -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE capaflow LOGIN PASSWORD :'capaflow_password';
CREATE DATABASE capaflow OWNER capaflow;

CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL

# Temporal's visibility schema indexes with btree_gin; install it as the superuser so the schema job, which
# connects as the unprivileged temporal role, finds it in place.
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname temporal_visibility \
    -c 'CREATE EXTENSION IF NOT EXISTS btree_gin'
