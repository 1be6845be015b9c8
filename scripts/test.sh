#!/usr/bin/env bash
# Run the whole test suite: SQLite by default, and the database tests again on
# PostgreSQL. pytest exits with 5 when it collected no test, which must fail.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -s instance/test-postgres-url ] && [ -z "${SIGREKAP_TEST_POSTGRES_URL:-}" ]; then
    SIGREKAP_TEST_POSTGRES_URL=$(cat instance/test-postgres-url)
    export SIGREKAP_TEST_POSTGRES_URL
fi

.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests; treating that as a failure" >&2
    exit 1
fi
exit "$status"
