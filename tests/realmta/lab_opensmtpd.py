"""Real OpenSMTPD in the real-MTA lab: two smtpd daemons on lab addresses, configured as mail admins do.

Debian's opensmtpd (6.8) cannot be installed beside the lab's Postfix (both are the machine's MTA), so
tests/realmta/install.sh unpacks its smtpd under OPENSMTPD_ROOT and creates the users it runs as. smtpd's
paths are compiled in (spool /var/spool/smtpd, chroot /var/lib/opensmtpd/empty, control socket
/var/run/smtpd.sock): each daemon runs in a mount namespace of its own where /var/spool, /var/lib and /run are
directories of the lab's temporary root (and /etc/resolv.conf names the lab's FakeDNS), so the machine's own
directories are never read or written and two lab runs do not meet. Every reply comes from smtpd itself or
from a message an admin wrote in a published configuration (cited beside it).

- "opensmtpd": the smtpd.conf(5) layout of a hosted domain, STARTTLS offered (`listen ... tls pki`):
  osd.lab.test delivers through a virtual table (alice, bob, postmaster -> the vmail user of a userbase
  table, smtpd.conf(5) "virtual"/"userbase", table(5) "Aliasing tables"); osdusers.lab.test through a
  userbase table alone (alice, bob); mail from an @osd.lab.test sender not sent by the domain's relays is refused
  (smtpd.conf(5)'s last example: `match !from src <other-relays> mail-from "@example.com" for any reject`);
  osdall.lab.test has a catch-all virtual entry (`@osdall.lab.test`,
  table(5)); osdreject.lab.test is refused by a match rule (`match from any for domain ... reject`);
  osdstale.lab.test points its MX here but smtpd serves it not (no match rule: a relay attempt). Relaying
  is for authenticated clients only (the man page's second example: `match auth from any for any`).
- "opensmtpd-tlsreq" `tls-require`, "opensmtpd-smtps" `smtps` (implicit TLS on the lab port),
  "opensmtpd-auth" `auth <creds>` (AUTH required before MAIL), "opensmtpd-rdns" the builtin filter of
  Gilles Chehade's setup article (poolp.org/posts/2019-09-14/setting-up-a-mail-server-with-opensmtpd-dovecot-
  and-rspamd/): `filter check_rdns phase connect match !rdns disconnect "550 no rDNS is so 80s"`;
  "opensmtpd-senders" a mail-from filter refusing senders of its own domain (SENDERS_MESSAGE);
- a second daemon, "opensmtpd-limits": `smtp limit max-rcpt 2` and `smtp max-message-size 1M` (global
  settings, hence a daemon of their own).

TLS: Debian's smtpd 6.8 (6.8.0p2-4+b4) on OpenSSL 3 fails every handshake, with an ECDSA or an RSA key ("io-error:
error:0A080006:SSL routines::EVP lib" in its log, an internal_error alert to the client; OpenSMTPD issues #1171 and
#1239, Debian 12): STARTTLS is offered, then fails, as on every Debian 12 or Ubuntu 22.04 server running it.
"""

from __future__ import annotations

import pwd
import shutil
import subprocess
from typing import TYPE_CHECKING

from labbase import UNPACKED, LabError, wait_for_port

if TYPE_CHECKING:
    from lab import Lab

OPENSMTPD_ROOT = UNPACKED / "opensmtpd"  # tests/realmta/install.sh unpacks Debian's package here
OPENSMTPD_BINARY = OPENSMTPD_ROOT / "usr/sbin/smtpd"
OPENSMTPD_USERS = ("opensmtpd", "opensmtpq")  # compiled into Debian's smtpd (its postinst creates them)

# host label -> last octet (lab.HOSTS takes these)
OPENSMTPD_HOSTS = {"opensmtpd": 110, "opensmtpd-tlsreq": 111, "opensmtpd-smtps": 112, "opensmtpd-auth": 113,
                   "opensmtpd-rdns": 114, "opensmtpd-limits": 115, "opensmtpd-senders": 117}
