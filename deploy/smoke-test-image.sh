#!/bin/sh
# Smoke test of the image: process samples/call_en_refund.flac inside it, as its user, on its embedded
# PostgreSQL, with no network but loopback (so nothing can be downloaded at run time); prints the record.
# Needs root and Debian's buildah and iproute2. It uses `buildah run`, not `podman run`, so that it also works
# where containers cannot start (docs/operations.md, "Containers").
#   deploy/smoke-test-image.sh [IMAGE]        IMAGE: localhost/callsense:latest unless given
set -eu
image=${1:-localhost/callsense:latest}
samples=$(cd "$(dirname "$0")/../samples" && pwd)
container=$(buildah from "$image")
trap 'buildah rm "$container" >/dev/null' EXIT
# buildah's chroot isolation cannot make a network namespace itself: unshare makes one, loopback only.
unshare --net sh -c '
    ip link set lo up
    exec buildah run --isolation chroot --network host --user 10001:10001 -v "$1:/samples:ro" "$2" -- \
        /usr/local/bin/callsense-entrypoint process /samples/call_en_refund.flac --call-id smoke-test
' smoke-test "$samples" "$container"
