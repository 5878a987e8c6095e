#!/usr/bin/env bash
# Install what the real-MTA lab (tests/realmta) runs: Postfix (with Cyrus SASL's plugins), postgrey, Exim's
# daemon, OpenSMTPD's smtpd, qpsmtpd and Sendmail. Debian or Ubuntu, as root. Starts no system service and leaves the machine's
# mail system as it is:
# - postfix and postgrey come from their Debian packages, installed under a policy-rc.d that forbids
#   service starts (the lab runs its own instances, with their own configuration, on its own addresses);
# - exim4-daemon-light conflicts with postfix as the system MTA (both provide mail-transport-agent), so
#   its binary is unpacked under /opt/smtp-probe-lab instead of installed; its libraries are installed,
#   and its compiled-in user Debian-exim is created when missing;
# - opensmtpd (its smtpd) conflicts the same way: unpacked under /opt/smtp-probe-lab/opensmtpd (apart, so its
#   sendmail does not replace Exim's there), its lib* dependencies installed, and the users its postinst would
#   create (opensmtpd, opensmtpq) created when missing. No maintainer script of either runs;
# - qpsmtpd (0.94): its postinst writes /etc/qpsmtpd from debconf and enables and starts its service, so the
#   package is unpacked under /opt/smtp-probe-lab too (no maintainer script of it runs either); its Perl dependencies are
#   installed (and Net::IP, which its greylisting plugin uses but the package does not declare), and its user
#   qpsmtpd is created when missing;
# - sendmail-bin conflicts with postfix too: sendmail-bin and sendmail-cf (the m4 files sendmail.cf is built
#   from) are unpacked under /opt/smtp-probe-lab (no maintainer script runs), their lib* dependencies and m4
#   installed.
# Nothing is done for what is already there.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "tests/realmta/install.sh: run as root (sudo bash tests/realmta/install.sh)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
LAB_EXIM=/opt/smtp-probe-lab/usr/sbin/exim4
# Debian's exim4-config (its exim4.conf.template), unpacked beside the binary for the lab's "Exim as Debian ships it"
LAB_EXIM_TEMPLATE=/opt/smtp-probe-lab/etc/exim4/exim4.conf.template

have_exim() { command -v exim4 >/dev/null 2>&1 || command -v exim >/dev/null 2>&1 || [ -x "$LAB_EXIM" ]; }
LAB_SMTPD=/opt/smtp-probe-lab/opensmtpd/usr/sbin/smtpd
have_smtpd() { [ -x "$LAB_SMTPD" ]; }
have_smtpd_users() { getent passwd opensmtpd >/dev/null && getent passwd opensmtpq >/dev/null; }
LAB_QPSMTPD=/opt/smtp-probe-lab/usr/bin/qpsmtpd-forkserver
have_qpsmtpd() { [ -x /usr/bin/qpsmtpd-forkserver ] || [ -x "$LAB_QPSMTPD" ]; }
LAB_SENDMAIL=/opt/smtp-probe-lab/usr/libexec/sendmail/sendmail
LAB_SENDMAIL_CF=/opt/smtp-probe-lab/usr/share/sendmail/cf/m4/cf.m4
have_sendmail() { [ -x "$LAB_SENDMAIL" ] && [ -f "$LAB_SENDMAIL_CF" ]; }
have_template() { [ -f "$LAB_EXIM_TEMPLATE" ] || [ -f /etc/exim4/exim4.conf.template ]; }

