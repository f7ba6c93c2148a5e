#!/usr/bin/env bash
# Release packages of ferry (issue 16): one .deb per host role, a release
# archive, and SHA256SUMS signed with minisign, so a site checks ferry's own
# bytes before it trusts them (README, "Install on an air-gapped host").
#
#   scripts/package.sh                      # into target/package/, demo key
#   scripts/package.sh --out DIR            # anywhere else
#   scripts/package.sh --key release.key    # a real release key (minisign
#                                           # asks for its password)
#
# Writes into DIR:
#   ferry_<v>_<arch>.deb           connected side    (ferry)
#   ferry-verify_<v>_<arch>.deb    verifier          (ferry-verify)
#   ferry-mirror_<v>_<arch>.deb    mirror host       (ferry-mirror)
#   ferry-handoff_<v>_<arch>.deb   product host      (ferry-handoff)
#   ferry-<v>-<target>.tar.gz      the four binaries, man pages, completions
#   SHA256SUMS, SHA256SUMS.minisig
# Each .deb installs its binary to /usr/bin, its man pages (one per
# subcommand, gzipped) to /usr/share/man/man1 and its bash, zsh and fish
# completions where Debian's shells look for them. The binaries are the
# release build, stripped. Depends: names the newest glibc symbol version
# the binary uses (its glibc floor), read from the binary with objdump.
#
# Needs: cargo, strip and objdump (binutils), dpkg-deb, gzip, tar,
# sha256sum, minisign. Honours CARGO_TARGET_DIR and CARGO_BUILD_JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

out=""
key="$root/keys/demo/release.key"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --key) key="${2:?--key needs a minisign secret key}"; shift 2 ;;
    -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="${out:-$target_dir/package}"

step() { printf '\n==> %s\n' "$*"; }
die() { echo "package.sh: $*" >&2; exit 1; }

for tool in cargo strip objdump dpkg-deb gzip tar sha256sum minisign; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (minisign: apt-get install minisign; strip, objdump: binutils)"
done
[ -r "$key" ] || die "cannot read the release key $key"

bins=(ferry ferry-verify ferry-mirror ferry-handoff)

step "release build (cargo build --release --workspace --bins)"
cargo build --release --workspace --bins

if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
    echo "warning: the work tree has uncommitted changes: the binaries say -dirty" >&2
  fi
  # Same inputs, same bytes: file dates in the packages are the commit's.
  export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct)}"
fi
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-0}"

rel="$target_dir/release"
version="$("$rel/ferry" --version | awk '{print $2}')"
commit="$("$rel/ferry" --version | sed -n 's/.*(commit \([^,)]*\).*/\1/p')"
triple="$(rustc -vV | sed -n 's/^host: //p')"
arch="$(dpkg --print-architecture)"
[ -n "$version" ] && [ -n "$triple" ] && [ -n "$arch" ] || die "cannot tell version, target or architecture"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"

