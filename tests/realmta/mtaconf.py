"""The real-MTA lab's configuration files: Postfix (main.cf, master.cf, maps), Exim (one configure per daemon).

Pure text rendering; tests/realmta/lab_postfix.py and lab_exim.py write them under the lab's temporary directory and starts
the daemons. Every path is under that directory, every listener on the lab's own loopback addresses:
nothing here reads or writes the machine's own mail system (/etc/postfix, /etc/exim4, /var/spool).

Replies the scenarios provoke are the servers' own wording (Postfix's smtpd and postscreen, Exim's
smtp_in.c and ACLs); where a scenario needs a site-specific refusal (a full or a disabled mailbox) it
is an access(5) entry whose text is RFC 3463's name for the enhanced code, which Postfix wraps in its
own "<address>: Recipient address rejected: " form, as a site's access map would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Postfix services a running master needs (a subset of Debian's /usr/share/postfix/master.cf.dist),
# none chrooted: the queue lives under the lab directory.
_POSTFIX_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
smtpd     pass  -       -       n       -       -       smtpd
dnsblog   unix  -       -       n       -       0       dnsblog
tlsproxy  unix  -       -       n       -       0       tlsproxy
"""


@dataclass(frozen=True)
class Listener:
    """One Postfix listener: an smtpd (or postscreen) on `ip`:port with its own -o overrides."""

    ip: str
    overrides: tuple[str, ...] = ()
    postscreen: bool = False
    port: int | None = None  # its own port (the submission port), not the lab's

    def master_line(self, port: int) -> str:
        service = "postscreen" if self.postscreen else "smtpd"
        limit = "1" if self.postscreen else "-"
        options = "".join(f"\n  -o {o}" for o in self.overrides)
        return f"{self.ip}:{self.port or port} inet n - n - {limit} {service}{options}\n"


def postfix_main_cf(root: Path, *, hostname: str, local_domains: list[str], alias_domains: list[str],
                    cert: tuple[Path, Path], relay_domains: tuple[str, ...] = ()) -> str:
    """main.cf of the lab's Postfix: every directory under `root`, nothing from /etc/postfix. Mail for
    `relay_domains` goes where maps/transport says (the lab's Exim)."""
    maps = root / "maps"
    return f"""\
compatibility_level = 3.6
config_directory = {root / 'etc'}
queue_directory = {root / 'queue'}
data_directory = {root / 'data'}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root / 'postfix.log'}
maillog_file_prefixes = {root}
myhostname = {hostname}
mydomain = lab.test
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
# the probe connects from 127.0.0.1: not a trusted network, so relaying is denied as to any stranger
mynetworks = 192.0.2.1/32
mydestination = {', '.join(local_domains)}
virtual_alias_domains = {', '.join(alias_domains)}
virtual_alias_maps = texthash:{maps / 'virtual'}
relay_domains = {', '.join(relay_domains)}
transport_maps = texthash:{maps / 'transport'}
local_recipient_maps = texthash:{maps / 'recipients'}
alias_maps =
alias_database =
relayhost =
smtpd_banner = $myhostname ESMTP $mail_name
smtpd_peername_lookup = no
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:{maps / 'access'}
smtpd_tls_security_level = may
smtpd_tls_chain_files = {cert[1]}, {cert[0]}
smtpd_tls_loglevel = 0
postscreen_cache_map = btree:$data_directory/postscreen_cache
biff = no
"""


def postfix_master_cf(listeners: list[Listener], port: int) -> str:
    return _POSTFIX_SERVICES + "".join(listener.master_line(port) for listener in listeners)


def texthash(entries: dict[str, str]) -> str:
    """A texthash map (read at start-up, no postmap): 'key value' lines."""
    return "".join(f"{key} {value}\n" for key, value in entries.items())


def exim_configure(root: Path, *, hostname: str, ip: str, port: int, local_domains: list[str],
                   cert: tuple[Path, Path], extra_main: str = "", acl: str = "", verify: str = "recipient",
                   routers: str = "", transports: str = "", extra_acls: str = "") -> str:
    """One Exim daemon's configure. The RCPT ACL is the one of Exim's src/src/configure.default
    (github:Exim/exim), reduced to what a stranger on 127.0.0.1 meets: "relay not permitted" for a
    domain it neither hosts nor relays for, "Unrouteable address" for an unknown local part. No
    acl_smtp_vrfy: VRFY gets Exim's built-in "252 Administrative prohibition" (smtp_in.c). The
    non-mail command limit is Exim's default (smtp_accept_max_nonmail = 10) unless `extra_main`
    sets it. `acl` adds statements before the recipient check, `verify` is that check's condition
    ("recipient/callout=5s"), `routers` come before the local users, `transports` after local delivery."""
    return f"""\
primary_hostname = {hostname}
domainlist local_domains = {' : '.join(local_domains)}
domainlist relay_to_domains =
hostlist relay_from_hosts =
daemon_smtp_ports = {port}
local_interfaces = {ip}
spool_directory = {root / 'spool'}
log_file_path = {root / 'log'}/%slog
pid_file_path = {root / 'exim.pid'}
acl_smtp_rcpt = acl_check_rcpt
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
never_users = root
keep_environment =
tls_advertise_hosts = *
tls_certificate = {cert[0]}
tls_privatekey = {cert[1]}
queue_only = true
{extra_main}

begin acl

{extra_acls}acl_check_rcpt:
  accept  hosts = :
  deny    domains = +local_domains
          local_parts = ^[.] : ^.*[@%!/|]
          message = Restricted characters in address
  require message = relay not permitted
          domains = +local_domains : +relay_to_domains
{acl}  require verify = {verify}
  accept

begin routers

{routers}local_users:
  driver = accept
  domains = +local_domains
  local_parts = lsearch;{root / 'users'}
  transport = local_delivery

begin transports

local_delivery:
  driver = appendfile
  file = {root / 'mail'}/$local_part_data
  user = Debian-exim
{transports}
begin retry

*   *   F,2h,15m
"""
