#!/bin/sh
# Run once by the postgres image when its data directory is first made (compose.yaml mounts it
# into /docker-entrypoint-initdb.d, after 10-pg_alphadome.sql made the extension): the relay's
# and the console's logins, least-privileged, their passwords read from the compose secrets.
# The passwords reach psql through \set with a backquoted cat, not through its command line (ps
# would show them), and the statements that carry them are not logged.
set -eu
psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\set relay_password `cat /run/secrets/relay_db_password`
\set console_password `cat /run/secrets/console_db_password`
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
CREATE ROLE relay_login LOGIN IN ROLE alphadome_relay PASSWORD :'relay_password';
CREATE ROLE console_login LOGIN NOINHERIT
  IN ROLE alphadome_console, alphadome_tenant, alphadome_agent, alphadome_admin
  PASSWORD :'console_password';
SQL
