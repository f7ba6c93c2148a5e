#!/usr/bin/env bash
# SPEC §6, every row (issues 5 and 17). Not part of CI.
#
#   scripts/bench.sh            # the SPEC's sizes: 4 GiB, 2 GiB, 8 x 512 MiB,
#                               # 10,001 files, 8 x 256 MiB .debs; 3 runs a row
#   scripts/bench.sh --quick    # small sizes, one run a row: under 5 minutes
#   TMPDIR=/dev/shm scripts/bench.sh   # RAM-backed (pack and import then
#                               # measure ferry, not this machine's disk)
#   BENCH_ROWS="serve peers" scripts/bench.sh --quick   # only some sections
#                               # (big many serve peers)
#   BENCH_KEEP=1 BENCH_ROWS=many scripts/bench.sh  # keep the data (to profile)
#
# It builds the release binaries, installs the peers it compares with when
# missing (openssl, minisign, wrk, nginx, aptly with a throwaway gpg key,
# python-tuf in target/clients), makes all data in a temp folder, and runs
# each ferry command interleaved with its floor (what the job cannot avoid:
# reading and hashing once, writing once with the fsync durability needs)
# and its peer, in the same script. Each row prints the median seconds of
# ferry and of the reference, their ratio, the target and ferry's peak RSS;
# the end repeats the rows as the Markdown table of the README's "Speed".
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

QUICK=0
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a (try --help)" >&2; exit 2 ;;
  esac
done
if [ "$QUICK" = 1 ]; then
  MIB=256 SYNC_MIB=256 DIR_MIB=32 MANY=1000 DEB_MIB=16 RUNS=1 WRK_SECS=3 CLIENTS=200
else
  MIB=4096 SYNC_MIB=2048 DIR_MIB=512 MANY=5000 DEB_MIB=256 RUNS=3 WRK_SECS=10 CLIENTS=1000
fi
MIB="${BENCH_MIB:-$MIB}"; MANY="${BENCH_MANY:-$MANY}"; RUNS="${BENCH_RUNS:-$RUNS}"
SECTIONS="${BENCH_ROWS:-big many serve peers}"
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
need=()
[ -x /usr/bin/time ] || need+=(time)
for c in minisign openssl curl python3 wrk nginx aptly gpg dpkg-deb; do
  command -v "$c" >/dev/null || case "$c" in
    nginx) need+=(nginx-light) ;; gpg) need+=(gnupg) ;; dpkg-deb) need+=(dpkg) ;; *) need+=("$c") ;;
  esac
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "==> installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
want peers && bash scripts/install-clients.sh >/dev/null
PY="$root/target/clients/venv/bin/python"

echo "==> cargo build --release (ferry, ferry-verify, ferry-mirror, ferry-handoff)"
cargo build --release -q -p ferry -p ferry-verify -p ferry-mirror -p ferry-handoff
FERRY="$root/target/release/ferry"
VERIFY="$root/target/release/ferry-verify"
MIRROR="$root/target/release/ferry-mirror"
HANDOFF="$root/target/release/ferry-handoff"
KEYS="$root/keys/demo" # demo keys, test-only
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"

T="$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")"
chmod 755 "$T" # nginx's workers (www-data) read the trees below
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $T (BENCH_KEEP)"; else rm -rf "$T"; fi
}
trap cleanup EXIT
echo "==> data in $T ($([ "$QUICK" = 1 ] && echo quick || echo full), $RUNS run(s) a row)"

# ---------------------------------------------------------------- helpers

