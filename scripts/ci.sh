#!/usr/bin/env bash
# The test command (README, line 2): everything CI checks, from a clean clone.
# Installs what the tests need (idempotently), then: fmt, clippy, build,
# the packages (built, installed, removed), tests, and the promise that
# ferry-verify links no networking code.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "system packages the tests use (minisign, nginx-light, openssl, curl, binutils, python3-venv, nodejs, npm, chromium, skopeo, docker-registry)"
missing=()
command -v minisign >/dev/null 2>&1 || missing+=(minisign)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v objdump >/dev/null 2>&1 || missing+=(binutils)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "all present"
fi

step "independent clients for the view tests: python-tuf, tuf-js, the BSI CSAF validator (issue 15)"
bash scripts/install-clients.sh

step "S3 stores the publish tests run (issue 14): garage, s3s-fs"
# Built from crates.io once per machine (garage takes ~13 min on two cores,
# s3s-fs ~4); skipped when already installed. s3s-fs 0.14.1 is the newest
# that builds with this machine's rustc.
command -v garage >/dev/null 2>&1 || cargo install garage --version 2.5.0 --locked
command -v s3s-fs >/dev/null 2>&1 || cargo install s3s-fs --version 0.14.1 --locked --features binary
echo "garage: $(command -v garage); s3s-fs: $(command -v s3s-fs)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "build the binaries the end-to-end tests run (with the crash tests' failpoints)"
cargo build --workspace --bins --features ferry-mirror/failpoints

step "a release build contains no failpoint code (issue 11)"
cargo build --release --workspace --bins
for b in ferry ferry-verify ferry-mirror ferry-handoff; do
  if grep -a -q -e FERRY_FAILPOINT -e 'waiting to be killed' "target/release/$b"; then
    echo "target/release/$b contains failpoint code" >&2
    exit 1
  fi
done
echo "ok: no failpoint strings in the four release binaries"

step "packages: .debs and signed release archive, installed and removed (scripts/test-package.sh, issue 16)"
bash scripts/test-package.sh

step "ferry-verify links no networking crate and no hand-off code (SPEC §1, §2)"
tree="$(cargo tree -p ferry-verify -e normal --prefix none)"
if bad="$(printf '%s\n' "$tree" | grep -E '^(reqwest|hyper|tokio|rustls|native-tls|openssl|h2) v' | sort -u)" && [ -n "$bad" ]; then
  echo "ferry-verify depends on networking crates:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "ok: $(printf '%s\n' "$tree" | sort -u | wc -l) crates, none of reqwest/hyper/tokio/rustls/native-tls/openssl/h2"
if printf '%s\n' "$tree" | grep -q '^ferry-handoff-core v'; then
  echo "ferry-verify links the hand-off (installer) crate ferry-handoff-core" >&2
  exit 1
fi
echo "ok: ferry-verify links no hand-off code (ferry-handoff-core)"

step "fuzz every parser of untrusted bytes briefly (scripts/fuzz.sh; fuzz/README.md)"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}" bash scripts/fuzz.sh

step "tests"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"
# One closing line for the whole run (the last crate's doc-tests would
# otherwise close the log with "0 passed").
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "\nci: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
