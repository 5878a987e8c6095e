"""Real Exim in the lab: Exim daemons with configurations of the lab's own (mtaconf.exim_configure), an admin's
aliases and ACLs, the policies Exim admins write (EXIM_POLICIES), and Debian's exim4-config template as it ships.
Each starts on its HOSTS address of the lab's block (lab.py), in the lab's own resolver namespace."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from labbase import UNPACKED, LabError, _tail, wait_for_port
from mtaconf import exim_configure

if TYPE_CHECKING:
    from lab import Lab

EXIM_CANDIDATES = ("exim4", "exim", str(UNPACKED / "usr/sbin/exim4"))  # the last: tests/realmta/install.sh
# Debian's exim4-config, its one-file template (update-exim4.conf.template builds it from conf.d/); install.sh
# unpacks the package there (it would configure the machine's own Exim if installed)
DEBIAN_EXIM_TEMPLATES = (str(UNPACKED / "etc/exim4/exim4.conf.template"), "/etc/exim4/exim4.conf.template")
# Debian's /etc/aliases as exim4-config's and postfix's postinst write it when there is none
DEBIAN_ALIASES = "# See man 5 aliases for format\npostmaster:    root\n"

# exim-policy's statements (start_exim_policies): domain -> (ACL verb, its conditions and message)
EXIM_POLICIES: dict[str, tuple[str, tuple[str, ...]]] = {
    # cPanel's per-host limit (pastebin.com/Jp8ai9Eu, its connect ACL), here per recipient
    "eximratehost": ("defer", ("message = The server has reached its limit for processing requests from your host. "
                               "Please try again later.", "ratelimit = 0 / 1h / strict / per_rcpt")),
    # per sender, an admin's (exim-users, mail-archive.com/exim-users@exim.org/msg44684.html)
    "eximratesender": ("deny", ("message = Rate limited", "ratelimit = 0 / 1h / per_rcpt / strict / $sender_address")),
    # a tarpit: the Exim spec's ratelimit example slows senders down with `warn ... delay = ...s` (the ACL's delay
    # modifier); 8 s is past the lab probe's --timeout
    "eximdelay": ("warn", ("delay = 8s",)),
    # Bytemark Symbiosis's exim4 ACL (symbiosis.d/10-acl/50-acl-check-rcpt/50-verify-recipient)
    "eximunknown": ("require", ("message = Unknown user", "verify = recipient")),
    "eximhosts": ("deny", ("hosts = 127.0.0.0/8",)),  # no message: Exim's own words
    "eximrdns": ("require", ("verify = reverse_host_lookup",)),  # the lab's DNS has no PTR records
    "eximvsender": ("require", ("verify = sender",)),
    "eximcallout": ("require", ("verify = sender/callout=5s",)),  # the sender's MX (the lab's) is called
    # Debian exim4-config's CHECK_RCPT_IP_DNSBLS wording (a warn there), as admins copy it into a deny
    "eximdnsblown": ("deny", ("message = $sender_host_address is listed at $dnslist_domain ($dnslist_value: "
                              "$dnslist_text)", "dnslists = bl.lab.test")),
    "eximdnsblbare": ("deny", ("dnslists = bl.lab.test",)),  # no message: Exim's own words
    "eximhelo": ("require", ("verify = helo",)),  # helo_try_verify_hosts = *: the EHLO name must match the client
}
EXIM_POLICY_DOMAINS = tuple(EXIM_POLICIES)


def exim_binary() -> str | None:
    for candidate in EXIM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def debian_exim_template() -> Path | None:
    for candidate in DEBIAN_EXIM_TEMPLATES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def start_exim(lab: Lab, host: str, domains: list[str], extra_main: str = "", **acl_and_routes: str) -> None:
    root = lab.root / host
    for sub in ("spool", "log", "mail"):
        (root / sub).mkdir(parents=True)
        shutil.chown(root / sub, "Debian-exim", "Debian-exim")
    (root / "users").write_text("".join(f"{u}:\n" for u in ("alice", "bob")))
    config = root / "configure"
    config.write_text(exim_configure(root, hostname=lab.mx_name(host), ip=lab.ip(host), port=lab.port,
                                     local_domains=domains, cert=lab._cert(host), extra_main=extra_main,
                                     **acl_and_routes))
    log = root / "log" / "mainlog"
    binary = exim_binary()
    assert binary is not None
    process = lab._spawn(host, lab._own_resolver([binary, "-C", str(config), "-bdf"]), root / "stderr.log")
    try:
        wait_for_port(host, lab.ip(host), lab.port, root / "stderr.log", process)
    except LabError as exc:
        raise LabError(f"{exc}\n{_tail(log)}") from None


def start_exim_admin(lab: Lab) -> None:
    """Settings of an Exim admin: a redirect router over an aliases file with :fail: (the Exim spec's own
    example text, "Special items in redirection lists"), :defer: and :blackhole:; VRFY let through an ACL
    (acl_smtp_vrfy, so Exim verifies the address); and, for eximlisted.lab.test only, the spec's dnslists
    deny ("ACL conditions", dnslists): `message = rejected because $sender_host_address is in a black list
    at $dnslist_domain\\n$dnslist_text`."""
    aliases = lab.root / "exim-admin-aliases"
    aliases.write_text("gone: :fail: Gone away, no forwarding address\n"
                       "moving: :defer:\n"
                       "void: :blackhole:\n")
    aliases.chmod(0o644)
    start_exim(
        lab, "exim-admin", ["eximadmin.lab.test", "eximlisted.lab.test"], "acl_smtp_vrfy = acl_check_vrfy",
        acl=("  deny    domains = eximlisted.lab.test\n"
             "          message = rejected because $sender_host_address is in a black list at "
             "$dnslist_domain\\n$dnslist_text\n"
             "          dnslists = bl.lab.test\n"),
        routers=("admin_aliases:\n  driver = redirect\n  domains = eximadmin.lab.test\n"
                 f"  data = ${{lookup{{$local_part}}lsearch{{{aliases}}}}}\n  allow_fail\n  allow_defer\n\n"),
        extra_acls="acl_check_vrfy:\n  accept\n\n")


def start_exim_policies(lab: Lab) -> None:
    """Refusals Exim admins configure, each as they write it (sources in EXIM_POLICIES' comments).

    exim-policy: one RCPT ACL statement a domain of EXIM_POLICY_DOMAINS: deny and defer statements name their
    domain; a `require` (which denies when any condition fails) lives in an ACL of its own that lets other
    domains pass (`require acl = policy_NAME`), so the admin's statement is written as they write it. A
    ratelimit of 0 is exceeded by the first event (deterministic). message_size_limit = 10M (SIZE advertised).
    Beside it: acl_smtp_connect refusing 127.0.0.0/8 with deny (exim-closed) and drop (exim-dropped), acl_smtp_mail
    denying it (exim-mailacl), smtp_accept_max_per_host = 1 (exim-perhost), helo_verify_hosts = * (exim-heloverify)."""
    statements, nested = [], []
    for name, (verb, conditions) in EXIM_POLICIES.items():
        body = "".join(f"          {line}\n" for line in conditions)
        if verb == "require":
            nested.append(f"policy_{name}:\n  accept  domains = !{name}.lab.test\n  require {body.lstrip()}"
                          "  accept\n\n")
            statements.append(f"  require acl = policy_{name}\n")
        else:
            statements.append(f"  {verb:<7} domains = {name}.lab.test\n{body}")
    start_exim(
        lab, "exim-policy", [f"{d}.lab.test" for d in EXIM_POLICY_DOMAINS],
        "message_size_limit = 10M\nhelo_try_verify_hosts = *", acl="".join(statements),
        extra_acls="".join(nested),
        routers="dnslookup:\n  driver = dnslookup\n  domains = ! +local_domains\n  transport = remote_smtp\n"
                "  no_more\n\n",
        transports=f"\nremote_smtp:\n  driver = smtp\n  port = {lab.port}\n")
    for host, verb in (("exim-closed", "deny"), ("exim-dropped", "drop")):
        # cPanel's connect ACL (pastebin.com/Jp8ai9Eu): "drop message = Your host is not allowed to connect to
        # this server." for its banned blocks
        start_exim(lab, host, [f"{host.replace('-', '')}.lab.test"], "acl_smtp_connect = acl_check_connect",
                   extra_acls=(f"acl_check_connect:\n  {verb}    hosts = 127.0.0.0/8\n"
                               "          message = Your host is not allowed to connect to this server.\n"
                               "  accept\n\n"))
    start_exim(lab, "exim-perhost", ["eximperhost.lab.test"], "smtp_accept_max_per_host = 1")
    start_exim(lab, "exim-hostreject", ["eximhostreject.lab.test"], "host_reject_connection = 127.0.0.0/8")
    start_exim(lab, "exim-rcptmax", ["eximrcptmax.lab.test"], "recipients_max = 2")
    start_exim(lab, "exim-rcptmaxreject", ["eximrcptmaxreject.lab.test"],
               "recipients_max = 2\nrecipients_max_reject = true")
    start_exim(lab, "exim-mailacl", ["eximmailacl.lab.test"], "acl_smtp_mail = acl_check_mail",
               extra_acls="acl_check_mail:\n  deny    hosts = 127.0.0.0/8\n  accept\n\n")
    start_exim(lab, "exim-heloverify", ["eximheloverify.lab.test"], "helo_verify_hosts = *")


def start_exim_debian(lab: Lab) -> None:
    """Exim with Debian's exim4-config template as it ships, for an "internet site" (update-exim4.conf's
    dc_eximconfig_configtype='internet'): the macros update-exim4.conf seeds are set before it, and only the
    paths that would touch the machine's own mail system (spool, logs, pid, CONFDIR) and the lab's address
    and port are changed. TLS is off, as Debian ships it (MAIN_TLS_ENABLE unset). Local users are the
    machine's accounts (check_local_user), postmaster an alias of root (/etc/aliases, seen as the lab's)."""
    host = "exim-debian"
    root = lab.root / host
    for sub in ("spool", "log", "conf"):
        (root / sub).mkdir(parents=True)
        shutil.chown(root / sub, "Debian-exim", "Debian-exim")
    aliases = root / "aliases"
    aliases.write_text(DEBIAN_ALIASES)
    aliases.chmod(0o644)
    template = debian_exim_template()
    assert template is not None
    domain = "eximdeb.lab.test"
    macros = {  # update-exim4.conf's seed_macro calls, for dc_eximconfig_configtype='internet'
        "CONFDIR": str(root / "conf"), "SPOOLDIR": str(root / "spool"),
        "MAIN_LOCAL_INTERFACES": lab.ip(host), "MAIN_LOCAL_DOMAINS": f"@:localhost:{domain}",
        "MAIN_RELAY_TO_DOMAINS": "", "ETC_MAILNAME": domain, "LOCAL_DELIVERY": "mail_spool",
        "MAIN_RELAY_NETS": ": 127.0.0.1 : ::::1", "DCreadhost": "", "DCsmarthost": "",
        "DC_eximconfig_configtype": "internet", "DCconfig_internet": "1",
        "MAIN_HARDCODE_PRIMARY_HOSTNAME": lab.mx_name(host),
    }
    header = "".join(f"{name} = {value}\n" for name, value in macros.items())
    header += (f"daemon_smtp_ports = {lab.port}\nlog_file_path = {root / 'log'}/%slog\n"
               f"pid_file_path = {root / 'exim.pid'}\nqueue_only = true\n")
    text = header + template.read_text()  # before it: CONFDIR is defined there unless already defined
    config = root / "configure"
    config.write_text(text)
    binary = exim_binary()
    assert binary is not None
    have_aliases = Path("/etc/aliases").exists()
    process = lab._spawn(host, lab._own_resolver([binary, "-C", str(config), "-bdf"],
                                                   aliases if have_aliases else None), root / "stderr.log")
    try:
        wait_for_port(host, lab.ip(host), lab.port, root / "stderr.log", process)
    except LabError as exc:
        raise LabError(f"{exc}\n{_tail(root / 'log' / 'mainlog')}") from None

# -- shut-down -------------------------------------------------------------------------------
