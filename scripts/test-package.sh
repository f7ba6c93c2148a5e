#!/usr/bin/env bash
# Issue 16's package test (scripts/ci.sh runs it after the release build):
# scripts/package.sh into a temp folder, then, as a site would,
#   - minisign -V accepts SHA256SUMS with keys/demo/release.pub, and not a
#     SHA256SUMS with one byte changed; sha256sum -c passes;
#   - dpkg -i installs the ferry-verify .deb; /usr/bin/ferry-verify
#     --version names the commit; the man pages and completions are at
#     their installed paths; Depends: states the binary's real glibc floor;
#     the binary is stripped;
#   - the release archive holds the four binaries, man pages, completions;
#   - dpkg -r removes it again: /usr/bin/ferry-verify is gone.
# Exits non-zero at the first check that fails. Uses sudo only when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

fail() { echo "test-package: FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

out="$(mktemp -d)"
installed=""
cleanup() {
  # Never leave the test's package installed, whatever failed.
  if [ -n "$installed" ]; then $sudo dpkg -r ferry-verify >/dev/null 2>&1 || true; fi
  rm -rf "$out"
}
trap cleanup EXIT

if dpkg-query -W -f='${Status}' ferry-verify 2>/dev/null | grep -q 'install ok installed'; then
  fail "ferry-verify is already installed on this machine; the test would replace and then remove it (dpkg -r ferry-verify first)"
fi

bash scripts/package.sh --out "$out"

debs=("$out"/ferry-verify_*.deb)
[ "${#debs[@]}" = 1 ] && [ -f "${debs[0]}" ] || fail "package.sh wrote no single ferry-verify .deb: ${debs[*]}"
deb="${debs[0]}"
for b in ferry ferry-mirror ferry-handoff; do
  ls "$out/${b}_"*.deb >/dev/null 2>&1 || fail "no .deb for $b"
done
archives=("$out"/ferry-*-*.tar.gz)
[ -f "${archives[0]}" ] || fail "no release archive"
archive="${archives[0]}"

echo
echo "==> the signed checksums, as a site checks them"
(cd "$out" && minisign -V -p "$root/keys/demo/release.pub" -m SHA256SUMS) ||
  fail "minisign -V rejects SHA256SUMS"
pass "minisign -V accepts SHA256SUMS (keys/demo/release.pub)"
(cd "$out" && sha256sum -c SHA256SUMS) || fail "sha256sum -c SHA256SUMS"
pass "sha256sum -c SHA256SUMS"
grep -q "  $(basename "$deb")\$" "$out/SHA256SUMS" || fail "SHA256SUMS does not list $(basename "$deb")"
grep -q "  $(basename "$archive")\$" "$out/SHA256SUMS" || fail "SHA256SUMS does not list $(basename "$archive")"
cp "$out/SHA256SUMS" "$out/SHA256SUMS.orig"
printf '%064d  ferry-evil.deb\n' 0 >>"$out/SHA256SUMS"
if (cd "$out" && minisign -V -q -p "$root/keys/demo/release.pub" -m SHA256SUMS) 2>/dev/null; then
  fail "minisign -V accepts an altered SHA256SUMS"
fi
mv "$out/SHA256SUMS.orig" "$out/SHA256SUMS"
pass "minisign -V refuses an altered SHA256SUMS"

echo
echo "==> the release archive"
listing="$(tar -tzf "$archive")"
for f in bin/ferry bin/ferry-verify bin/ferry-mirror bin/ferry-handoff \
  share/man/man1/ferry-verify.1.gz share/man/man1/ferry-verify-bundle.1.gz \
  share/bash-completion/completions/ferry-verify share/zsh/site-functions/_ferry-verify \
  share/fish/vendor_completions.d/ferry-verify.fish; do
  printf '%s\n' "$listing" | grep -q "^ferry-[^/]*/$f\$" || fail "$(basename "$archive") lacks $f"
done
pass "$(basename "$archive") holds the four binaries, man pages and completions"

echo
echo "==> dpkg -i $(basename "$deb")"
installed=yes
$sudo dpkg -i "$deb"

if commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null)"; then
  want="(commit $commit"
else
  want="(commit unknown)"
fi
version_line="$(/usr/bin/ferry-verify --version)" || fail "/usr/bin/ferry-verify --version failed"
echo "$version_line"
case "$version_line" in
  "ferry-verify "*"$want"*) pass "/usr/bin/ferry-verify --version names the commit" ;;
  *) fail "/usr/bin/ferry-verify --version says '$version_line', not $want…" ;;
esac

for f in /usr/share/man/man1/ferry-verify.1.gz /usr/share/man/man1/ferry-verify-bundle.1.gz \
  /usr/share/man/man1/ferry-verify-file.1.gz /usr/share/bash-completion/completions/ferry-verify \
  /usr/share/zsh/vendor-completions/_ferry-verify /usr/share/fish/vendor_completions.d/ferry-verify.fish; do
  [ -s "$f" ] || fail "$f is missing or empty"
done
gzip -t /usr/share/man/man1/ferry-verify*.1.gz || fail "a man page is not valid gzip"
zcat /usr/share/man/man1/ferry-verify.1.gz | grep -q '^\.TH ferry-verify 1' || fail "ferry-verify.1.gz is not a man page"
bash -n /usr/share/bash-completion/completions/ferry-verify || fail "the bash completion is not valid bash"
pass "man pages and completions at their installed paths"

floor="$(objdump -T /usr/bin/ferry-verify | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
depends="$(dpkg-query -W -f='${Depends}' ferry-verify)"
case "$depends" in
  *"libc6 (>= $floor)"*) pass "Depends: $depends (glibc floor $floor, from objdump -T)" ;;
  *) fail "Depends: '$depends' does not state the glibc floor $floor" ;;
esac
if readelf -SW /usr/bin/ferry-verify | grep -qE ' \.(symtab|debug_(info|line|str|abbrev|ranges)) '; then
  fail "/usr/bin/ferry-verify is not stripped"
fi
pass "/usr/bin/ferry-verify is stripped ($(stat -c %s /usr/bin/ferry-verify) bytes)"

echo
echo "==> dpkg -r ferry-verify"
$sudo dpkg -r ferry-verify
installed=""
[ ! -e /usr/bin/ferry-verify ] || fail "/usr/bin/ferry-verify is still there after dpkg -r"
[ ! -e /usr/share/man/man1/ferry-verify.1.gz ] || fail "the man page is still there after dpkg -r"
pass "dpkg -r removed /usr/bin/ferry-verify and its files"

echo
echo "test-package: all checks passed"
