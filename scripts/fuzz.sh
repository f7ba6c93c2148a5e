#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes (fuzz/fuzz_targets/), each for
# FUZZ_SECONDS (default 25), and exits non-zero naming every target that
# crashed (panic, overflow, OOM, timeout).
#
#   bash scripts/fuzz.sh                    # all targets
#   bash scripts/fuzz.sh tar_bundle zip_bundle
#   FUZZ_SECONDS=300 bash scripts/fuzz.sh json_documents
#
# Installs cargo-fuzz if absent. Works on a stable toolchain:
# RUSTC_BOOTSTRAP=1 lets cargo fuzz pass its nightly-only flags.
# Each target fuzzes a throw-away copy of fuzz/corpus/<target>/ (so the
# repository's corpus does not grow), with the repository's copy as a
# read-only seed directory. A crashing input is left in
# fuzz/artifacts/<target>/; fix the bug and keep the input in
# fuzz/regressions/<target>/, which every run replays as seeds.
#
# Environment: FUZZ_SECONDS (per target), FUZZ_TIMEOUT (seconds one input
# may take before it counts as a hang, default 10), FUZZ_SANITIZER
# (address | none, default address), CARGO_BUILD_JOBS as usual.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-25}"
timeout="${FUZZ_TIMEOUT:-10}"
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1

step() { printf '\n==> %s\n' "$*"; }

step "cargo-fuzz"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
cargo fuzz --version

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi
[ "${#targets[@]}" -gt 0 ] || { echo "no fuzz targets found" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/ferry-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tmp" "$work/corpus" "$work/logs"

step "build ${#targets[@]} targets (sanitizer: $sanitizer)"
t0=$SECONDS
if [ "$#" -gt 0 ]; then
  for t in "${targets[@]}"; do cargo fuzz build --sanitizer "$sanitizer" "$t"; done
else
  cargo fuzz build --sanitizer "$sanitizer"
fi
echo "built in $((SECONDS - t0)) s"

failed=()
for t in "${targets[@]}"; do
  seeds="$PWD/fuzz/corpus/$t"
  [ -d "$seeds" ] || { echo "fuzz/corpus/$t is missing" >&2; failed+=("$t (no corpus)"); continue; }
  corpus="$work/corpus/$t"
  cp -r "$seeds" "$corpus"
  log="$work/logs/$t.log"
  step "$t: ${seconds} s"
  # Inputs that once crashed are seeds too: a fix that regresses fails here.
  regress=()
  if [ -d "fuzz/regressions/$t" ]; then
    regress=("$PWD/fuzz/regressions/$t")
    echo "(replaying $(find "fuzz/regressions/$t" -type f | wc -l) input(s) that once crashed, from fuzz/regressions/$t)"
  fi
  t0=$SECONDS
  # TMPDIR: the path-based targets write their scratch files under $work.
  if TMPDIR="$work/tmp" cargo fuzz run --sanitizer "$sanitizer" "$t" "$corpus" "$seeds" "${regress[@]}" -- \
    -max_total_time="$seconds" -timeout="$timeout" -print_final_stats=1 >"$log" 2>&1; then
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 || true)"
    echo "ok: ${runs:-?} runs in $((SECONDS - t0)) s, ${cov:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) inputs"
  else
    echo "CRASH in $t after $((SECONDS - t0)) s:" >&2
    if ! grep -a -E -A1 'panicked at|^==[0-9]+==ERROR|^SUMMARY:|ERROR: libFuzzer|Test unit written to|^Base64:' "$log" >&2; then
      tail -n 60 "$log" >&2
    fi
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  printf '\nfuzzing found crashes in: %s\n' "${failed[*]}" >&2
  echo "crashing inputs: fuzz/artifacts/<target>/ (replay: RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer <target> <file>)" >&2
  exit 1
fi
printf '\nall %d targets ran %s s each without a crash\n' "${#targets[@]}" "$seconds"
