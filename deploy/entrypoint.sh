#!/bin/sh
# The image's entrypoint: settings that are secrets come from files (compose or Kubernetes secrets), then the
# callsense command replaces this shell (exec), so it is PID 1 and gets the stop signal.
#   CALLSENSE_<SETTING>_FILE=/run/secrets/x  ->  CALLSENSE_<SETTING>=<the file's content>
#   PGPASSWORD_FILE=/run/secrets/x           ->  PGPASSWORD (read by PostgreSQL's client library)
# Settings whose own name ends in _FILE are paths, not secrets, and are left as they are (a test keeps this
# list complete): CALLSENSE_KEY_FILE (the key ring), CALLSENSE_FETCH__CA_FILE.
set -eu

for name in $(env | sed -n 's/^\(CALLSENSE_[A-Z0-9_]*_FILE\)=.*/\1/p; s/^\(PGPASSWORD_FILE\)=.*/\1/p'); do
    case "$name" in CALLSENSE_KEY_FILE | CALLSENSE_FETCH__CA_FILE) continue ;; esac
    path=$(printenv "$name")
    if [ ! -r "$path" ]; then
        echo "error: $name names $path, which this user (uid $(id -u)) cannot read" >&2
        exit 1
    fi
    # The content without its trailing newline, as an editor saves it.
    export "${name%_FILE}=$(cat "$path")"
    unset "$name"
done

exec callsense "$@"
