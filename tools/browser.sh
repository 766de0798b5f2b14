#!/usr/bin/env bash
# Make sure the browser the viewer's tests drive is here: Debian's chromium
# (Playwright's own browser download needs a network this project does not
# assume). Prints the browser's path; installs it with apt-get when missing
# and running as root. Exit 1 (with a line saying what to do) otherwise.
set -u
for b in "${FLOWTRACE_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$b" ] && [ -x "$b" ]; then echo "$b"; exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log=/tmp/flowtrace-chromium-install.log
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1 \
        && [ -x /usr/bin/chromium ]; then
        echo /usr/bin/chromium; exit 0
    fi
    echo "flowtrace: chromium did not install (see $log)" >&2
    exit 1
fi
echo "flowtrace: the viewer's tests need Chromium: apt-get install chromium (or set" \
     "FLOWTRACE_CHROMIUM=/path/to/chrome; FLOWTRACE_NO_BROWSER=1 skips those tests)" >&2
exit 1