# run LABEL CMD...: one timed run (wall seconds, peak RSS KiB) appended to
# $T/LABEL.times; the command's output goes to $T/LABEL.err.
# A shell function (exported) runs in a child bash.
run() {
  local label="$1"; shift
  local cmd=("$@")
  # Every timed command starts with nothing dirty: a syncfs inside it (ferry
  # import, `sync -f` in a floor) must not pay for the previous row's writes
  # or `rm -rf` (that made the 10,001-file import 11 x a floor measured
  # right after a quiet verify).
  sync
  [ "$(type -t "$1")" = function ] && cmd=(bash -c '"$@"' _ "$@")
  /usr/bin/time -f '%e %M' -a -o "$T/$label.times" "${cmd[@]}" >/dev/null 2>"$T/$label.err" || {
    echo "FAILED: $label: $*"; tail -n 20 "$T/$label.err"; exit 1; }
}
# median seconds and largest peak RSS (MiB) of LABEL's runs
secs() { awk '{print $1}' "$T/$1.times" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rss() { awk 'BEGIN{m=0} {if ($2>m) m=$2} END {printf "%d", m/1024}' "$T/$1.times"; }
slower() { awk -v a="$(secs "$1")" -v b="$(secs "$2")" 'BEGIN { print (a > b) ? a : b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.2f", a / b }'; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_url() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "FAILED: $1 never answered"; exit 1; }
dropcache_file() { cat "$@" >/dev/null; } # "page cache": read once before timing

ROWS="$T/rows.tsv"; : > "$ROWS"
# row NAME FERRY REF CMP TARGET RSS_MIB [RSS_BOUND_MIB]: one SPEC §6 row.
# CMP is "<=" (ferry / ref at most TARGET) or ">=" (at least).
row() {
  local r; r="$(ratio "$2" "$3")"
  local ok; ok="$(awk -v r="$r" -v t="$5" -v c="$4" 'BEGIN { print ((c == "<=" && r <= t) || (c == ">=" && r >= t)) ? "meets" : "MISSES" }')"
  local bound="${7:-64}"
  local mem_ok; mem_ok="$(awk -v m="$6" -v b="$bound" 'BEGIN { print (m <= b) ? "" : " (RSS over " b " MiB)" }')"
  printf '%s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s%s\n' "$1" "$2" "$3" "$r" "$4" "$5" "$ok" "$6" "$bound" "$mem_ok" >> "$ROWS"
  printf '  %-66s %8s %8s %6s× (%s %s× %s) %5s MiB%s\n' "$1" "$2" "$3" "$r" "$4" "$5" "$ok" "$6" "$mem_ok"
}

# nginx_at ROOT: stock nginx (workers as www-data when root) serving ROOT;
# prints its base URL.
nginx_at() {
  local rootdir="$1" port conf
  port="$(free_port)"; conf="$T/nginx-$port"
  mkdir -p "$conf"/{body,proxy,fastcgi,uwsgi,scgi}
  local user=""
  if [ "$(id -u)" = 0 ]; then id www-data >/dev/null 2>&1 && user="user www-data;" || user="user nobody;"; fi
  cat > "$conf/nginx.conf" <<NGINX
$user
daemon off;
worker_processes auto;
error_log $conf/error.log;
pid $conf/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $conf/body; proxy_temp_path $conf/proxy;
  fastcgi_temp_path $conf/fastcgi; uwsgi_temp_path $conf/uwsgi; scgi_temp_path $conf/scgi;
  types { application/json json; }
  default_type application/octet-stream;
  server { listen 127.0.0.1:$port; root $rootdir; location ~ /\.ferry { return 404; } }
}
NGINX
  nginx -c "$conf/nginx.conf" -p "$conf" -e "$conf/error.log" >/dev/null 2>&1 &
  PIDS+=($!)
  NGINX_URL="http://127.0.0.1:$port"
}

# vendor_src DIR VERSION FILES...: a vendor release folder (ferry index build
# input) whose no-training artifacts are FILES (moved in).
vendor_release() {
  local dir="$1" v="$2"; shift 2
  mkdir -p "$dir/$v/no-training"
  echo 'product = "novantra"' > "$dir/product.toml"
  printf '# novantra %s\n' "$v" > "$dir/$v/NOTES.md"
  {
    printf 'channels = ["stable"]\npublished = "2026-11-01T00:00:00Z"\n'
    for f in "$@"; do
      local fmt=bin; case "$f" in *.deb) fmt=deb ;; esac
      printf '[[artifacts]]\nfile = "%s"\nprofile = "no-training"\nplatform = "linux-amd64"\nformat = "%s"\n' "${f##*/}" "$fmt"
    done
  } > "$dir/$v/release.toml"
  printf '%s\0' "$@" | xargs -0 mv -t "$dir/$v/no-training/"
}