need=()
[ -x /usr/sbin/postfix ] || need+=(postfix)
[ -x /usr/sbin/postgrey ] || need+=(postgrey)
# Cyrus SASL's PLAIN/LOGIN and sasldb plugins, for the lab's submission service (AUTH offered): only recommended
# by libsasl2-2, which postfix depends on
compgen -G '/usr/lib/*/sasl2/libplain.so*' >/dev/null || need+=(libsasl2-modules)
compgen -G '/usr/lib/*/sasl2/libsasldb.so*' >/dev/null || need+=(libsasl2-modules-db)
command -v m4 >/dev/null 2>&1 || need+=(m4)  # sendmail.cf is built from the lab's .mc with m4
if [ ${#need[@]} -eq 0 ] && have_exim && have_template && getent passwd Debian-exim >/dev/null \
   && have_smtpd && have_smtpd_users && have_sendmail \
   && have_qpsmtpd && perl -MNet::IP -e1 2>/dev/null && getent passwd qpsmtpd >/dev/null; then
  exit 0
fi

if [[ " ${need[*]} " == *" postfix "* ]]; then
  other=$(dpkg-query -W -f '${Package} ${Provides} ${db:Status-Status}\n' 2>/dev/null \
          | awk '/mail-transport-agent/ && $NF == "installed" {print $1}')
  if [ -n "$other" ]; then
    echo "tests/realmta/install.sh: this machine's mail system is $other; installing postfix would replace it." >&2
    echo "Install postfix and postgrey by hand if that is what you want, then run this again." >&2
    exit 1
  fi
fi

created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
work=$(mktemp -d)
cleanup() { rm -rf "$work"; if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# unpack PKG DEST [EXTRA...]: PKG's files under DEST (dpkg-deb -x: no maintainer script of it runs), its
# dependencies named lib* (shared libraries, Perl modules; not the -base/-config packages that would make it the
# machine's MTA) and EXTRA installed from their packages
unpack() {
  local pkg=$1 dest=$2 deb libs
  shift 2
  chown _apt "$work" 2>/dev/null || true  # apt-get download drops to _apt
  (cd "$work" && apt-get download -qq "$pkg")
  deb=$(ls "$work/$pkg"_*.deb)
  libs=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/ //g' | grep '^lib' || true)
  if [ -n "$libs" ] || [ $# -gt 0 ]; then
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $libs "$@" >/dev/null
  fi
  mkdir -p "$dest"
  dpkg-deb -x "$deb" "$dest"
}
if ! have_exim; then unpack exim4-daemon-light /opt/smtp-probe-lab; fi
if ! have_template; then unpack exim4-config /opt/smtp-probe-lab; fi
if ! have_smtpd; then unpack opensmtpd /opt/smtp-probe-lab/opensmtpd; fi  # apart: its sendmail is not Exim's
if ! have_sendmail; then
  unpack sendmail-bin /opt/smtp-probe-lab
  unpack sendmail-cf /opt/smtp-probe-lab  # the m4 files sendmail.cf is built from
fi
if ! have_qpsmtpd; then unpack qpsmtpd /opt/smtp-probe-lab libnet-ip-perl; fi  # Net::IP: for plugins/greylisting
for name in opensmtpd opensmtpq; do  # as opensmtpd's postinst (adduser --system --ingroup NAME NAME)
  getent group "$name" >/dev/null || groupadd --system "$name"
  getent passwd "$name" >/dev/null || useradd --system --gid "$name" --home-dir /var/lib/opensmtpd/empty \
    --no-create-home --shell /usr/sbin/nologin "$name"
done
perl -MNet::IP -e1 2>/dev/null || apt-get install -y -qq --no-install-recommends libnet-ip-perl >/dev/null
getent group qpsmtpd >/dev/null || groupadd --system qpsmtpd
getent passwd qpsmtpd >/dev/null || useradd --system --gid qpsmtpd --home-dir /nonexistent \
  --no-create-home --shell /usr/sbin/nologin qpsmtpd
getent group Debian-exim >/dev/null || groupadd --system Debian-exim
getent passwd Debian-exim >/dev/null || useradd --system --gid Debian-exim --home-dir /nonexistent \
  --no-create-home --shell /usr/sbin/nologin Debian-exim
echo "real-MTA lab installed (Postfix $(postconf -d -h mail_version), postgrey, Exim, OpenSMTPD, qpsmtpd, Sendmail)"
