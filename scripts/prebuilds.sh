#!/bin/sh
# Regenerates the committed N-API prebuilds, prebuilds/linux-x64 and (cross-
# compiled) prebuilds/linux-arm64, so that installing dynwork compiles nothing.
# Run it as `npm run prebuilds` on a linux-x64 host: npm puts its own node-gyp
# on PATH. Needs make, gcc, and Debian's gcc-aarch64-linux-gnu and
# g++-aarch64-linux-gnu (node-gyp links with $CXX). See native/README.md.
set -eu
cd "$(dirname "$0")/.."

# Node's include/node is the same on every arch except config.gypi, whose
# target_arch node-gyp overrides from --arch; OpenSSL's configuration.h picks
# archs/<target> from the compiler's own __x86_64__ / __aarch64__. So this
# Node's headers serve both builds and nothing is downloaded. Without them,
# node-gyp fetches the headers of --target.
if [ -z "${npm_config_nodedir:-}" ]; then
  dir=$(node -p 'require("path").resolve(process.execPath, "../..")')
  if [ -f "$dir/include/node/node_api.h" ]; then
    npm_config_nodedir=$dir
    export npm_config_nodedir
  fi
fi

# One build per arch serves every Node version: the addon uses Node-API
# (NAPI_VERSION 8) and the OpenSSL 3 symbols every Node ≥ 17 exports.
# node.napi.glibc.node is the name node-gyp-build treats as runtime-agnostic;
# the libc tag keeps musl systems from loading a glibc build.
set -- --napi --name node.napi --tag-libc --strip --target "$(node -p process.versions.node)"

prebuildify "$@" --arch x64
CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
  prebuildify "$@" --arch arm64 --strip-bin aarch64-linux-gnu-strip

# build/ now holds arm64 objects; left there, a later `node-gyp build` would
# link them into build/Release, which node-gyp-build prefers to prebuilds/.
rm -rf build
