#!/usr/bin/env bash
# Re-vendor the dashboard's JavaScript from the npm registry into callsense/web/static/vendor/.
# The built files are committed, so neither serving nor installing callsense needs npm or a CDN;
# run this only to upgrade, after changing the pinned versions below.
set -euo pipefail
CHARTJS_VERSION=4.6.1
HTMX_VERSION=2.0.11
cd "$(dirname "$0")/.."
vendor=callsense/web/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$vendor"
(cd "$work" && npm pack --silent "chart.js@$CHARTJS_VERSION" "htmx.org@$HTMX_VERSION" >/dev/null)
tar -xzf "$work/chart.js-$CHARTJS_VERSION.tgz" -C "$work" && mv "$work/package" "$work/chartjs"
tar -xzf "$work/htmx.org-$HTMX_VERSION.tgz" -C "$work" && mv "$work/package" "$work/htmx"
cp "$work/chartjs/dist/chart.umd.min.js" "$vendor/chart.umd.min.js"
cp "$work/chartjs/LICENSE.md" "$vendor/chart.js.LICENSE.md"
cp "$work/htmx/dist/htmx.min.js" "$vendor/htmx.min.js"
cp "$work/htmx/LICENSE" "$vendor/htmx.LICENSE"
printf 'chart.js %s\nhtmx.org %s\n' "$CHARTJS_VERSION" "$HTMX_VERSION" > "$vendor/VERSIONS"
