#!/bin/bash
# Run once by the clickhouse-server image on its first start (empty data volume), as
# /docker-entrypoint-initdb.d/10-grafana-user.sh: a ClickHouse user for Grafana that may read the
# tables the dashboards query and nothing else (not users, sessions or the audit log).
# The password arrives as a SHA-256 hash, so no quoting of it reaches SQL.
set -euo pipefail

: "${CLICKHOUSE_GRAFANA_PASSWORD:?set CLICKHOUSE_GRAFANA_PASSWORD in .env}"
database="${CLICKHOUSE_DB:-claimwatch}"
hash="$(printf '%s' "$CLICKHOUSE_GRAFANA_PASSWORD" | sha256sum | cut -d' ' -f1)"

statements="CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_hash BY '${hash}';"
for table in streams transcripts listings ledger violations reviews; do
  statements+=" GRANT SELECT ON \`${database}\`.${table} TO grafana;"
  # on a cluster (CLICKHOUSE_TOPOLOGY, docs/deploy.md) a sharded table reads its local table here too
  statements+=" GRANT SELECT ON \`${database}\`.${table}_local TO grafana;"
done

clickhouse client --user "${CLICKHOUSE_USER}" --password "${CLICKHOUSE_PASSWORD}" --multiquery --query "${statements}"
echo "clickhouse: user grafana may read ${database}.{streams,transcripts,listings,ledger,violations,reviews}"
