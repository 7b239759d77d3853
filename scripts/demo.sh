#!/usr/bin/env bash
# The main job on an embedded default that needs no server: build the bundles, create a small
# multi-platform image layout, mirror it into another layout, print the result.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
demo=.demo
rm -rf "$demo"
node scripts/demo-image.mjs "$demo/upstream" app-1.0 tools-2.3
cat > "$demo/images.txt" <<LIST
# source                         destination
oci:$demo/upstream:app-1.0       oci:$demo/airgap:app-1.0
oci:$demo/upstream:tools-2.3     oci:$demo/airgap:tools-2.3
LIST
echo "== airlock mirror --file $demo/images.txt (dist/airlock.cjs, no node_modules needed)"
node dist/airlock.cjs mirror --file "$demo/images.txt" --report "$demo/report.json" --junit "$demo/junit.xml"
echo
echo "== result: $demo/airgap/index.json"
node -e 'const i=require("./'"$demo"'/airgap/index.json");for(const m of i.manifests)console.log(`${m.annotations["org.opencontainers.image.ref.name"]}\t${m.digest}`)'
echo "== report: $demo/report.json, JUnit: $demo/junit.xml"
if command -v skopeo >/dev/null; then
  echo "== skopeo inspect oci:$demo/airgap:app-1.0 (interop check)"
  skopeo inspect --raw "oci:$demo/airgap:app-1.0" | head -c 400; echo
fi