step "strip the binaries; generate man pages and completions"
# The release profile keeps line tables (for profiling and backtraces);
# the packages ship without them: 55-86 MB become a fraction of that.
mkdir -p "$stage/bin" "$stage/man" "$stage/bash" "$stage/zsh" "$stage/fish"
for b in "${bins[@]}"; do
  cp "$rel/$b" "$stage/bin/$b"
  strip --strip-all "$stage/bin/$b"
  mkdir -p "$stage/man/$b"
  "$stage/bin/$b" man --out "$stage/man/$b" >/dev/null
  gzip -9n "$stage/man/$b"/*.1
  "$stage/bin/$b" completions bash >"$stage/bash/$b"
  "$stage/bin/$b" completions zsh >"$stage/zsh/_$b"
  "$stage/bin/$b" completions fish >"$stage/fish/$b.fish"
  printf '  %-14s %s -> %s bytes, %s man pages\n' "$b" "$(stat -c %s "$rel/$b")" \
    "$(stat -c %s "$stage/bin/$b")" "$(ls "$stage/man/$b" | wc -l)"
done

# The newest GLIBC_x.y symbol version a binary needs: the oldest glibc it
# runs on.
glibc_floor() {
  objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1
}

# Depends: for a binary, from the shared libraries it links (readelf -d)
# and the glibc floor. Any other library is an error: it would need a
# package name here.
depends() {
  local bin="$1" floor libs lib deps
  floor="$(glibc_floor "$bin")"
  [ -n "$floor" ] || die "$bin: no GLIBC_ symbol versions found"
  deps="libc6 (>= $floor)"
  libs="$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
  for lib in $libs; do
    case "$lib" in
      libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*) ;;
      libgcc_s.so.1) deps="$deps, libgcc-s1 | libgcc1" ;;
      *) die "$bin links $lib: add its Debian package to depends() in $0" ;;
    esac
  done
  printf '%s\n' "$deps"
}

describe() {
  case "$1" in
    ferry) printf '%s\n' "carry vendor releases into air-gapped networks (connected side)" \
      " ferry syncs a vendor's signed releases, verifying every checksum and" \
      " signature, signs a transfer manifest with the organisation's keys (m-of-n)" \
      " and packs a bundle for removable media." ;;
    ferry-verify) printf '%s\n' "check ferry bundles and vendor artifacts offline" \
      " ferry-verify checks what crossed the air gap: bundles, transfer manifests," \
      " single vendor artifacts with their minisign signatures and Sigstore" \
      " bundles, and a mirror's audit log. It links no networking code." ;;
    ferry-mirror) printf '%s\n' "internal signed mirror for ferry bundles" \
      " ferry-mirror verifies bundles and imports them atomically into an internal" \
      " signed mirror, serves it read-only with a status page, and checks and" \
      " prunes it." ;;
    ferry-handoff) printf '%s\n' "verified upgrades from a ferry mirror to a product host" \
      " ferry-handoff asks the internal mirror what to upgrade to, runs the" \
      " pre-flight checks and hands the verified package to the product's" \
      " installer." ;;
  esac
}

step "Debian packages (dpkg-deb --root-owner-group)"
floors=""
for b in "${bins[@]}"; do
  pkg="$stage/deb/$b"
  install -D -m 0755 "$stage/bin/$b" "$pkg/usr/bin/$b"
  install -d -m 0755 "$pkg/usr/share/man/man1"
  install -m 0644 "$stage/man/$b"/*.1.gz "$pkg/usr/share/man/man1/"
  install -D -m 0644 "$stage/bash/$b" "$pkg/usr/share/bash-completion/completions/$b"
  install -D -m 0644 "$stage/zsh/_$b" "$pkg/usr/share/zsh/vendor-completions/_$b"
  install -D -m 0644 "$stage/fish/$b.fish" "$pkg/usr/share/fish/vendor_completions.d/$b.fish"
  install -d -m 0755 "$pkg/usr/share/doc/$b"
  cat >"$pkg/usr/share/doc/$b/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ferry
Source: $(sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml)

Files: *
Copyright: the ferry authors
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
EOF
  chmod 0644 "$pkg/usr/share/doc/$b/copyright"
  install -d -m 0755 "$pkg/DEBIAN"
  (cd "$pkg" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
  deps="$(depends "$stage/bin/$b")"
  floors="$floors  $b: glibc >= $(glibc_floor "$stage/bin/$b")"$'\n'
  {
    echo "Package: $b"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: ferry maintainers <ferry@example.invalid>"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$pkg" | cut -f1)"
    echo "Depends: $deps"
    echo "Section: admin"
    echo "Priority: optional"
    echo "Homepage: $(sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml)"
    echo "Description: $(describe "$b")"
  } >"$pkg/DEBIAN/control"
  chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"
  deb="$out/${b}_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
  echo "  $(basename "$deb")  Depends: $deps"
done

step "release archive"
name="ferry-$version-$triple"
tree="$stage/archive/$name"
install -d -m 0755 "$tree/bin" "$tree/share/man/man1" "$tree/share/bash-completion/completions" \
  "$tree/share/zsh/site-functions" "$tree/share/fish/vendor_completions.d"
for b in "${bins[@]}"; do
  install -m 0755 "$stage/bin/$b" "$tree/bin/$b"
  install -m 0644 "$stage/man/$b"/*.1.gz "$tree/share/man/man1/"
  install -m 0644 "$stage/bash/$b" "$tree/share/bash-completion/completions/$b"
  install -m 0644 "$stage/zsh/_$b" "$tree/share/zsh/site-functions/_$b"
  install -m 0644 "$stage/fish/$b.fish" "$tree/share/fish/vendor_completions.d/$b.fish"
done
install -m 0644 README.md "$tree/README.md"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  --format=gnu -C "$stage/archive" -cf - "$name" | gzip -9n >"$out/$name.tar.gz"
echo "  $name.tar.gz"

step "SHA256SUMS, signed with minisign"
debs=()
for b in "${bins[@]}"; do debs+=("${b}_${version}_${arch}.deb"); done
(cd "$out" && sha256sum "$name.tar.gz" "${debs[@]}" >SHA256SUMS)
if [ "$(cd "$(dirname "$key")" && pwd)/$(basename "$key")" = "$root/keys/demo/release.key" ]; then
  echo "!! signing with the DEMO release key keys/demo/release.key (test-only, published in" >&2
  echo "!! this repository): pass --key with the real release key for a real release" >&2
fi
rm -f "$out/SHA256SUMS.minisig"
minisign -S -s "$key" -m "$out/SHA256SUMS" -x "$out/SHA256SUMS.minisig" \
  -t "ferry $version (commit $commit) $triple release checksums"
cat "$out/SHA256SUMS"

step "done: $out"
printf 'glibc floor (newest GLIBC_ symbol version each binary needs):\n%s' "$floors"
