#!/usr/bin/env bash
# SPEC §6 benchmarks for bundles (issue 5). Not part of CI.
#
# Builds release binaries, makes its data in a temp folder, and prints each
# row as a ratio against openssl run in the same script, plus peak RSS
# (/usr/bin/time -v). The signed workspace is built with what exists today:
# head -c for data, the minisign CLI and the demo keys (test-only) for the
# vendor and transfer signatures, and a hand-written manifest (ferry sync
# and ferry sign are other issues; when they land, use them here instead).
# The sync rows serve a vendor folder made by `ferry index build` from
# 127.0.0.1 (python3 -m http.server) and compare with curl + openssl; the
# import row imports the 4 GiB tar into a fresh mirror in the same temp
# folder and compares with tar xf + openssl.
#
#   scripts/bench.sh                 # 4 GiB (import, verify, pack), 2 GiB (sync)
#   BENCH_MIB=1024 BENCH_SYNC_MIB=512 scripts/bench.sh  # smaller, for a quick look
#   BENCH_DIR=0 scripts/bench.sh     # skip the 8 x 512 MiB directory row
#   TMPDIR=/dev/shm scripts/bench.sh # RAM-backed: pack is otherwise bound by
#                                    # the disk (it fsyncs the bundle it writes)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
MIB="${BENCH_MIB:-4096}"
DIR_MIB="${BENCH_DIR_MIB:-512}"   # per file, 8 files (SPEC: 8 x 512 MiB)
SYNC_MIB="${BENCH_SYNC_MIB:-2048}" # the synced artifact (SPEC: 2 GiB)

need=()
[ -x /usr/bin/time ] || need+=(time)
command -v minisign >/dev/null || need+=(minisign)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

echo "==> cargo build --release (ferry, ferry-verify, ferry-mirror)"
cargo build --release -q -p ferry -p ferry-verify -p ferry-mirror
FERRY="$root/target/release/ferry"
VERIFY="$root/target/release/ferry-verify"
MIRROR="$root/target/release/ferry-mirror"
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"

T="$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
echo "==> data in $T (${MIB} MiB artifact)"

