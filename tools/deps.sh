#!/usr/bin/env bash
# Installs the Debian packages ringmta needs to build, test and benchmark.
# Quick when everything is present: one dpkg-query, no apt-get.
#
#   tools/deps.sh            build + test packages
#   tools/deps.sh fuzz       also clang (libFuzzer)
#   tools/deps.sh bench      also what the benchmarks use
set -u

pkgs=(pkg-config gcc make liburing-dev libwolfssl-dev libc-ares-dev
      libhiredis-dev libcmocka-dev libinih-dev libidn2-dev
      redis-server dnsmasq-base swaks python3-aiosmtpd postfix openssl
      ca-certificates procps iproute2 clang-format)
for extra in "$@"; do
	case "$extra" in
	fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
	bench) pkgs+=(clang valgrind linux-perf hyperfine) ;;
	*) echo "deps.sh: unknown group '$extra'" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
# Postfix is installed only for its tools (smtp-source, smtp-sink) and as a
# private test peer: never configure or start a system mail server.
echo "postfix postfix/main_mailer_type select No configuration" |
	$SUDO debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/ringmta-deps.log 2>&1; then
	$SUDO apt-get update >>/tmp/ringmta-deps.log 2>&1
	if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/ringmta-deps.log 2>&1; then
		tail -20 /tmp/ringmta-deps.log >&2
		echo "deps: apt-get install failed (log: /tmp/ringmta-deps.log)" >&2
		exit 1
	fi
fi
# A package install may have started a system Postfix; stop it (by its own
# tool, never by process name) and keep it from starting at boot.
if [ -x /usr/sbin/postfix ] && $SUDO /usr/sbin/postfix status >/dev/null 2>&1; then
	$SUDO /usr/sbin/postfix stop >/dev/null 2>&1 || true
fi
command -v systemctl >/dev/null 2>&1 && $SUDO systemctl disable postfix >/dev/null 2>&1
exit 0
