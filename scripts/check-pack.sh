#!/usr/bin/env bash
# Packs the package and installs the tarball into an empty project offline: proof that the tarball
# carries the built binary and that installing it downloads and compiles nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$root"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
contents="$(tar -tzf "$work/$tarball")"
grep -qx 'package/vendure-native-session-cache.linux-x64-gnu.node' <<<"$contents" \
  || { echo "the tarball holds no linux-x64 binary"; exit 1; }
for doc in README.md SECURITY.md LICENSE DESIGN.md BENCHMARKS.md CHANGELOG.md; do
  grep -qx "package/$doc" <<<"$contents" || { echo "the tarball lacks $doc"; exit 1; }
done

mkdir "$work/app" && cd "$work/app"
npm init -y >/dev/null
npm install --offline --no-audit --no-fund --ignore-scripts=false "$work/$tarball"
node -e "
  const { NativeSessionCacheStrategy } = require('vendure-native-session-cache');
  const cache = new NativeSessionCacheStrategy({ maxEntries: 10 });
  const session = { cacheExpiry: Date.now() / 1000 + 60, id: 1, token: 'a'.repeat(64), expires: new Date(Date.now() + 6e4) };
  cache.set(session);
  const back = cache.get(session.token);
  if (!(back.expires instanceof Date) || back.id !== 1) throw new Error('round-trip failed');
  console.log('packed tarball', '$tarball', 'installed offline and round-tripped a session');
"
