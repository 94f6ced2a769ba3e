#!/bin/sh
# Re-fetches the charting library of the console from the npm registry at the
# version pinned in package.json / package-lock.json, and copies its built
# UMD file and licence into vendor/. The files are committed, so `go build`
# alone gives a working console; TestVendoredChartJS checks that the
# committed file is the one recorded in vendor/SHA256SUMS.
#
#   sh bus/console/assets/update.sh            # refresh vendor/ (npm ci)
#   OUT=/tmp/x sh bus/console/assets/update.sh # write elsewhere (the test does)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/vendor}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
mkdir -p "$out"
cp "$work/node_modules/chart.js/dist/chart.umd.min.js" "$out/chart.umd.min.js"
cp "$work/node_modules/chart.js/LICENSE.md" "$out/chart.js-LICENSE.md"
(cd "$out" && sha256sum chart.umd.min.js > SHA256SUMS)
echo "chart.js $(node -p "require('$work/node_modules/chart.js/package.json').version") -> $out"