# run LABEL CMD...: wall seconds and peak RSS (KiB) into $T/LABEL.time
run() {
  local label="$1"; shift
  /usr/bin/time -f '%e %M' -o "$T/$label.time" "$@" >/dev/null 2>"$T/$label.err" || {
    echo "FAILED: $label"; cat "$T/$label.err"; exit 1; }
}
secs() { cut -d' ' -f1 "$T/$1.time"; }
rss() { cut -d' ' -f2 "$T/$1.time"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.2f", a / b }'; }

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

ART=novantra_3.2.1_amd64.deb
REL=releases/3.2.1/no-training

# make_ws DIR WITH_SIG: a signed workspace around $T/artifact.
make_ws() {
  local ws="$1" with_sig="$2"
  mkdir -p "$ws/$REL" "$ws/ferry/signatures"
  ln "$T/artifact" "$ws/$REL/$ART"
  printf '# novantra 3.2.1\n' > "$ws/releases/3.2.1/NOTES.md"
  local upstream="" files=""
  if [ "$with_sig" = 1 ]; then
    cp "$T/artifact.minisig" "$ws/$REL/$ART.minisig"
    upstream="{\"kind\": \"minisign\", \"path\": \"$REL/$ART.minisig\", \"key_id\": \"$VENDOR_ID\"}"
    files="$files {\"path\": \"$REL/$ART.minisig\", \"size\": $(size "$ws/$REL/$ART.minisig"), \"sha256\": \"$(sha "$ws/$REL/$ART.minisig")\"},"
  fi
  {
    echo "$(sha "$ws/releases/3.2.1/NOTES.md")  releases/3.2.1/NOTES.md"
    [ "$with_sig" = 1 ] && echo "$(sha "$ws/$REL/$ART.minisig")  $REL/$ART.minisig"
    echo "$ART_SHA  $REL/$ART"
  } > "$ws/ferry/SHA256SUMS"
  cat > "$ws/ferry/manifest.json" <<JSON
{
  "schema": "ferry.manifest/v1",
  "product": "novantra",
  "sequence": 1,
  "created": "2026-11-20T10:00:00Z",
  "expires": "2026-12-20T10:00:00Z",
  "source": {"index_url": "https://vendor.example/index.json", "index_sha256": "$ART_SHA", "fetched": "2026-11-20T09:00:00Z"},
  "selection": {"channels": ["stable"], "profiles": ["no-training"]},
  "releases": [{"version": "3.2.1", "channels": ["stable"], "published": "2026-11-01T00:00:00Z",
    "notes": "releases/3.2.1/NOTES.md",
    "artifacts": [{"path": "$REL/$ART", "profile": "no-training", "platform": "linux-amd64", "format": "deb",
      "upstream": [$upstream]}]}],
  "files": [
    {"path": "ferry/SHA256SUMS", "size": $(size "$ws/ferry/SHA256SUMS"), "sha256": "$(sha "$ws/ferry/SHA256SUMS")"},
    {"path": "releases/3.2.1/NOTES.md", "size": $(size "$ws/releases/3.2.1/NOTES.md"), "sha256": "$(sha "$ws/releases/3.2.1/NOTES.md")"},
    $files
    {"path": "$REL/$ART", "size": $ART_SIZE, "sha256": "$ART_SHA"}
  ]
}
JSON
  local msha; msha="$(sha "$ws/ferry/manifest.json")"
  for k in org1 org2; do
    local id; id="$(sed -n 's/.*minisign public key:* *//p' "$root/keys/demo/$k.pub")"
    minisign -S -s "$root/keys/demo/$k.key" -m "$ws/ferry/manifest.json" \
      -x "$ws/ferry/signatures/$id.minisig" \
      -t "ferry-manifest product=novantra sequence=1 sha256=$msha" </dev/null >/dev/null
  done
}

cat > "$T/trust.toml" <<TOML
product = "novantra"
[vendor]
minisign_keys = ["$root/keys/demo/vendor.pub"]
[transfer]
keys = ["$root/keys/demo/org1.pub", "$root/keys/demo/org2.pub", "$root/keys/demo/org3.pub"]
threshold = 2
max_validity = "45d"
[mirror]
keys = ["$root/keys/demo/mirror.pub"]
channels = ["stable"]
profiles = ["no-training"]
TOML
sed 's/^\[vendor\]$/[vendor]\nrequire = []/' "$T/trust.toml" > "$T/trust-nosig.toml"

head -c "$((MIB * 1024 * 1024))" /dev/urandom > "$T/artifact"
ART_SHA="$(sha "$T/artifact")"; ART_SIZE="$(size "$T/artifact")"
VENDOR_ID="$(sed -n 's/.*minisign public key:* *//p' "$root/keys/demo/vendor.pub")"
minisign -S -s "$root/keys/demo/vendor.key" -m "$T/artifact" -x "$T/artifact.minisig" \
  -t "file:$ART" </dev/null >/dev/null
make_ws "$T/ws-sig" 1
make_ws "$T/ws-nosig" 0

NOW=2026-11-21T00:00:00Z
cat "$T/artifact" > /dev/null   # page cache

echo "==> reference tools"
run sha256 openssl dgst -sha256 "$T/artifact"
run blake2 openssl dgst -blake2b512 "$T/artifact"
run sha256sum sha256sum "$T/artifact"

echo "==> pack"
run pack "$FERRY" pack --workspace "$T/ws-sig" --out "$T/sig.tar"
"$FERRY" pack --workspace "$T/ws-nosig" --out "$T/nosig.tar" >/dev/null
cat "$T/sig.tar" "$T/nosig.tar" > /dev/null

echo "==> verify"
run verify_sig "$VERIFY" bundle "$T/sig.tar" --trust "$T/trust.toml" --now "$NOW"
run verify_nosig "$VERIFY" bundle "$T/nosig.tar" --trust "$T/trust-nosig.toml" --now "$NOW"

rm -f "$T/nosig.tar"

echo "==> import ${MIB} MiB tar into a new mirror (same filesystem)"
"$MIRROR" init "$T/mirror" --product novantra --channel stable --profile no-training \
  --key "$root/keys/demo/mirror.key" -q >/dev/null
cat "$T/sig.tar" > /dev/null
run import_ref sh -c "mkdir '$T/x' && tar xf '$T/sig.tar' -C '$T/x' && openssl dgst -sha256 '$T/x/$REL/$ART'"
rm -rf "$T/x"
run import "$MIRROR" import "$T/sig.tar" --mirror "$T/mirror" --trust "$T/trust.toml" \
  --key "$root/keys/demo/mirror.key" --now "$NOW" -q
rm -rf "$T/mirror"

echo "==> sync ${SYNC_MIB} MiB from python3 -m http.server on 127.0.0.1"
v="$T/vendor-src"; mkdir -p "$v/3.2.1/no-training"
echo 'product = "novantra"' > "$v/product.toml"
printf '# novantra 3.2.1\n' > "$v/3.2.1/NOTES.md"
cat > "$v/3.2.1/release.toml" <<TOML
channels = ["stable"]
published = "2026-11-01T00:00:00Z"
[[artifacts]]
file = "$ART"
profile = "no-training"
platform = "linux-amd64"
format = "deb"
TOML
head -c "$((SYNC_MIB * 1024 * 1024))" /dev/urandom > "$v/3.2.1/no-training/$ART"
"$FERRY" index build --from "$v" --key "$root/keys/demo/vendor.key" --out "$T/web" -q >/dev/null
rm -rf "$v"
SYNC_FILE="$(cd "$T/web" && find . -type f -name "$ART" | head -n1)"; SYNC_FILE="${SYNC_FILE#./}"
[ -n "$SYNC_FILE" ] || { echo "FAILED: no $ART in the web root"; exit 1; }
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
(cd "$T/web" && exec python3 -m http.server --bind 127.0.0.1 "$PORT") >/dev/null 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/index.json" && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT"
cat "$T/web/$SYNC_FILE" > /dev/null
SYNC=("$FERRY" sync --index "$URL/index.json" --channel stable --profile no-training -q)
run sync_ref sh -c "curl -sSf -o '$T/dl' '$URL/$SYNC_FILE' && openssl dgst -sha256 '$T/dl'"
rm -f "$T/dl"
run sync_sig "${SYNC[@]}" --trust "$T/trust.toml" --workspace "$T/sync-sig"
rm -rf "$T/sync-sig"
run sync_nosig "${SYNC[@]}" --trust "$T/trust-nosig.toml" --workspace "$T/sync-nosig"
rm -rf "$T/sync-nosig"
kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
rm -rf "$T/web"

slower="$(awk -v a="$(secs sha256)" -v b="$(secs blake2)" 'BEGIN { print (a > b) ? a : b }')"
printf '\n%-62s %8s %8s %7s %9s\n' "SPEC §6 row" "ferry s" "ref s" "ratio" "peak RSS"
printf '%-62s %8s %8s %7s %6s MiB   (target <= 1.10)\n' "verify ${MIB} MiB tar, vendor minisign (vs slower of sha256/blake2b)" \
  "$(secs verify_sig)" "$slower" "$(ratio "$(secs verify_sig)" "$slower")" "$(( $(rss verify_sig) / 1024 ))"
printf '%-62s %8s %8s %7s %6s MiB   (target <= 1.10)\n' "verify ${MIB} MiB tar, no vendor signature (vs sha256)" \
  "$(secs verify_nosig)" "$(secs sha256)" "$(ratio "$(secs verify_nosig)" "$(secs sha256)")" "$(( $(rss verify_nosig) / 1024 ))"
printf '%-62s %8s %8s %7s %6s MiB   (target <= 1.15)\n' "pack ${MIB} MiB into tar, hashing (vs sha256)" \
  "$(secs pack)" "$(secs sha256)" "$(ratio "$(secs pack)" "$(secs sha256)")" "$(( $(rss pack) / 1024 ))"
printf '%-62s %8s %8s %7s %6s MiB   (target <= 1.30)\n' "import ${MIB} MiB tar into a mirror (vs tar xf + sha256)" \
  "$(secs import)" "$(secs import_ref)" "$(ratio "$(secs import)" "$(secs import_ref)")" "$(( $(rss import) / 1024 ))"
printf '%-62s %8s %8s %7s %6s MiB   (target <= 1.15)\n' "sync ${SYNC_MIB} MiB over http, vendor minisign (vs curl + sha256)" \
  "$(secs sync_sig)" "$(secs sync_ref)" "$(ratio "$(secs sync_sig)" "$(secs sync_ref)")" "$(( $(rss sync_sig) / 1024 ))"
printf '%-62s %8s %8s %7s %6s MiB   (target <= 1.15)\n' "sync ${SYNC_MIB} MiB over http, policy require = [] (vs curl + sha256)" \
  "$(secs sync_nosig)" "$(secs sync_ref)" "$(ratio "$(secs sync_nosig)" "$(secs sync_ref)")" "$(( $(rss sync_nosig) / 1024 ))"
printf '%-62s %8s\n' "(sha256sum on the artifact, for reference)" "$(secs sha256sum)"
printf '%-62s %8s\n' "(openssl blake2b512 on the artifact, for reference)" "$(secs blake2)"

if [ "${BENCH_DIR:-1}" = 1 ]; then
  echo
  echo "==> directory bundle: 8 x ${DIR_MIB} MiB (needs ferry sign for 8 artifacts; built by hand)"
  rm -f "$T/sig.tar" "$T/nosig.tar"
  d="$T/dirws"; mkdir -p "$d/ferry/signatures"
  arts=""; files=""; sums=""
  for i in 1 2 3 4 5 6 7 8; do
    v="3.2.$i"; p="releases/$v/no-training/$ART"
    mkdir -p "$d/releases/$v/no-training"
    head -c "$((DIR_MIB * 1024 * 1024))" /dev/urandom > "$d/$p"
    printf '# %s\n' "$v" > "$d/releases/$v/NOTES.md"
    s="$(sha "$d/$p")"; n="releases/$v/NOTES.md"; ns="$(sha "$d/$n")"
    sums="$sums$ns  $n"$'\n'"$s  $p"$'\n'
    arts="$arts{\"version\": \"$v\", \"channels\": [\"stable\"], \"published\": \"2026-11-01T00:00:00Z\", \"notes\": \"$n\", \"artifacts\": [{\"path\": \"$p\", \"profile\": \"no-training\", \"platform\": \"linux-amd64\", \"format\": \"deb\"}]},"
    files="$files,{\"path\": \"$n\", \"size\": $(size "$d/$n"), \"sha256\": \"$ns\"},{\"path\": \"$p\", \"size\": $(size "$d/$p"), \"sha256\": \"$s\"}"
  done
  printf '%s' "$sums" > "$d/ferry/SHA256SUMS"
  cat > "$d/ferry/manifest.json" <<JSON
{"schema": "ferry.manifest/v1", "product": "novantra", "sequence": 1,
 "created": "2026-11-20T10:00:00Z", "expires": "2026-12-20T10:00:00Z",
 "source": {"index_url": "https://vendor.example/index.json", "index_sha256": "$ART_SHA", "fetched": "2026-11-20T09:00:00Z"},
 "selection": {"channels": ["stable"], "profiles": ["no-training"]},
 "releases": [${arts%,}],
 "files": [{"path": "ferry/SHA256SUMS", "size": $(size "$d/ferry/SHA256SUMS"), "sha256": "$(sha "$d/ferry/SHA256SUMS")"}$files]}
JSON
  msha="$(sha "$d/ferry/manifest.json")"
  for k in org1 org2; do
    id="$(sed -n 's/.*minisign public key:* *//p' "$root/keys/demo/$k.pub")"
    minisign -S -s "$root/keys/demo/$k.key" -m "$d/ferry/manifest.json" -x "$d/ferry/signatures/$id.minisig" \
      -t "ferry-manifest product=novantra sequence=1 sha256=$msha" </dev/null >/dev/null
  done
  cat "$d"/releases/*/no-training/* > /dev/null
  run dir_sha256 sh -c "for f in $d/releases/*/no-training/$ART; do openssl dgst -sha256 \"\$f\"; done"
  run dir_verify "$VERIFY" bundle "$d" --trust "$T/trust-nosig.toml" --now "$NOW"
  printf '%-62s %8s %8s %7s %6s MiB   (target <= 0.65)\n' "verify 8 x ${DIR_MIB} MiB directory (vs sha256 over the 8 files)" \
    "$(secs dir_verify)" "$(secs dir_sha256)" "$(ratio "$(secs dir_verify)" "$(secs dir_sha256)")" "$(( $(rss dir_verify) / 1024 ))"
fi
