#!/bin/sh
# Enrols a regional node at the hub and the hub at the regional node, with each one's current keys: the one
# step that joins a node to the federation (docs/OPERATIONS.md, "From nothing to a hub and two regions").
#
#   deploy/enrol.sh HUB_URL NODE_URL [REGION_CODES]
#
#   HUB_URL        the hub's base URL as the regional node reaches it, e.g. https://lapor.go.id
#   NODE_URL       the regional node's base URL as the hub reaches it, e.g. https://lapor.kupangkota.go.id
#   REGION_CODES   Kemendagri codes the regional node serves, comma-separated, e.g. 53.71
#
# HUB_LAPOR and NODE_LAPOR are the commands that run `lapor` for each node with its configuration (default
# `lapor`), e.g. HUB_LAPOR='lapor -c /etc/lapor/hub.toml', HUB_LAPOR='deploy/lapor' (the systemd wrapper),
# HUB_LAPOR='podman compose -f deploy/compose.yaml exec -T hub lapor', or ssh to another machine. Running it
# again updates the URLs and regions; it never removes anything.
set -eu

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
  sed -n '2,17p' "$0" >&2
  exit 2
fi
hub_url=$1
node_url=$2
regions=${3:-}
hub_lapor=${HUB_LAPOR:-lapor}
node_lapor=${NODE_LAPOR:-lapor}

# `lapor keys show` prints "node_id:", "key_id:", "public_key:" and "enc_public:" lines.
field() { printf '%s\n' "$1" | sed -n "s/^$2: *//p"; }

hub_keys=$($hub_lapor keys show)
node_keys=$($node_lapor keys show)
hub_id=$(field "$hub_keys" node_id)
node_id=$(field "$node_keys" node_id)
if [ -z "$hub_id" ] || [ -z "$node_id" ]; then
  echo "enrol.sh: could not read the node ids from 'lapor keys show'" >&2
  exit 1
fi

# shellcheck disable=SC2086 # the lapor commands are meant to be split into words
$hub_lapor peers add --node-id "$node_id" --role regional --url "$node_url" \
  --public-key "$(field "$node_keys" public_key)" --enc-public "$(field "$node_keys" enc_public)" \
  --regions "$regions"
# shellcheck disable=SC2086
$node_lapor peers add --node-id "$hub_id" --role hub --url "$hub_url" \
  --public-key "$(field "$hub_keys" public_key)" --enc-public "$(field "$hub_keys" enc_public)"
echo "enrolled $node_id at $hub_id ($node_url) and $hub_id at $node_id ($hub_url)"