# index_serve SRC WEB: ferry index build, served by nginx; sets WEB_URL.
index_serve() {
  "$FERRY" index build --from "$1" --key "$KEYS/vendor.key" --out "$2" -q >/dev/null
  nginx_at "$2"; WEB_URL="$NGINX_URL"; export WEB_URL; wait_url "$WEB_URL/index.json"
}

# sync_sign_pack WS OUT.tar: sync from $WEB_URL, sign (org1, org2), pack.
sync_ws() { "$FERRY" sync --index "$WEB_URL/index.json" --channel stable --profile no-training \
  --trust "$T/trust.toml" --workspace "$1" -q "${@:2}"; }
sign_pack() {
  "$FERRY" sign --workspace "$1" --key "$KEYS/org1.key" -q >/dev/null
  "$FERRY" sign --workspace "$1" --key "$KEYS/org2.key" -q >/dev/null
  "$FERRY" pack --workspace "$1" --out "$2" -q >/dev/null
}
new_mirror() {
  rm -rf "$1"
  "$MIRROR" init "$1" --product novantra --channel stable --profile no-training \
    --key "$KEYS/mirror.key" -q >/dev/null
}
import_to() { "$MIRROR" import "$1" --mirror "$2" --trust "$T/trust.toml" --key "$KEYS/mirror.key" -q; }
export FERRY VERIFY MIRROR HANDOFF KEYS T
export -f sync_ws import_to

cat > "$T/trust.toml" <<TOML
product = "novantra"
[vendor]
minisign_keys = ["$KEYS/vendor.pub"]
[transfer]
keys = ["$KEYS/org1.pub", "$KEYS/org2.pub", "$KEYS/org3.pub"]
threshold = 2
max_validity = "45d"
[mirror]
keys = ["$KEYS/mirror.pub"]
channels = ["stable"]
profiles = ["no-training"]
TOML
sed 's/^\[vendor\]$/[vendor]\nrequire = []/' "$T/trust.toml" > "$T/trust-nosig.toml"

echo
printf '  %-66s %8s %8s %7s\n' "row (median of $RUNS)" "ferry s" "ref s" "ratio"

