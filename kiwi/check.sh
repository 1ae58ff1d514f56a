#!/bin/bash
# Offline validation of the KIWI descriptions: no root, no network, no build. For CI.
#   kiwi/check.sh [recipe...]      (default: every kiwi/descriptions/*/)
# Per recipe and per profile: `kiwi-ng image info` (kiwi's XSLT upgrade, RelaxNG and Schematron
# rules, profile/type selection); xsltproc + xmllint --relaxng against the schema in the kiwi
# package when both are installed; bash -n of config.sh and of the scripts under kiwi/; and the
# things recon needs from a description (flags="dmsquash", image-setup run, no password in
# config.xml, no RECONDATA fstab line: the agent mounts it, the 90recon dracut module requested).
# Needs python3 (+ venv); kiwi comes from PyPI into target/kiwi/venv on first use (KIWI= to use
# another kiwi-ng). Optional: xsltproc, xmllint (apt-get install xsltproc libxml2-utils).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
if [ -z "${KIWI:-}" ]; then
    venv=$REPO/target/kiwi/venv
    if [ ! -x "$venv/bin/kiwi-ng" ]; then
        echo "check: installing ${KIWI_PIP_SPEC:-kiwi==11.1.6} from PyPI into $venv"
        python3 -m venv "$venv" && "$venv/bin/pip" install -q "${KIWI_PIP_SPEC:-kiwi==11.1.6}" \
            || { echo "check: cannot install kiwi (pip)" >&2; exit 1; }
    fi
    KIWI=$venv/bin/kiwi-ng
fi
kiwi_py=$(head -n1 "$(command -v "$KIWI")" | sed 's/^#!//')
kiwi_dir=$("$kiwi_py" -c 'import kiwi, os; print(os.path.dirname(kiwi.__file__))' 2>/dev/null || true)

if [ $# -eq 0 ]; then
    set --
    for d in "$HERE"/descriptions/*/; do set -- "$@" "$(basename "$d")"; done
fi

fail=0
ok() { printf '  ok    %s\n' "$*"; }
bad() { printf '  FAIL  %s\n' "$*"; fail=1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

for f in "$HERE"/make-recipe-target "$HERE"/check.sh; do
    bash -n "$f" && ok "bash -n $(basename "$f")" || bad "bash -n $(basename "$f")"
done
"$HERE"/make-recipe-target > /dev/null 2>&1; [ $? -eq 2 ] && ok "make-recipe-target without arguments: usage, exit 2" || bad "make-recipe-target usage"

for recipe in "$@"; do
    d=$HERE/descriptions/$recipe
    echo "== $recipe"
    [ -f "$d/config.xml" ] || { bad "$d/config.xml missing"; continue; }
    # 1. kiwi itself, for every profile (each selects another <type>)
    "$KIWI" image info --description "$d" --list-profiles > "$tmp/info" 2>&1 \
        || { bad "kiwi-ng image info"; grep -E 'ERROR|error' "$tmp/info" | sed 's/^/        /'; continue; }
    profiles=$("$kiwi_py" -c 'import json,re,sys; t=sys.stdin.read(); print(" ".join(json.loads(t[t.index("{"):])["profile_names"]))' < "$tmp/info")
    for p in $profiles; do
        if "$KIWI" --profile "$p" image info --description "$d" > "$tmp/info.$p" 2>&1; then
            ok "kiwi-ng --profile $p image info: $(grep -o 'Selected build type: .*' "$tmp/info.$p")"
        else
            bad "kiwi-ng --profile $p image info"; grep -E 'ERROR|error' "$tmp/info.$p" | sed 's/^/        /'
        fi
    done
    # 2. plain RelaxNG against the schema in the kiwi package (upgrade with kiwi's XSLT first:
    #    the RNG pins the newest schemaversion)
    if [ -n "$kiwi_dir" ] && command -v xsltproc > /dev/null && command -v xmllint > /dev/null; then
        if xsltproc "$kiwi_dir/xsl/master.xsl" "$d/config.xml" > "$tmp/conv.xml" 2> "$tmp/xslt" \
            && xmllint --noout --relaxng "$kiwi_dir/schema/kiwi.rng" "$tmp/conv.xml" 2> "$tmp/rng"; then
            ok "xsltproc + xmllint --relaxng"
        else
            bad "xsltproc + xmllint --relaxng"; cat "$tmp/xslt" "$tmp/rng" | head -5 | sed 's/^/        /'
        fi
    else
        echo "  skip  xsltproc/xmllint not installed"
    fi
    # 3. scripts
    [ -f "$d/config.sh" ] && { bash -n "$d/config.sh" && ok "bash -n config.sh" || bad "bash -n config.sh"; }
    # 4. what recon needs from every recipe
    grep -q 'image="iso"[^>]*flags="dmsquash"' "$d/config.xml" && ok 'iso type with flags="dmsquash"' || bad 'no iso type with flags="dmsquash"'
    grep -Eq '<type [^>]*hybrid=' "$d/config.xml" && bad 'hybrid="true" (removed from the schema)' || true
    grep -q '^/usr/libexec/recon/image-setup ' "$d/config.sh" && ok "config.sh runs image-setup" || bad "config.sh does not run /usr/libexec/recon/image-setup"
    grep -q 'password=' "$d/config.xml" && bad "config.xml sets a password (the same on every stick)" || ok "config.xml sets no password"
    grep -qs 'add_dracutmodules.*recon' "$d"/root/etc/dracut.conf.d/*.conf && ok "dracut.conf.d adds the recon module" || bad "the recon dracut module is not requested"
done
# 5. the overlay files the descriptions rely on
for f in usr/lib/systemd/system/recon-agent.service usr/lib/systemd/system/recon-console.service \
         usr/lib/dracut/modules.d/90recon/module-setup.sh; do
    [ -f "$REPO/overlay/$f" ] && ok "overlay/$f" || bad "overlay/$f missing"
done
bash -n "$REPO/kiwi/root/usr/libexec/recon/image-setup" && ok "bash -n image-setup" || bad "bash -n image-setup"
grep -q '^systemctl enable recon-agent.service' "$REPO/kiwi/root/usr/libexec/recon/image-setup" \
    && ok "image-setup enables recon-agent.service" || bad "image-setup does not enable recon-agent.service"
# RECONDATA is the agent's to mount (runtime/medium.rs): an fstab line would race it.
grep -rqs 'RECONDATA' "$REPO/overlay/etc" && bad "overlay/etc mounts RECONDATA (the agent does)" || ok "no RECONDATA fstab line"
[ $fail = 0 ] && echo "check: ok" || echo "check: FAILED"
exit $fail
