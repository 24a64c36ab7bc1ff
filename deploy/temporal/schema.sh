#!/bin/sh
# The temporal-schema job: bring the schemas of Temporal's two PostgreSQL databases up to the version this
# admin-tools image ships. Idempotent: setup-schema only creates the version tables when they are missing, and
# update-schema applies only the versions newer than the one recorded, so the job runs on every `up` and is how
# a Temporal upgrade (new image tags) migrates its databases.
# Connection settings come from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD (temporal-sql-tool).
set -eu

SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

migrate() {
    database=$1
    schema_dir=$2
    echo "temporal-schema: $database"
    temporal-sql-tool --db "$database" setup-schema -v 0.0
    temporal-sql-tool --db "$database" update-schema -d "$SCHEMA_ROOT/$schema_dir/versioned"
}

migrate "${TEMPORAL_DBNAME:-temporal}" temporal
migrate "${TEMPORAL_VISIBILITY_DBNAME:-temporal_visibility}" visibility
echo "temporal-schema: both databases are current"