# ------------------------------------------------------- big files (SPEC §6 rows 1-6)
if want big; then
  echo "==> big files: ${MIB} MiB artifact, ${SYNC_MIB} MiB sync, 8 x ${DIR_MIB} MiB directory"
  ART=novantra_3.2.1_amd64.deb
  head -c "$((MIB * 1024 * 1024))" /dev/urandom > "$T/$ART"
  vendor_release "$T/src-big" 3.2.1 "$T/$ART"
  index_serve "$T/src-big" "$T/web-big"
  sync_ws "$T/ws-sig"
  sign_pack "$T/ws-sig" "$T/sig.tar"
  A="$(find "$T/ws-sig/releases" -name "$ART")"
  # the same workspace without the vendor signature
  cp -al "$T/ws-sig" "$T/ws-nosig"
  "$FERRY" sync --index "$WEB_URL/index.json" --channel stable --profile no-training \
    --trust "$T/trust-nosig.toml" --workspace "$T/ws-nosig2" -q
  sign_pack "$T/ws-nosig2" "$T/nosig.tar"
  rm -rf "$T/ws-nosig" "$T/ws-nosig2"
  dropcache_file "$A" "$T/sig.tar" "$T/nosig.tar"
  for _ in $(seq "$RUNS"); do
    run sha256 openssl dgst -sha256 "$A"
    run blake2 openssl dgst -blake2b512 "$A"
    run verify_sig "$VERIFY" bundle "$T/sig.tar" --trust "$T/trust.toml"
    run verify_nosig "$VERIFY" bundle "$T/nosig.tar" --trust "$T/trust-nosig.toml"
  done
  rm -f "$T/nosig.tar"
  row "verify ${MIB} MiB tar, vendor minisign (vs slower of sha256, blake2b)" \
    "$(secs verify_sig)" "$(slower sha256 blake2)" "<=" 1.10 "$(rss verify_sig)"
  row "verify ${MIB} MiB tar, no vendor signature (vs sha256)" \
    "$(secs verify_nosig)" "$(secs sha256)" "<=" 1.10 "$(rss verify_nosig)"

  for _ in $(seq "$RUNS"); do
    rm -f "$T/dd.out" "$T/pack.tar"
    run dd_fsync dd if="$A" of="$T/dd.out" bs=1M conv=fsync status=none
    rm -f "$T/dd.out"
    run pack "$FERRY" pack --workspace "$T/ws-sig" --out "$T/pack.tar" -q
    rm -f "$T/pack.tar"
  done
  row "pack ${MIB} MiB into tar (vs slower of sha256, dd conv=fsync)" \
    "$(secs pack)" "$(slower sha256 dd_fsync)" "<=" 1.10 "$(rss pack)"

  dropcache_file "$T/sig.tar"
  for _ in $(seq "$RUNS"); do
    rm -rf "$T/x"; mkdir "$T/x"
    run untar_sync sh -c "tar xf '$T/sig.tar' -C '$T/x' && sync -f '$T/x'"
    rm -rf "$T/x"; new_mirror "$T/m-big"
    run import import_to "$T/sig.tar" "$T/m-big"
  done
  rm -rf "$T/m-big"
  row "import ${MIB} MiB tar (vs slower of tar xf + sync -f, sha256)" \
    "$(secs import)" "$(slower untar_sync sha256)" "<=" 1.10 "$(rss import)"
  rm -f "$T/sig.tar"; rm -rf "$T/ws-sig"

  # sync: a ${SYNC_MIB} MiB artifact from nginx
  S=novantra_3.3.0_amd64.deb
  head -c "$((SYNC_MIB * 1024 * 1024))" /dev/urandom > "$T/$S"
  vendor_release "$T/src-sync" 3.3.0 "$T/$S"
  index_serve "$T/src-sync" "$T/web-sync"
  SF="$(cd "$T/web-sync" && find . -name "$S" | head -n1)"; SF="${SF#./}"
  dropcache_file "$T/web-sync/$SF"
  for _ in $(seq "$RUNS"); do
    run curl_fsync sh -c "curl -sSf -o '$T/dl' '$WEB_URL/$SF' && sync -f '$T/dl'"
    run sha256_sync openssl dgst -sha256 "$T/dl"
    rm -f "$T/dl"
    run sync_sig sync_ws "$T/s1"
    rm -rf "$T/s1"
  done
  row "sync ${SYNC_MIB} MiB from nginx (vs slower of curl + fsync, sha256)" \
    "$(secs sync_sig)" "$(slower curl_fsync sha256_sync)" "<=" 1.10 "$(rss sync_sig)"
  rm -rf "$T/web-sync" "$T/src-sync" "$T/web-big" "$T/src-big"

  # verify an 8 x DIR_MIB MiB directory bundle
  D=()
  for i in 1 2 3 4 5 6 7 8; do
    head -c "$((DIR_MIB * 1024 * 1024))" /dev/urandom > "$T/part$i.deb"; D+=("$T/part$i.deb")
  done
  vendor_release "$T/src-dir" 4.0.0 "${D[@]}"
  index_serve "$T/src-dir" "$T/web-dir"
  "$FERRY" sync --index "$WEB_URL/index.json" --channel stable --profile no-training \
    --trust "$T/trust-nosig.toml" --workspace "$T/ws-dir" -q
  rm -rf "$T/web-dir" "$T/src-dir"
  "$FERRY" sign --workspace "$T/ws-dir" --key "$KEYS/org1.key" -q >/dev/null
  "$FERRY" sign --workspace "$T/ws-dir" --key "$KEYS/org2.key" -q >/dev/null
  "$FERRY" pack --workspace "$T/ws-dir" --format dir --out "$T/dir-bundle" -q >/dev/null
  rm -rf "$T/ws-dir"
  mapfile -t PARTS < <(find "$T/dir-bundle/releases" -name 'part*.deb' | sort)
  dropcache_file "${PARTS[@]}"
  for _ in $(seq "$RUNS"); do
    run dir_sha256 sh -c 'for f in "$@"; do openssl dgst -sha256 "$f"; done' sh "${PARTS[@]}"
    run dir_verify "$VERIFY" bundle "$T/dir-bundle" --trust "$T/trust-nosig.toml"
  done
  row "verify 8 x ${DIR_MIB} MiB directory (vs sha256 over the 8 files in turn)" \
    "$(secs dir_verify)" "$(secs dir_sha256)" "<=" 0.65 "$(rss dir_verify)"
  rm -rf "$T/dir-bundle"