# domain (under lab.test) -> its MX hosts (lab.SCENARIOS takes these)
OPENSMTPD_SCENARIOS = {
    "osd": ["opensmtpd"],  # virtual table: alice, bob, postmaster
    "osdusers": ["opensmtpd"],  # userbase table: alice, bob
    "osdall": ["opensmtpd"],  # catch-all virtual entry
    "osdreject": ["opensmtpd"],  # match from any for domain osdreject.lab.test reject
    "osdstale": ["opensmtpd"],  # MX here, not served by smtpd
    "osdtls": ["opensmtpd-tlsreq"], "osdsmtps": ["opensmtpd-smtps"], "osdauth": ["opensmtpd-auth"],
    "osdrdns": ["opensmtpd-rdns"], "osdlimits": ["opensmtpd-limits"],
    "osdsenders": ["opensmtpd-senders"],  # a mail-from filter refuses senders of the domain itself
}
SERVED = ("osd", "osdusers", "osdall", "osdtls", "osdsmtps", "osdauth", "osdrdns", "osdlimits", "osdsenders")
VIRTUAL_USERS = ("alice", "bob", "postmaster")
RDNS_MESSAGE = "550 no rDNS is so 80s"  # poolp.org's article (module docstring)
# github:bsdsx/blog_posts/2021-05-08_opensmtpd.md: `filter check_myfroms phase mail-from match mail-from regex
# <myfroms> disconnect "550 invalid mail from"`, its table the regexes of its own domain
SENDERS_MESSAGE = "550 invalid mail from"


def opensmtpd_missing() -> str | None:
    """Why the lab's OpenSMTPD cannot run here (None: it can)."""
    if not OPENSMTPD_BINARY.exists():
        return f"{OPENSMTPD_BINARY} missing"
    for user in OPENSMTPD_USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"user {user} missing"
    return None


def _config(lab: Lab, listeners: list[str], settings: str) -> tuple[str, dict[str, str]]:
    """smtpd.conf's text ("{dir}" where the tables' directory goes) and its tables (name -> content)."""
    vmail = lab.root / "opensmtpd-vmail"
    tables = {
        "vusers": "".join(f"{u}@osd.lab.test vmail\n" for u in VIRTUAL_USERS)
                  + "".join(f"{u}@{d}.lab.test vmail\n" for d in SERVED if d not in ("osd", "osdusers", "osdall")
                            for u in VIRTUAL_USERS)
                  + "@osdall.lab.test vmail\n",
        "relays": "192.0.2.25\n",  # the domain's other relays (none in the lab)
        "myfroms": "@osdsenders\\.lab\\.test$\n",
        "userinfo": f"vmail 1000:1000:{vmail}\nalice 1000:1000:{vmail}\nbob 1000:1000:{vmail}\n",
        "creds": "alice " + _crypted("lab-secret") + "\n",  # table(5) credentials: user and crypt(3) hash
    }
    served = " ".join(f'"{d}.lab.test"' for d in SERVED if d != "osdusers")
    text = "".join(f"table {name} file:{{dir}}/{name}\n" for name in tables)
    text += settings
    text += "\n".join(listeners) + "\n"
    text += (f'action "vdeliver" maildir "{vmail}/%{{dest.user}}" virtual <vusers> userbase <userinfo>\n'
             f'action "udeliver" maildir "{vmail}/%{{dest.user}}" userbase <userinfo>\n'
             'action "outbound" relay\n'
             # smtpd.conf(5)'s last example: mail claiming the domain's own sender from elsewhere refused
             'match !from src <relays> mail-from "@osd.lab.test" for any reject\n'
             'match from any for domain "osdreject.lab.test" reject\n'
             'match from any for domain "osdusers.lab.test" action "udeliver"\n'
             f"match from any for domain {{ {served.replace(' ', ', ')} }} action \"vdeliver\"\n"
             'match auth from any for any action "outbound"\n')
    return text, tables


