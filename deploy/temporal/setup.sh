#!/bin/sh
# The temporal-setup job: create capaflow's namespace and register the search attributes its workflows set.
# Idempotent: what exists is left alone, so the job runs on every `up`.
# The temporal CLI reads TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE from the environment.
set -eu

: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS, e.g. temporal:7233}"
: "${TEMPORAL_NAMESPACE:?set TEMPORAL_NAMESPACE}"
RETENTION=${TEMPORAL_NAMESPACE_RETENTION:-30d}

# The server's port opens before every service inside it is up; wait until it answers SERVING.
tries=0
until temporal operator cluster health >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 90 ]; then
        echo "temporal-setup: Temporal at $TEMPORAL_ADDRESS is not serving after 3 minutes" >&2
        exit 1
    fi
    sleep 2
done

if temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
    echo "temporal-setup: namespace $TEMPORAL_NAMESPACE exists"
else
    temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$RETENTION"
    echo "temporal-setup: namespace $TEMPORAL_NAMESPACE created (retention $RETENTION)"
fi

# A new namespace takes a few seconds to reach every server cache; retry until the attributes are listed.
register() {
    name=$1
    type=$2
    tries=0
    until temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" 2>/dev/null | grep -qw "$name"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 30 ]; then
            echo "temporal-setup: could not register search attribute $name ($type)" >&2
            exit 1
        fi
        temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "$name" --type "$type" \
            >/dev/null 2>&1 || sleep 2
    done
    echo "temporal-setup: search attribute $name ($type) in place"
}

register CapaStage Keyword
register CapaSeverity Keyword
register CapaOwner Keyword
register CapaDueAt Datetime