fi

# ------------------------------------------------------- many files (SPEC §6 rows 7-8)
if want many; then
  FILES=$((MANY * 2 + 1))
  BOUND=$((64 + FILES * 2 / 1024)) # SPEC §6: 64 MiB plus 2 KiB a listed file
  echo "==> many files: ${MANY} artifacts of 4 KiB, each with its vendor signature (${FILES} files)"
  mkdir -p "$T/many-in"
  python3 - "$T/many-in" "$MANY" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, f"f{i:06d}.bin"), "wb") as f:
        f.write(os.urandom(4096))
PY
  # at most 5,000 artifacts a release (a release.toml is at most 1 MiB)
  mapfile -t M < <(find "$T/many-in" -name '*.bin' | sort)
  for ((k = 0; k * 5000 < MANY; k++)); do
    vendor_release "$T/src-many" "5.0.$k" "${M[@]:k*5000:5000}"
  done
  index_serve "$T/src-many" "$T/web-many"
  rm -rf "$T/src-many" "$T/many-in"
  for j in 1 4 16; do
    run "sync_many_j$j" sync_ws "$T/ws-many-$j" --jobs "$j"
    [ "$j" = 1 ] || rm -rf "$T/ws-many-$j"
  done
  mv "$T/ws-many-1" "$T/ws-many"
  URLS="$T/urls.curl"
  (cd "$T/web-many" && find . -type f ! -name 'index.json*' | sed "s|^\./\(.*\)|url = \"$WEB_URL/\1\"\noutput = \"$T/curl-many/\1\"|") > "$URLS"
  run curl_many sh -c "curl -sSf --create-dirs -K '$URLS' && sync -f '$T'"
  rm -rf "$T/curl-many"
  for j in 1 4 16; do
    row "sync ${FILES} files from nginx, --jobs $j (vs curl -K, one connection)" \
      "$(secs "sync_many_j$j")" "$(secs curl_many)" "<=" 2.00 "$(rss "sync_many_j$j")" "$BOUND"
  done
  sign_pack "$T/ws-many" "$T/many.tar"
  rm -rf "$T/ws-many"
  mkdir "$T/many-x"; tar xf "$T/many.tar" -C "$T/many-x"
  dropcache_file "$T/many.tar"
  for _ in $(seq "$RUNS"); do
    run sums_many sh -c "cd '$T/many-x' && sha256sum -c --quiet ferry/SHA256SUMS"
    run verify_many "$VERIFY" bundle "$T/many.tar" --trust "$T/trust.toml"
    rm -rf "$T/y"; mkdir "$T/y"
    run untar_many sh -c "tar xf '$T/many.tar' -C '$T/y' && sync -f '$T/y'"
    rm -rf "$T/y"; new_mirror "$T/m-many"
    run import_many import_to "$T/many.tar" "$T/m-many"
  done
  row "import ${FILES}-file bundle (vs tar xf + sync -f)" \
    "$(secs import_many)" "$(secs untar_many)" "<=" 2.00 "$(rss import_many)" "$BOUND"
  row "verify ${FILES}-file bundle, ${MANY} vendor signatures (vs sha256sum -c)" \
    "$(secs verify_many)" "$(secs sums_many)" "<=" 2.00 "$(rss verify_many)" "$BOUND"
  [ -n "${BENCH_KEEP:-}" ] || rm -rf "$T/many-x" "$T/m-many" "$T/web-many" "$T/many.tar"
