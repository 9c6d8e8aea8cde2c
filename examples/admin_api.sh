#!/usr/bin/env bash
# Read the registries through the admin API with the demo admin token.
# Run `make run` first (it seeds the demo data and writes var/demo-credentials.json).
set -euo pipefail
base=${GOVCONNECT_URL:-http://127.0.0.1:8000}
credentials=${GOVCONNECT_DEMO_CREDENTIALS:-var/demo-credentials.json}
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_token"])' "$credentials")

echo "# organisations"
curl -fsS -H "Authorization: Bearer $token" "$base/admin/v1/organisations"
echo
echo "# clients"
curl -fsS -H "Authorization: Bearer $token" "$base/admin/v1/clients"
echo
echo "# the gateway's public signing keys"
curl -fsS "$base/.well-known/jwks.json"
echo
