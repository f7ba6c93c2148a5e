#!/usr/bin/env bash
# The independent clients the view tests run (issue 15), installed into
# target/clients/ from PyPI and npm, idempotently:
#   python-tuf (ngclient.Updater) in a venv      target/clients/venv
#   tuf-js and the BSI CSAF validator library    target/clients/node_modules
# Needs python3 (with venv) and node/npm; scripts/ci.sh installs those.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/clients
mkdir -p "$dir"
if [ ! -x "$dir/venv/bin/python" ] || ! "$dir/venv/bin/python" -c 'import tuf.ngclient' 2>/dev/null; then
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install -q 'tuf>=6,<8'
fi
echo "python-tuf $("$dir/venv/bin/python" -c 'import tuf; print(tuf.__version__)')"
if [ ! -d "$dir/node_modules/tuf-js" ] || [ ! -d "$dir/node_modules/@secvisogram/csaf-validator-lib" ]; then
  (cd "$dir" && { [ -f package.json ] || echo '{"name":"ferry-test-clients","private":true}' > package.json; } \
    && npm install --silent --no-audit --no-fund 'tuf-js@^5' '@secvisogram/csaf-validator-lib@^2')
fi
echo "tuf-js $(node -e "console.log(require('./$dir/node_modules/tuf-js/package.json').version)")"
echo "csaf-validator-lib $(node -e "console.log(require('./$dir/node_modules/@secvisogram/csaf-validator-lib/package.json').version)")"