def _crypted(password: str) -> str:
    return subprocess.run(["openssl", "passwd", "-6", password], capture_output=True, check=True,
                          text=True).stdout.strip()


def _listen(lab: Lab, host: str, options: str) -> str:
    return f"listen on {lab.ip(host)} port {lab.port} {options} hostname {lab.mx_name(host)}"


def _pki(lab: Lab, host: str) -> str:
    cert, key = lab._cert(host)
    key.chmod(0o600)
    return f'pki {lab.mx_name(host)} cert "{cert}"\npki {lab.mx_name(host)} key "{key}"\n'


def start_opensmtpd(lab: Lab) -> None:
    """Both daemons of the module docstring, listening when this returns (LabError otherwise)."""
    pkis = "".join(_pki(lab, h) for h in ("opensmtpd", "opensmtpd-tlsreq", "opensmtpd-smtps", "opensmtpd-auth"))
    main_listeners = [
        _listen(lab, "opensmtpd", f"tls pki {lab.mx_name('opensmtpd')}"),
        _listen(lab, "opensmtpd-tlsreq", f"tls-require pki {lab.mx_name('opensmtpd-tlsreq')}"),
        _listen(lab, "opensmtpd-smtps", f"smtps pki {lab.mx_name('opensmtpd-smtps')}"),
        _listen(lab, "opensmtpd-auth", f"tls pki {lab.mx_name('opensmtpd-auth')} auth <creds>"),
        _listen(lab, "opensmtpd-rdns", "filter check_rdns"),
        _listen(lab, "opensmtpd-senders", "filter check_myfroms"),
    ]
    filters = (f'filter check_rdns phase connect match !rdns disconnect "{RDNS_MESSAGE}"\n'
               f'filter check_myfroms phase mail-from match mail-from regex <myfroms> disconnect "{SENDERS_MESSAGE}"\n')
    _start(lab, "opensmtpd", main_listeners, pkis + filters)
    _start(lab, "opensmtpd-limits", [_listen(lab, "opensmtpd-limits", "")],
           "smtp limit max-rcpt 2\nsmtp max-message-size 1M\n")


def _start(lab: Lab, name: str, listeners: list[str], settings: str) -> None:
    """One smtpd with these listeners and global settings, in its mount namespace; listening when this returns."""
    root = lab.root / name
    for sub in ("run", "spool", "varlib/opensmtpd/empty", "tables"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (lab.root / "opensmtpd-vmail").mkdir(exist_ok=True)
    text, tables = _config(lab, listeners, settings)
    for table, content in tables.items():
        (root / "tables" / table).write_text(content)
    conf = root / "smtpd.conf"
    conf.write_text(text.replace("{dir}", str(root / "tables")))
    resolv = lab.resolv_conf()
    # the lab's own /run, /var/spool and /var/lib for smtpd's compiled-in paths; /etc/resolv.conf (possibly a
    # link into /run) bound after /run is replaced, onto the path it names
    script = ('set -e; target=$(readlink -f /etc/resolv.conf); mount --bind "$1/run" /run; '
              'mount --bind "$1/spool" /var/spool; mount --bind "$1/varlib" /var/lib; '
              'mkdir -p "$(dirname "$target")"; [ -e "$target" ] || : > "$target"; '
              'mount --bind "$2" "$target"; shift 2; exec "$@"')
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(root), str(resolv),
            str(OPENSMTPD_BINARY), "-d", "-f", str(conf)]
    log = root / "smtpd.log"
    process = lab._spawn(name, argv, log)
    for line in listeners:
        ip = line.split()[2]
        try:
            wait_for_port(name, ip, lab.port, log, process)
        except LabError:
            shutil.copy(conf, root / "smtpd.conf.failed")
            raise

