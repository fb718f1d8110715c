# Sourced by scripts/test: makes sure PostgreSQL is up and a role and database for the tests
# exist, then exports ORCH_TEST_DATABASE_URL. An URL already in the environment is kept.
# On CI (CI=true) any failure here fails the run; elsewhere the PostgreSQL tests are skipped.

pg_test_env() {
    if [ -n "${ORCH_TEST_DATABASE_URL:-}" ]; then
        return 0
    fi
    local role=orch_test db=orch_test password=orch_test
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$version" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
        pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    fi
    local as_postgres
    if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
        as_postgres="runuser -u postgres --"
    elif [ "$(id -un)" = postgres ]; then
        as_postgres=""
    else
        echo "pg-test-env: cannot act as the postgres user to create the test role" >&2
        return 1
    fi
    local i
    for i in $(seq 1 30); do
        $as_postgres psql -XqAt -c "select 1" >/dev/null 2>&1 && break
        sleep 1
    done
    $as_postgres psql -XqAt -v ON_ERROR_STOP=1 >/dev/null <<SQL || return 1
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN
    CREATE ROLE $role LOGIN PASSWORD '$password' CREATEDB;
  ELSE
    ALTER ROLE $role LOGIN PASSWORD '$password' CREATEDB;
  END IF;
END \$\$;
SQL
    if ! $as_postgres psql -XqAt -c "select 1 from pg_database where datname = '$db'" | grep -q 1; then
        $as_postgres createdb -O "$role" "$db" || return 1
    fi
    export ORCH_TEST_DATABASE_URL="postgresql+asyncpg://$role:$password@127.0.0.1:5432/$db"
}