fi

# ------------------------------------------------------- serve (SPEC §6 row 9)
if want serve; then
  echo "==> serve: feed, index and a 1 MiB artifact; wrk -t2 -c64 -d${WRK_SECS}s, ferry-mirror serve and nginx in turn"
  head -c $((1024 * 1024)) /dev/urandom > "$T/novantra_2.0.0_amd64.deb"
  vendor_release "$T/src-serve" 2.0.0 "$T/novantra_2.0.0_amd64.deb"
  index_serve "$T/src-serve" "$T/web-serve"
  sync_ws "$T/ws-serve"; sign_pack "$T/ws-serve" "$T/serve.tar"
  new_mirror "$T/m-serve"; import_to "$T/serve.tar" "$T/m-serve" >/dev/null
  rm -rf "$T/ws-serve" "$T/serve.tar" "$T/src-serve" "$T/web-serve"
  SP="$(free_port)"
  "$MIRROR" serve "$T/m-serve" --listen "127.0.0.1:$SP" >/dev/null 2>&1 &
  SERVE_PID=$!; PIDS+=("$SERVE_PID"); SERVE_URL="http://127.0.0.1:$SP"
  nginx_at "$T/m-serve"; NG_URL="$NGINX_URL"
  wait_url "$SERVE_URL/index.json"; wait_url "$NG_URL/index.json"
  ARTP="$(cd "$T/m-serve" && find releases -name 'novantra_2.0.0_amd64.deb' | head -n1)"
  rps() { wrk -t2 -c64 -d"${WRK_SECS}s" "$1" | awk '/^Requests\/sec/ {print $2}'; }
  for what in feed/hints.json index.json "$ARTP"; do
    fs=(); ns=()
    for _ in $(seq "$RUNS"); do fs+=("$(rps "$SERVE_URL/$what")"); ns+=("$(rps "$NG_URL/$what")"); done
    f="$(printf '%s\n' "${fs[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    n="$(printf '%s\n' "${ns[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    label="$what"; [ "$what" = "$ARTP" ] && label="a 1 MiB artifact"
    sp_rss="$(awk '/VmHWM/ {printf "%d", $2/1024}' "/proc/$SERVE_PID/status" 2>/dev/null || echo 0)"
    row "serve $label, requests/s (vs nginx; ferry / nginx)" "$f" "$n" ">=" 0.80 "$sp_rss"
  done
  # 1,000 concurrent hand-off clients against serve: none may fail (exit 0,
  # 10 or 11: up to date, update available, the running version is affected)
  start=$(date +%s.%N)
  seq "$CLIENTS" | xargs -P "$CLIENTS" -I{} sh -c \
    "'$HANDOFF' check --mirror '$SERVE_URL/' --trust '$T/trust.toml' --current 1.0.0 --channel stable --profile no-training >/dev/null 2>>'$T/clients.err'; rc=\$?; case \$rc in 0|10|11) ;; *) echo \$rc >> '$T/clients.fail' ;; esac"
  took="$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')"
  failed=0; [ -f "$T/clients.fail" ] && failed="$(wc -l < "$T/clients.fail")"
  printf '  %-66s %s of %s failed in %s s\n' "$CLIENTS concurrent ferry-handoff check against serve" "$failed" "$CLIENTS" "$took"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$CLIENTS concurrent ferry-handoff check against serve" "$took" "-" "-" "no error" \
    "$([ "$failed" = 0 ] && echo meets || echo "MISSES ($failed failed)")" "-" "-" >> "$ROWS"
  [ "$failed" = 0 ] || head -n 5 "$T/clients.err"
fi

# ------------------------------------------------------- peers (SPEC §6 row 10)
if want peers; then
  echo "==> peers: 8 x ${DEB_MIB} MiB .debs; aptly, sha256sum -c + minisign -V, python-tuf"
  for i in 0 1 2 3 4 5 6 7; do
    p="$T/deb$i"; mkdir -p "$p/DEBIAN" "$p/opt/novantra"
    printf 'Package: novantra\nVersion: 1.0.%s\nArchitecture: amd64\nMaintainer: bench <bench@example.invalid>\nDescription: bench payload\n' "$i" > "$p/DEBIAN/control"
    head -c "$((DEB_MIB * 1024 * 1024))" /dev/urandom > "$p/opt/novantra/payload"
    dpkg-deb -Znone --build "$p" "$T/novantra_1.0.${i}_amd64.deb" >/dev/null
    rm -rf "$p"
    vendor_release "$T/src-peers" "1.0.$i" "$T/novantra_1.0.${i}_amd64.deb"
  done
  index_serve "$T/src-peers" "$T/web-peers"
  rm -rf "$T/src-peers"
  mapfile -t WEB_DEBS < <(find "$T/web-peers" -name '*.deb' | sort)
  dropcache_file "${WEB_DEBS[@]}"
  sync_ws "$T/ws-peers"
  sign_pack "$T/ws-peers" "$T/peers.tar"
  rm -rf "$T/ws-peers"

  # import vs aptly (repo add + publish, signed with a throwaway gpg key)
  export GNUPGHOME="$T/gnupg"; mkdir -m 700 "$GNUPGHOME"
  gpg --batch --quiet --passphrase '' --quick-gen-key 'ferry bench <bench@example.invalid>' ed25519 sign never 2>/dev/null
  APTLY_CONF="$T/aptly.conf"
  printf '{"rootDir": "%s", "gpgProvider": "gpg2", "architectures": ["amd64"]}\n' "$T/aptly" > "$APTLY_CONF"
  dropcache_file "$T/peers.tar"
  for i in $(seq "$RUNS"); do
    rm -rf "$T/aptly"
    aptly -config="$APTLY_CONF" repo create -distribution=stable bench >/dev/null
    run aptly sh -c "aptly -config='$APTLY_CONF' repo add bench $(printf "'%s' " "${WEB_DEBS[@]}") && aptly -config='$APTLY_CONF' publish repo -batch -gpg-key='bench@example.invalid' bench && sync -f '$T/aptly'"
    new_mirror "$T/m-peers"
    run import_peers import_to "$T/peers.tar" "$T/m-peers"
  done
  rm -rf "$T/aptly"
  row "import 8 x ${DEB_MIB} MiB .debs (vs aptly repo add + publish)" \
    "$(secs import_peers)" "$(secs aptly)" "<=" 0.50 "$(rss import_peers)"

  # verify vs sha256sum -c + minisign -V per artifact, on the same bytes
  mkdir "$T/peers-x"; tar xf "$T/peers.tar" -C "$T/peers-x"
  mapfile -t X_DEBS < <(cd "$T/peers-x" && find releases -name '*.deb' | sort)
  for _ in $(seq "$RUNS"); do
    run verify_peer sh -c "cd '$T/peers-x' && sha256sum -c --quiet ferry/SHA256SUMS && for f in $(printf "'%s' " "${X_DEBS[@]}"); do minisign -Vq -p '$KEYS/vendor.pub' -m \"\$f\" || exit 1; done"
    run verify_peers "$VERIFY" bundle "$T/peers.tar" --trust "$T/trust.toml"
  done
  row "verify 8 x ${DEB_MIB} MiB (vs sha256sum -c + minisign -V per artifact)" \
    "$(secs verify_peers)" "$(secs verify_peer)" "<=" 0.30 "$(rss verify_peers)"
  rm -rf "$T/peers-x" "$T/peers.tar"

  # sync vs python-tuf downloading the same targets from the mirror's TUF view
  SP="$(free_port)"
  "$MIRROR" serve "$T/m-peers" --listen "127.0.0.1:$SP" >/dev/null 2>&1 &
  PIDS+=($!); M_URL="http://127.0.0.1:$SP"; wait_url "$M_URL/tuf/root.json"
  curl -sSf -o "$T/tuf-root.json" "$M_URL/tuf/root.json"
  mapfile -t TARGETS < <(cd "$T/m-peers" && find releases -name '*.deb' | sort)
  cat > "$T/tuf_get.py" <<'PY'
import os, sys
from tuf.ngclient import Updater
base, root, work, *targets = sys.argv[1:]
os.makedirs(f"{work}/md", exist_ok=True); os.makedirs(f"{work}/dl", exist_ok=True)
u = Updater(f"{work}/md", base + "/tuf/", f"{work}/dl", base + "/", bootstrap=open(root, "rb").read())
u.refresh()
for t in targets:
    u.download_target(u.get_targetinfo(t))
PY
  for _ in $(seq "$RUNS"); do
    rm -rf "$T/tuf-work"
    run tuf_sync sh -c "'$PY' '$T/tuf_get.py' '$M_URL' '$T/tuf-root.json' '$T/tuf-work' $(printf "'%s' " "${TARGETS[@]}") && sync -f '$T/tuf-work'"
    rm -rf "$T/tuf-work" "$T/s-peers"
    run sync_peers sync_ws "$T/s-peers"
    rm -rf "$T/s-peers"
  done
  row "sync 8 x ${DEB_MIB} MiB (vs python-tuf downloading the same targets)" \
    "$(secs sync_peers)" "$(secs tuf_sync)" "<=" 0.80 "$(rss sync_peers)"

  # hand-off install of one artifact vs python-tuf downloading it
  LAST="${TARGETS[-1]}"
  for _ in $(seq "$RUNS"); do
    rm -rf "$T/tuf-work"
    run tuf_one sh -c "'$PY' '$T/tuf_get.py' '$M_URL' '$T/tuf-root.json' '$T/tuf-work' '$LAST' && sync -f '$T/tuf-work'"
    rm -rf "$T/tuf-work" "$T/to"; mkdir "$T/to"
    run install_one "$HANDOFF" install --mirror "$M_URL/" --trust "$T/trust.toml" --current 1.0.6 \
      --channel stable --profile no-training --target 1.0.7 --to "$T/to" --exec true
    rm -rf "$T/to"
  done
  row "hand-off install of one ${DEB_MIB} MiB artifact (vs python-tuf, one target)" \
    "$(secs install_one)" "$(secs tuf_one)" "<=" 1.00 "$(rss install_one)"
fi

# ------------------------------------------------------- the table
echo
echo "SPEC §6 as measured ($(date -u +%Y-%m-%d), $(nproc) cores, $([ "$QUICK" = 1 ] && echo "--quick" || echo "full sizes"), median of $RUNS):"
echo
echo "| row | ferry | reference | ratio | target | | peak RSS |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s MiB |\n", $1, $2, $3, ($4 == "-" ? "-" : $4 " ×"), $5, $6, $7 }' "$ROWS"
maxrss="$(awk -F'\t' '$7 != "-" && $7 > m {m = $7} END {print m + 0}' "$ROWS")"
echo
echo "peak memory: largest RSS of any row ${maxrss} MiB (target: 64 MiB, plus 2 KiB per listed file)"
