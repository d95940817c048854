#!/bin/sh
# The role web and workers connect as. The migrate service grants it its privileges
# (`pathways init-db --app-role pathways_app`) after every upgrade.
set -eu
psql -v ON_ERROR_STOP=1 -v password="$POSTGRES_APP_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE pathways_app LOGIN PASSWORD :'password';
SQL
