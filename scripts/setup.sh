#!/usr/bin/env bash
# Set up everything SigRekap needs on this machine: system packages, the
# Python virtual environment, vendored front-end files, the database and the
# demo office. Safe to run again: each step skips work that is already done.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
python=${PYTHON:-python3}

log() { printf '==> %s\n' "$*"; }

# System packages: poppler (pdfsig, pdftoppm, pdftotext) validates and renders
# PDFs in tests, NSS tools build pdfsig's trust store, DejaVu fonts are embedded
# in recaps, zbar decodes QR codes in tests, Chromium runs the browser tests.
need_pkgs=()
command -v pdfsig >/dev/null || need_pkgs+=(poppler-utils)
command -v certutil >/dev/null || need_pkgs+=(libnss3-tools)
command -v chromium >/dev/null || need_pkgs+=(chromium)
command -v zbarimg >/dev/null || need_pkgs+=(zbar-tools)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_pkgs+=(fonts-dejavu-core)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        log "Installing Debian packages: ${need_pkgs[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
    else
        echo "Missing system packages. Install them with:" >&2
        echo "  sudo apt-get install -y ${need_pkgs[*]}" >&2
        exit 1
    fi
fi

# Python virtual environment, reinstalled only when the dependency list changes.
if [ ! -x .venv/bin/python ]; then
    log "Creating .venv"
    "$python" -m venv .venv
fi
stamp=.setup-stamp-python
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "Installing Python dependencies"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -c constraints.txt -e '.[test]'
    echo "$want" > "$stamp"
fi

# Front-end files come from the npm registry, pinned in package-lock.json, and
# are served from static/vendor so that no page needs the internet.
stamp=.setup-stamp-npm
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -f static/vendor/htmx.min.js ]; then
    log "Installing front-end packages"
    npm ci --silent --no-audit --no-fund
    mkdir -p static/vendor
    cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
    cp node_modules/axe-core/axe.min.js static/vendor/axe.min.js
    echo "$want" > "$stamp"
fi

# PostgreSQL is the production database; the test suite runs against it too.
if [ "${SIGREKAP_SKIP_POSTGRES:-}" != 1 ]; then
    scripts/postgres.sh
fi

# Database schema, demo office, users, keys and the trust anchor in certs/.
log "Preparing the database and the demo office"
.venv/bin/flask --app wsgi init-demo
log "Set-up complete"
