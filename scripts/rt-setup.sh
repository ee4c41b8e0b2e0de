#!/usr/bin/env bash
# Request Tracker 5 on loopback, for deskroute's live connector tests and for trying deskroute locally.
#
# Idempotent: installs the Debian packages when missing, writes a site config for the port, starts the
# standalone server in the background when nothing answers there, creates the "deskroute tags" custom field
# when the instance lacks it, and waits until REST 2 answers. Needs root (apt, /etc) on Debian/Ubuntu.
#
#   RT_PORT (default 8081)   RT_USER / RT_PASSWORD (default root / password: a fresh install's superuser)
#   RT_LOG (default /var/log/deskroute-rt-server.log)   RT_WAIT_SECONDS (default 120)
set -euo pipefail

RT_PORT="${RT_PORT:-8081}"
RT_USER="${RT_USER:-root}"
RT_PASSWORD="${RT_PASSWORD:-password}"
RT_LOG="${RT_LOG:-/var/log/deskroute-rt-server.log}"
RT_WAIT_SECONDS="${RT_WAIT_SECONDS:-120}"
RT_URL="http://127.0.0.1:${RT_PORT}"
TAGS_FIELD="deskroute tags"
PACKAGES=(request-tracker5 rt5-db-sqlite rt5-standalone)

say() { echo "rt-setup: $*" >&2; }

rest_answers() {
    curl -fsS -m 5 -u "${RT_USER}:${RT_PASSWORD}" "${RT_URL}/REST/2.0/queues/all" >/dev/null 2>&1
}

install_packages() {
    local missing=()
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    say "installing ${missing[*]} (a minute or two)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q "${missing[@]}" >/tmp/deskroute-rt-apt.log 2>&1; then
        # A fresh machine often has no package lists yet.
        apt-get update -q >>/tmp/deskroute-rt-apt.log 2>&1
        apt-get install -y -q "${missing[@]}" >>/tmp/deskroute-rt-apt.log 2>&1 || {
            say "apt-get install failed; see /tmp/deskroute-rt-apt.log"
            exit 1
        }
    fi
}

site_config() {
    local dir
    dir="$(dpkg -L request-tracker5 | grep -m1 '/RT_SiteConfig\.d$' || true)"
    [ -n "$dir" ] || dir=/etc/request-tracker5/RT_SiteConfig.d
    mkdir -p "$dir"
    local file="$dir/90-deskroute-loopback.pm"
    local wanted
    wanted="$(cat <<PERL
# Written by deskroute's scripts/rt-setup.sh: RT on loopback for the connector's live tests.
Set(\$WebBaseURL, "${RT_URL}");
Set(\$WebPath, "");
Set(\$WebDomain, "127.0.0.1");
Set(\$WebPort, ${RT_PORT});
Set(\$RestrictReferrer, 0);
1;
PERL
)"
    if [ "$(cat "$file" 2>/dev/null)" != "$wanted" ]; then
        printf '%s\n' "$wanted" >"$file"
        say "wrote $file"
    fi
}

start_server() {
    rest_answers && return 0
    local server
    server="$(dpkg -L request-tracker5 | grep -m1 'libexec/rt-server$' || true)"
    [ -n "$server" ] || { say "rt-server not found in the request-tracker5 package"; exit 1; }
    say "starting $server --port ${RT_PORT} (log: ${RT_LOG})"
    mkdir -p "$(dirname "$RT_LOG")"
    # setsid + nohup: the server outlives this script and the CI step that ran it.
    setsid nohup "$server" --port "${RT_PORT}" >>"$RT_LOG" 2>&1 </dev/null &
}

wait_for_rest() {
    local deadline=$((SECONDS + RT_WAIT_SECONDS))
    until rest_answers; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "REST 2 at ${RT_URL}/REST/2.0/ did not answer within ${RT_WAIT_SECONDS}s; last log lines:"
            tail -n 20 "$RT_LOG" >&2 || true
            exit 1
        fi
        sleep 1
    done
}

tags_field() {
    local query found
    query="$(printf '[{"field":"Name","value":"%s"}]' "$TAGS_FIELD")"
    found="$(curl -fsS -m 10 -G -u "${RT_USER}:${RT_PASSWORD}" --data-urlencode "query=${query}" \
        "${RT_URL}/REST/2.0/customfields" | grep -o '"total" *: *[0-9]*' | grep -o '[0-9]*$' || echo 0)"
    [ "${found:-0}" -gt 0 ] && return 0
    local setup data
    setup="$(command -v rt-setup-database-5 || dpkg -L request-tracker5 | grep -m1 'sbin/rt-setup-database-5$')"
    data="$(mktemp --suffix=.pl)"
    cat >"$data" <<PERL
@CustomFields = (
    {
        Name        => '${TAGS_FIELD}',
        Type        => 'FreeformMultiple',
        LookupType  => 'RT::Queue-RT::Ticket',
        Description => 'Tags written by deskroute',
        Queue       => 0,
    },
);
1;
PERL
    say "creating the custom field '${TAGS_FIELD}' (applied to all queues)"
    "$setup" --action insert --datafile "$data" --skip-create </dev/null >>"$RT_LOG" 2>&1 || {
        say "rt-setup-database-5 failed; see ${RT_LOG}"
        rm -f "$data"
        exit 1
    }
    rm -f "$data"
}

install_packages
site_config
start_server
wait_for_rest
tags_field
say "Request Tracker answers at ${RT_URL}/REST/2.0/ (user ${RT_USER})"
