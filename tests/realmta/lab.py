"""The real-MTA lab: real Postfix (with postscreen), Exim and postgrey on loopback, a FakeDNS zone pointing at them.

Everything of the lab lives under one temporary directory and on one random 127.X.Y.0/24 block, all
servers on one free port (the probe's --port applies to every MX host): the machine's own mail system
is never read, written or signalled, and two lab runs at once (two test sessions) do not meet. The
daemons resolve names through the lab's FakeDNS too (HELO names, sender domains, DNSBLs): each runs in a
mount namespace of its own where /etc/resolv.conf names the FakeDNS, which also answers on port 53 of
its address for them; the machine's resolver is never asked.

    lab = Lab.start(tmp_dir)            # raises LabError (one line and the log tail) when a daemon fails
    lab.resolver()                      # a dnspython resolver asking the lab's FakeDNS
    lab.stop()

Scenarios (domain -> what answers there) are in SCENARIOS below; tests/realmta/conftest.py says how to
add one.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe.dns.resolve import make_resolver
from probe.model import ProbeOptions, Report
from probe.testing.certs import TestCA, self_signed
from probe.testing.fakedns import FakeDNS

from mtaconf import Listener, exim_configure, postfix_main_cf, postfix_master_cf, texthash

# what every lab probe uses unless a test says otherwise (the lab's zone, short bounds, no MTA-STS/TLS-RPT fetch)
LAB_OPTIONS = ProbeOptions(helo="probe.lab.test", timeout_s=5.0, deadline_s=30.0, tls_policies=False)

DAEMON_DNS_PORT = 53  # the lab's FakeDNS answers here too, for the daemons (resolv.conf names no port)
START_TIMEOUT_S = 20.0  # each daemon must listen within this (they take well under a second)
SUBMISSION_PORT = 587  # postfix-submission listens there (RFC 6409), not on the lab's port
GREYLIST_DELAY_S = 2  # postgrey --delay: a retry after this passes
EXIM_CANDIDATES = ("exim4", "exim", "/opt/smtp-probe-lab/usr/sbin/exim4")  # the last: tests/realmta/install.sh
# Debian's exim4-config, its one-file template (update-exim4.conf.template builds it from conf.d/); install.sh
# unpacks the package there (it would configure the machine's own Exim if installed)
DEBIAN_EXIM_TEMPLATES = ("/opt/smtp-probe-lab/etc/exim4/exim4.conf.template", "/etc/exim4/exim4.conf.template")
# Debian's /etc/aliases as exim4-config's and postfix's postinst write it when there is none
DEBIAN_ALIASES = "# See man 5 aliases for format\npostmaster:    root\n"
INSTALL_HINT = ("real-MTA lab tests skipped (Postfix, Exim or postgrey missing, or not root): "
                "install them with `sudo bash tests/realmta/install.sh`")

# host label -> last octet of its address in the lab's /24
HOSTS = {
    "dns": 1, "postgrey": 2,
    "postfix": 10, "postfix-novrfy": 11, "postscreen": 12, "postfix-grey": 13, "postscreen-pregreet": 14,
    "postfix-strict": 15, "postfix-early": 16, "postfix-verify": 17, "postfix-limit": 18, "postfix-rate": 19,
    "exim": 20, "exim-strict": 21, "exim-verify": 22, "postscreen-dnsbl": 25, "postscreen-deep": 26,
    "tls-valid": 30, "tls-expired": 31, "tls-wrongname": 32, "tls-selfsigned": 33,
    "exim-nopipe": 41, "postfix-encrypt": 42, "postfix-ptr": 43, "postfix-errors": 44,
    "postfix-noutf8": 45, "postfix-encrypt-old": 46, "postfix-soft": 47, "postfix-defer": 48, "postfix-vsender": 49, "exim-max": 51,
    "exim-admin": 52, "exim-debian": 53,
    "postfix-size": 75, "postfix-senders": 76, "postfix-revptr": 77, "postfix-policy": 78, "postfix-rfc821": 79,
    "postfix-nopipe": 80, "postfix-anyuser": 81, "postfix-authonly": 82, "postfix-softpolicy": 83, "postscreen-bare": 27,
    "postfix-forbid": 84, "postfix-earlypolicy": 85,
    "postfix-access": 60, "postfix-backup": 61, "postfix-backupopen": 62, "postfix-submission": 63, "postfix-rhsbl": 64,
    "postfix-debian": 70, "postfix-450": 71, "postfix-tls13": 72, "postfix-ccert": 73, "postfix-askccert": 74,
    # an Exim admin's policies (tests/realmta/test_lab_exim_policy.py); postgrey with a whitelisted client
    "exim-policy": 90, "exim-closed": 91, "exim-dropped": 92, "exim-perhost": 93, "exim-heloverify": 94,
    "postgrey-white": 95, "postfix-greywhite": 96, "client-noptr": 97,  # a source address for the probe (no PTR)
    "exim-mailacl": 99, "exim-hostreject": 100, "exim-rcptmax": 101, "exim-rcptmaxreject": 102,
    "nowhere": 98,
}
# exim-policy's statements (Lab._start_exim_policies): domain -> (ACL verb, its conditions and message)
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
# domain (under lab.test) -> its MX hosts, in preference order
SCENARIOS: dict[str, list[str]] = {
    "pf": ["postfix"],  # alice, bob known; full (452), disabled (5.2.1); VRFY on
    "novrfy": ["postfix-novrfy"],  # same users, disable_vrfy_command = yes (502)
    "screened": ["postscreen"],  # postscreen drops 127.0.0.0/8 (521)
    "grey": ["postfix-grey"],  # the pf users behind postgrey (--delay GREYLIST_DELAY_S): vary the sender per test
    "catchall": ["postfix"],  # every local part accepted (virtual alias @catchall.lab.test)
    "screenedfirst": ["postscreen", "postfix"],  # the primary postscreen drops us (521); the backup hosts alice
    "twomx": ["postfix", "exim"],  # Postfix hosts it; Exim, the backup, says "550 relay not permitted"
    "exim": ["exim"],  # alice, bob known; stock limits; VRFY 252
    "eximstrict": ["exim-strict"],  # as exim, but smtp_accept_max_nonmail = 2
    "strict": ["postfix-strict"],  # pf users; HELO must be a FQDN with an A or MX, the sender's domain must exist
    "early": ["postfix-early"],  # as strict, with smtpd_delay_reject = no (the HELO refused at EHLO, not at RCPT)
    "verify": ["postfix-verify"],  # Postfix relays to exim-verify, reject_unverified_recipient (its verify probes)
    "limit": ["postfix-limit"],  # pf users, smtpd_recipient_limit = 2
    "rate": ["postfix-rate"],  # pf users, smtpd_client_connection_rate_limit = 1 (anvil)
    "listed": ["postscreen-dnsbl"],  # postscreen finds 127.0.0.1 on bl.lab.test (enforce: 550 at RCPT)
    "deep": ["postscreen-deep"],  # postscreen's after-greeting tests (pipelining): the first session gets 450
    "callout": ["exim-verify"],  # Exim routes it to Postfix (pf users) and verifies recipients by callout
    "deferred": ["exim-verify"],  # Exim's RCPT ACL says a bare "defer" for it
    "eximnopipe": ["exim-nopipe"],  # as exim, no PIPELINING advertised (smtp_enforce_sync = true, the default)
    "encrypt": ["postfix-encrypt"],  # pf users, smtpd_tls_security_level = encrypt (530 in plain text)
    "encryptold": ["postfix-encrypt-old"],  # as encrypt, TLS 1.1 at most: no handshake with a TLS 1.2+ client
    "ptr": ["postfix-ptr"],  # pf users, reject_unknown_client_hostname (the lab's DNS has no PTR: 450 4.7.25)
    "errors": ["postfix-errors"],  # pf users, smtpd_hard_error_limit = 2 (421 at the third error)
    "noutf8": ["postfix-noutf8"],  # pf users, smtputf8_enable = no (no SMTPUTF8 advertised)
    "soft": ["postfix-soft"],  # pf users, soft_bounce = yes (every 5xx of smtpd said as 4xx)
    "vsender": ["postfix-vsender"],  # pf users, reject_unverified_sender; unreach: reject_unverified_recipient
    "unreach": ["postfix-vsender"],  # Postfix relays to "nowhere" (nothing listens there)
    "eximmax": ["exim-max"],  # as exim, smtp_accept_max = 1
    "access": ["postfix-access"],  # pf users; access(5) DISCARD for void@, REJECT for the null sender <>
    "backup": ["nowhere", "postfix-backup"],  # the primary is down; the backup relays alice and postmaster only
    "backupopen": ["nowhere", "postfix-backupopen"],  # the same backup without relay_recipient_maps: any address
    "rhsbl": ["postfix-rhsbl"],  # pf users; reject_rhsbl_sender dbl.lab.test, which lists pf.lab.test
    "eximadmin": ["exim-admin"],  # Exim, an admin's aliases (:fail:, :defer:, :blackhole:) and acl_smtp_vrfy
    "eximlisted": ["exim-admin"],  # the same Exim's RCPT ACL denies clients on bl.lab.test, with $dnslist_text
    "eximdeb": ["exim-debian"],  # Exim with Debian's exim4-config as shipped (internet site); users: /etc/passwd
    # exim-policy: one Exim, one RCPT ACL statement a domain (Lab._start_exim_policy says each)
    **{d: ["exim-policy"] for d in EXIM_POLICY_DOMAINS},
    "eximclosed": ["exim-closed"], "eximdropped": ["exim-dropped"],  # acl_smtp_connect deny / drop for 127.0.0.0/8
    "eximperhost": ["exim-perhost"],  # smtp_accept_max_per_host = 1
    "eximhostreject": ["exim-hostreject"],  # host_reject_connection = 127.0.0.0/8
    "eximrcptmax": ["exim-rcptmax"], "eximrcptmaxreject": ["exim-rcptmaxreject"],  # recipients_max = 2 (_reject)
    "eximmailacl": ["exim-mailacl"],  # acl_smtp_mail: deny hosts = 127.0.0.0/8 (the MAIL command refused)
    "eximheloverify": ["exim-heloverify"],  # helo_verify_hosts = *
    "greywhite": ["postfix-greywhite"],  # pf users behind a postgrey whose client whitelist holds 127.0.0.0/8
    "down": ["nowhere"],  # its one MX host runs no mail server (connection refused)
    "debian": ["postfix-debian"],  # Postfix as Debian configures it: mynetworks 127.0.0.0/8 (the probe is in it)
    "relayed": ["postfix-debian"],  # the same host, a domain it does not serve (a trusted client may relay)
    "soft450": ["postfix-450"],  # pf users, unknown_local_recipient_reject_code = 450
    "sized": ["postfix-size"], "senders": ["postfix-senders"], "revptr": ["postfix-revptr"],
    "policy": ["postfix-policy"], "rfc821": ["postfix-rfc821"], "nopipe": ["postfix-nopipe"],
    "anyuser": ["postfix-anyuser"], "authonly": ["postfix-authonly"], "softpolicy": ["postfix-softpolicy"],
    "bare": ["postscreen-bare"], "forbid": ["postfix-forbid"],
    "earlypolicy": ["postfix-earlypolicy"],
    "tls13": ["postfix-tls13"], "ccert": ["postfix-ccert"], "askccert": ["postfix-askccert"],
    "tls-valid": ["tls-valid"], "tls-expired": ["tls-expired"],
    "tls-wrongname": ["tls-wrongname"], "tls-selfsigned": ["tls-selfsigned"],
}
USERS = ("alice", "bob", "full", "disabled")
POSTFIX_ACCESS = {  # RFC 3463's names for X.2.2 and X.2.1, in access(5) form
    "full@pf.lab.test": "452 4.2.2 Mailbox full",
    "disabled@pf.lab.test": "550 5.2.1 Mailbox disabled, not accepting messages",
}

# access(5) actions without text (Postfix words the replies) on policy.lab.test (and softpolicy.lab.test, the same
# with soft_bounce = yes): check_client_access keyed on the probe's source address (its last octet in the lab's
# block), check_sender_access on its MAIL FROM
CLIENT_ACTIONS = {200: "REJECT", 201: "DEFER", 206: "DISCARD"}
SENDER_ACTIONS = {"reject@probe.lab.test": "REJECT", "hold@probe.lab.test": "HOLD", "warn@probe.lab.test": "WARN",
                  "filter@probe.lab.test": "FILTER smtp:[192.0.2.1]:25"}


LabProbe = Callable[..., Awaitable[Report]]  # the lab_probe fixture (tests/realmta/conftest.py)


class LabError(RuntimeError):
    """A lab daemon did not start: one line saying which and why, then its log's last lines."""


def missing_tools() -> str | None:
    """Why the lab cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "not root"
    for tool in ("/usr/sbin/postfix", "/usr/lib/postfix/sbin/postscreen", "/usr/sbin/postgrey"):
        if not Path(tool).exists():
            return f"{tool} missing"
    if exim_binary() is None:
        return "exim missing"
    for plugin in ("libplain.so", "libsasldb.so"):  # Cyrus SASL's, for the submission service's AUTH
        if not glob.glob(f"/usr/lib/*/sasl2/{plugin}*"):
            return f"Cyrus SASL plugin {plugin} missing"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) missing"
    if not _bindable("127.53.53.1", DAEMON_DNS_PORT):
        return f"port {DAEMON_DNS_PORT} on loopback is taken (a DNS server on a wildcard address?)"
    for user in ("postfix", "postgrey", "Debian-exim"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"user {user} missing"
    return None


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


def _free_block_and_port() -> tuple[str, int]:
    """A random 127.X.Y block and one port free on every lab address of it (TCP; UDP too for DNS)."""
    rng = random.SystemRandom()
    for _ in range(50):
        block = f"127.{rng.randrange(20, 250)}.{rng.randrange(1, 250)}"
        with socket.socket() as probe_socket:
            probe_socket.bind((f"{block}.{HOSTS['dns']}", 0))
            port = probe_socket.getsockname()[1]
        if all(_bindable(f"{block}.{octet}", port) for octet in HOSTS.values()) and _bindable(
                f"{block}.{HOSTS['dns']}", DAEMON_DNS_PORT) and _bindable(
                f"{block}.{HOSTS['postfix-submission']}", SUBMISSION_PORT):
            return block, port
    raise LabError("no free loopback block and port for the lab")


def _bindable(ip: str, port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((ip, port))
            except OSError:
                return False
    return True


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def wait_for_port(name: str, ip: str, port: int, log: Path, process: subprocess.Popen[bytes] | None = None,
                  timeout_s: float = START_TIMEOUT_S) -> None:
    """Poll until `ip`:`port` accepts a connection; LabError (with the log tail) on exit or timeout."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if process is not None and process.poll() is not None:
            raise LabError(f"{name} exited with status {process.returncode} before listening on {ip}:{port}\n"
                           + _tail(log))
        try:
            with socket.create_connection((ip, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise LabError(f"{name} did not listen on {ip}:{port} within {timeout_s:g} s\n" + _tail(log))


class _DnsThread:
    """FakeDNS serving the lab zone from a thread of its own (the lab outlives each test's event loop)."""

    def __init__(self, zone: str, ip: str, port: int, daemons_zones: dict[str, str] | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = FakeDNS({"lab.test.": zone})
        self.daemons_server = FakeDNS({"lab.test.": zone, **(daemons_zones or {})})  # on DAEMON_DNS_PORT
        ready = threading.Event()
        self.error: BaseException | None = None

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self.server.start(ip, port))
                self.loop.run_until_complete(self.daemons_server.start(ip, DAEMON_DNS_PORT))
            except BaseException as exc:  # reported by the constructor below
                self.error = exc
                ready.set()
                return
            ready.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self.server.aclose())
            self.loop.run_until_complete(self.daemons_server.aclose())
            self.loop.close()

        self.thread = threading.Thread(target=run, name="lab-dns", daemon=True)
        self.thread.start()
        if not ready.wait(START_TIMEOUT_S) or self.error is not None:
            raise LabError(f"the lab's FakeDNS did not start on {ip}:{port}: {self.error}")

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(START_TIMEOUT_S)


@dataclass
class Lab:
    """A running lab: where each host listens, the CA its certificates come from, how to stop it."""

    root: Path
    block: str
    port: int
    ca: TestCA
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    stoppers: list[list[str]] = field(default_factory=list)
    dns: _DnsThread | None = None

    def ip(self, host: str) -> str:
        return f"{self.block}.{HOSTS[host]}"

    @property
    def dns_address(self) -> tuple[str, int]:
        return (self.ip("dns"), self.port)

    def resolver(self, timeout_s: float = 2.0) -> Any:
        return make_resolver([self.dns_address], timeout_s=timeout_s)

    def mx_name(self, host: str) -> str:
        return f"mx.{host}.lab.test"

    def exim_log(self, host: str = "exim") -> str:
        """An Exim daemon's main log so far (what it says about each connection)."""
        path = self.root / host / "log" / "mainlog"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- start-up --------------------------------------------------------------------------------

    @classmethod
    def start(cls, root: Path) -> Lab:
        block, port = _free_block_and_port()
        lab = cls(root, block, port, TestCA(root / "ca", name="smtp-probe lab CA"))
        try:
            lab.dns = _DnsThread(lab.zone(), lab.ip("dns"), port, {lab.reverse_origin(): lab.reverse_zone()})
            lab._start_postgrey()
            lab._start_postgrey_whitelisting()
            lab._start_postfix()
            lab._start_exim("exim", ["exim.lab.test"])
            lab._start_exim("exim-nopipe", ["eximnopipe.lab.test"], "pipelining_advertise_hosts = :")
            lab._start_exim("exim-max", ["eximmax.lab.test"], "smtp_accept_max = 1")
            lab._start_exim("exim-strict", ["eximstrict.lab.test"], "smtp_accept_max_nonmail = 2")
            lab._start_exim("exim-verify", ["verify.lab.test", "callout.lab.test", "deferred.lab.test"],
                            acl="  defer   domains = deferred.lab.test\n", verify="recipient/callout=5s",
                            routers=("to_postfix:\n  driver = manualroute\n  domains = callout.lab.test\n"
                                     f"  route_list = * {lab.ip('postfix')}\n  transport = remote_smtp\n\n"),
                            transports=f"\nremote_smtp:\n  driver = smtp\n  port = {port}\n")
            lab._start_exim_admin()
            lab._start_exim_policies()
            if debian_exim_template() is not None:
                lab._start_exim_debian()
        except BaseException:
            lab.stop()
            raise
        return lab

    def zone(self) -> str:
        lines = ["$TTL 60", "@ SOA ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 60",
                 f"ns A {self.ip('dns')}",
                 "1.0.0.127.bl A 127.0.0.2",  # the DNSBL bl.lab.test lists 127.0.0.1 (the probe's source)
                 # with SpamCop's TXT wording (what `dig TXT 2.0.0.127.bl.spamcop.net` answers for its test entry)
                 '1.0.0.127.bl TXT "Blocked - see https://www.spamcop.net/bl.shtml?127.0.0.1"',
                 "pf.lab.test.dbl A 127.0.1.2"]  # the domain list (RHSBL) dbl.lab.test lists pf.lab.test
        lines += [f"mx.{host} A {self.ip(host)}" for host in HOSTS]
        # dual.lab.test: the Postfix of pf.lab.test over IPv4, and an AAAA record (::1) where nothing listens
        lines += [f"mx.dual A {self.ip('postfix')}", "mx.dual AAAA ::1", "dual MX 10 mx.dual.lab.test."]
        for domain, hosts in SCENARIOS.items():
            lines += [f"{domain} MX {10 * (i + 1)} mx.{host}.lab.test." for i, host in enumerate(hosts)]
        # MX walks SCENARIOS cannot say: equal preferences, a CNAME target, no MX (implicit), one host with two A
        lines += ["samepref MX 10 mx.nowhere.lab.test.", "samepref MX 10 mx.postfix.lab.test.",
                  "samepreflive MX 10 mx.postfix.lab.test.", "samepreflive MX 10 mx.postfix-askccert.lab.test.",
                  "cnamemx MX 10 alias.cnamemx.lab.test.", "alias.cnamemx CNAME mx.postfix.lab.test.",
                  f"implicit A {self.ip('postfix')}",
                  "split MX 10 mx.split.lab.test.", f"mx.split A {self.ip('nowhere')}", f"mx.split A {self.ip('postfix')}"]
        return "\n".join(lines) + "\n"

    def reverse_origin(self) -> str:
        return ".".join(reversed(self.block.split("."))) + ".in-addr.arpa."

    def reverse_zone(self) -> str:
        """The lab block's reverse zone, for the daemons only (the probe's own resolver is not given it): no PTR
        record at all, so a daemon's reverse lookup of a lab address (the probe bound to CLIENT_NO_PTR) gets
        NXDOMAIN, as for a client without reverse DNS; 127.0.0.1's lookup stays REFUSED (not in any zone)."""
        return "$TTL 60\n@ SOA ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 60\n@ NS ns.lab.test.\n"

    def _cert(self, host: str, *, expired: bool = False, name: str | None = None) -> tuple[Path, Path]:
        issued = self.ca.issue([name or self.mx_name(host)], expired=expired)
        return self.ca.write(issued, host)

    def _own_resolver(self, argv: list[str], aliases: Path | None = None) -> list[str]:
        """`argv` in a mount namespace of its own where /etc/resolv.conf names the lab's FakeDNS (port 53 of
        its address): the daemon's DNS lookups (HELO names, sender domains, DNSBLs) get the lab's zone,
        never the machine's resolver; the machine's own /etc/resolv.conf is not touched. `aliases`, when
        given, is seen as /etc/aliases there (Debian's Exim reads that path), if the machine has one to cover."""
        conf = self.root / "resolv.conf"
        if not conf.exists():
            conf.write_text(f"nameserver {self.ip('dns')}\noptions timeout:2 attempts:1\n")
            conf.chmod(0o644)
        binds = 'mount --bind "$0" /etc/resolv.conf'
        if aliases is not None:
            binds += f' && mount --bind {aliases} /etc/aliases'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                binds + ' && exec "$@"', str(conf), *argv]

    def _spawn(self, name: str, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes.append((name, process))
        return process

    def _start_postgrey(self, label: str = "postgrey", *extra: str) -> None:
        directory = self.root / label
        (directory / "db").mkdir(parents=True)
        shutil.chown(directory / "db", "postgrey", "postgrey")
        log = directory / "postgrey.log"
        ip = self.ip(label)
        process = self._spawn(label, [
            "/usr/sbin/postgrey", f"--inet={ip}:{self.port}", f"--delay={GREYLIST_DELAY_S}",
            f"--dbdir={directory / 'db'}", "--user=postgrey", "--group=postgrey", "--auto-whitelist-clients=0",
            f"--pidfile={directory / 'postgrey.pid'}", "--verbose", *extra,
        ], log)
        wait_for_port(label, ip, self.port, log, process)

    def _start_postgrey_whitelisting(self) -> None:
        """A second postgrey whose client whitelist (--whitelist-clients, postgrey's own file format: an IPv4
        network) holds the lab's client addresses, as an admin lists a trusted relay: it greylists nobody here."""
        listed = self.root / "postgrey-whitelist-clients"
        listed.write_text("127.0.0.0/8\n")
        listed.chmod(0o644)
        self._start_postgrey("postgrey-white", f"--whitelist-clients={listed}")

    def _start_postfix(self) -> None:
        root = self.root / "postfix"
        (root / "etc").mkdir(parents=True)
        (root / "maps").mkdir()
        (root / "queue").mkdir()
        alias_domains = ["catchall.lab.test"]
        local_domains = [f"{d}.lab.test" for d in ("pf", "novrfy", "screened", "screenedfirst", "grey", "twomx", "tls-valid",
                                                   "tls-expired", "tls-wrongname", "tls-selfsigned", "strict",
                                                   "early", "limit", "rate", "listed", "deep", "callout",
                                                   "encrypt", "encryptold", "ptr", "errors", "noutf8", "soft",
                                                   "vsender", "access", "rhsbl",
                                                   "debian", "soft450", "tls13", "ccert", "askccert",
                                                   "samepref", "cnamemx", "implicit", "split", "dual", "greywhite",
                                                   "sized", "senders", "revptr", "policy", "rfc821", "nopipe",
                                                   "anyuser", "authonly", "softpolicy", "bare", "forbid",
                                                   "earlypolicy", "samepreflive")]
        main = postfix_main_cf(root, hostname=self.mx_name("postfix"), local_domains=local_domains,
                               alias_domains=alias_domains, cert=self._cert("postfix"),
                               relay_domains=("verify.lab.test", "unreach.lab.test", "backup.lab.test",
                                              "backupopen.lab.test"))
        strict = ("smtpd_helo_required=yes",
                  "smtpd_helo_restrictions=reject_non_fqdn_helo_hostname,reject_unknown_helo_hostname",
                  "smtpd_sender_restrictions=reject_unknown_sender_domain")
        policy = f"inet:{self.ip('postgrey')}:{self.port}"
        policy_maps = (f"smtpd_client_restrictions=check_client_access,texthash:{root / 'maps' / 'clients'}",
                       f"smtpd_sender_restrictions=check_sender_access,texthash:{root / 'maps' / 'sender-actions'}")
        listeners = [
            Listener(self.ip("postfix")),
            Listener(self.ip("postfix-novrfy"), ("disable_vrfy_command=yes",)),
            Listener(self.ip("postscreen"), (f"postscreen_access_list=cidr:{root / 'maps' / 'postscreen'}",
                                             "postscreen_denylist_action=drop"), postscreen=True),
            Listener(self.ip("postscreen-pregreet"), (  # two postscreens cannot share one cache map
                "postscreen_greet_action=drop", "postscreen_cache_map=btree:$data_directory/postscreen_pregreet"),
                postscreen=True),
            Listener(self.ip("postfix-grey"), (
                f"smtpd_recipient_restrictions=reject_unauth_destination,check_policy_service,{policy}",)),
            Listener(self.ip("postfix-greywhite"), ("smtpd_recipient_restrictions=reject_unauth_destination,"
                                                    f"check_policy_service,inet:{self.ip('postgrey-white')}:{self.port}",)),
            Listener(self.ip("postfix-strict"), strict),
            Listener(self.ip("postfix-early"), (*strict, "smtpd_delay_reject=no")),
            Listener(self.ip("postfix-verify"), (  # one look at the verify service per RCPT: no waiting;
                # 450 while its probe runs, then 550 for an address the next hop refused (the default is 450)
                "smtpd_recipient_restrictions=reject_unauth_destination,reject_unverified_recipient",
                "address_verify_poll_count=1", "unverified_recipient_reject_code=550")),
            Listener(self.ip("postfix-limit"), ("smtpd_recipient_limit=2",)),
            Listener(self.ip("postfix-rate"), ("smtpd_client_connection_rate_limit=1",)),
            Listener(self.ip("postscreen-dnsbl"), (
                "postscreen_dnsbl_sites=bl.lab.test", "postscreen_dnsbl_threshold=1",
                "postscreen_dnsbl_action=enforce", "postscreen_greet_wait=1s",
                "postscreen_cache_map=btree:$data_directory/postscreen_dnsbl"), postscreen=True),
            Listener(self.ip("postscreen-deep"), (
                "postscreen_pipelining_enable=yes", "postscreen_greet_wait=1s",
                "postscreen_cache_map=btree:$data_directory/postscreen_deep"), postscreen=True),
            Listener(self.ip("postfix-encrypt"), ("smtpd_tls_security_level=encrypt",)),
            Listener(self.ip("postfix-encrypt-old"), ("smtpd_tls_security_level=encrypt",
                                                      "smtpd_tls_mandatory_protocols=<=TLSv1.1")),
            Listener(self.ip("postfix-ptr"), ("smtpd_peername_lookup=yes",
                                              "smtpd_client_restrictions=reject_unknown_client_hostname")),
            Listener(self.ip("postfix-errors"), ("smtpd_hard_error_limit=2",)),
            Listener(self.ip("postfix-noutf8"), ("smtputf8_enable=no",)),
            Listener(self.ip("postfix-soft"), ("soft_bounce=yes",)),
            # Postfix's default relay check (postconf -d smtpd_relay_restrictions): 454 for a domain it does not serve
            Listener(self.ip("postfix-defer"), (
                "smtpd_relay_restrictions=permit_mynetworks,permit_sasl_authenticated,defer_unauth_destination",)),
            Listener(self.ip("postfix-vsender"), (
                "smtpd_sender_restrictions=reject_unverified_sender",
                "smtpd_recipient_restrictions=reject_unauth_destination,reject_unverified_recipient",
                "address_verify_poll_count=1")),
            # access(5) actions without text (Postfix words the replies); "<>": smtpd_null_access_lookup_key
            Listener(self.ip("postfix-access"), (
                f"smtpd_sender_restrictions=check_sender_access,texthash:{root / 'maps' / 'senders'}",
                f"smtpd_recipient_restrictions=check_recipient_access,texthash:{root / 'maps' / 'rcpt-actions'}")),
            # a backup MX (relay_domains in main.cf: trivial-rewrite reads it there) with and without the list of
            # the recipients it may relay (relay_recipient_maps, read by smtpd)
            Listener(self.ip("postfix-backup"), (f"relay_recipient_maps=texthash:{root / 'maps' / 'relay-rcpt'}",)),
            Listener(self.ip("postfix-backupopen"), ("relay_recipient_maps=",)),
            # the submission service of Postfix's master.cf (/usr/share/postfix/master.cf.dist), as it ships:
            # SASL (Cyrus, its sasldb: AUTH offered, nobody can log in), AUTH only under TLS
            Listener(self.ip("postfix-submission"), (
                "smtpd_tls_security_level=encrypt", "smtpd_sasl_auth_enable=yes", "smtpd_tls_auth_only=yes",
                "smtpd_reject_unlisted_recipient=no", f"cyrus_sasl_config_path={root / 'sasl'}",
                "smtpd_client_restrictions=", "smtpd_helo_restrictions=", "smtpd_sender_restrictions=",
                "smtpd_relay_restrictions=", "smtpd_recipient_restrictions=permit_sasl_authenticated,reject"),
                port=SUBMISSION_PORT),
            Listener(self.ip("postfix-rhsbl"), ("smtpd_sender_restrictions=reject_rhsbl_sender,dbl.lab.test",)),
            Listener(self.ip("postfix-debian"), (
                "mynetworks=127.0.0.0/8",
                "smtpd_relay_restrictions=permit_mynetworks,permit_sasl_authenticated,defer_unauth_destination",
                "smtpd_recipient_restrictions=", "recipient_delimiter=+", *self._tls_options("postfix-debian"))),
            Listener(self.ip("postfix-450"), ("unknown_local_recipient_reject_code=450", *self._tls_options("postfix-450"))),
            Listener(self.ip("postfix-tls13"), ("smtpd_tls_protocols=>=TLSv1.3", "smtpd_tls_mandatory_protocols=>=TLSv1.3",
                                              *self._tls_options("postfix-tls13"))),
            Listener(self.ip("postfix-ccert"), ("smtpd_tls_security_level=encrypt", "smtpd_tls_req_ccert=yes",
                                              *self._tls_options("postfix-ccert"))),
            Listener(self.ip("postfix-askccert"), ("smtpd_tls_ask_ccert=yes", *self._tls_options("postfix-askccert"))),
            Listener(self.ip("postfix-size"), ("message_size_limit=1048576",)),
            Listener(self.ip("postfix-senders"), (
                "smtpd_reject_unlisted_sender=yes", "smtpd_sender_restrictions=reject_non_fqdn_sender",
                f"smtpd_recipient_restrictions=reject_non_fqdn_recipient,check_recipient_access,texthash:{root / 'maps' / 'access'}")),
            Listener(self.ip("postfix-revptr"), ("smtpd_peername_lookup=yes",
                                                 "smtpd_client_restrictions=reject_unknown_reverse_client_hostname")),
            Listener(self.ip("postfix-policy"), policy_maps),
            Listener(self.ip("postfix-softpolicy"), (*policy_maps, "soft_bounce=yes")),
            Listener(self.ip("postfix-earlypolicy"), (*policy_maps, "smtpd_delay_reject=no")),
            Listener(self.ip("postfix-rfc821"), ("strict_rfc821_envelopes=yes", "smtpd_helo_required=yes")),
            Listener(self.ip("postfix-nopipe"), ("smtpd_discard_ehlo_keywords=pipelining",
                                                 "smtpd_sender_restrictions=reject_unauth_pipelining",
                                                 "smtpd_data_restrictions=reject_unauth_pipelining")),
            Listener(self.ip("postfix-anyuser"), ("local_recipient_maps=",)),
            Listener(self.ip("postfix-forbid"), ("smtpd_forbid_unauth_pipelining=yes",)),
            Listener(self.ip("postfix-authonly"), ("smtpd_sasl_auth_enable=yes", "smtpd_tls_auth_only=yes",
                                                   f"cyrus_sasl_config_path={root / 'sasl'}")),
            Listener(self.ip("postscreen-bare"), (
                "postscreen_bare_newline_enable=yes", "postscreen_non_smtp_command_enable=yes",
                "postscreen_greet_wait=1s", "postscreen_cache_map=btree:$data_directory/postscreen_bare"),
                postscreen=True),
            Listener(self.ip("tls-valid"), self._tls_options("tls-valid")),
            Listener(self.ip("tls-expired"), self._tls_options("tls-expired", expired=True)),
            Listener(self.ip("tls-wrongname"), self._tls_options("tls-wrongname", name="mx.elsewhere.test")),
            Listener(self.ip("tls-selfsigned"), self._tls_options("tls-selfsigned", selfsigned=True)),
        ]
        (root / "etc" / "main.cf").write_text(main)
        (root / "etc" / "master.cf").write_text(postfix_master_cf(listeners, self.port))
        # postmaster too, as on every installed Postfix (its aliases file's "postmaster: root"; RFC 5321 §4.5.1)
        (root / "maps" / "recipients").write_text(texthash({u: "ok" for u in (*USERS, "postmaster")}))
        (root / "maps" / "access").write_text(texthash(POSTFIX_ACCESS))
        (root / "maps" / "virtual").write_text(texthash({f"@{d}": "alice@pf.lab.test" for d in alias_domains}))
        (root / "maps" / "postscreen").write_text("127.0.0.0/8 reject\n")
        (root / "maps" / "rcpt-actions").write_text(texthash({
            "void@access.lab.test": "DISCARD"}))
        (root / "maps" / "clients").write_text(texthash({f"{self.block}.{octet}": action
                                                          for octet, action in CLIENT_ACTIONS.items()}))
        (root / "maps" / "sender-actions").write_text(texthash(SENDER_ACTIONS))
        (root / "maps" / "senders").write_text(texthash({"<>": "REJECT"}))
        (root / "maps" / "relay-rcpt").write_text(texthash({"alice@backup.lab.test": "ok",
                                                            "postmaster@backup.lab.test": "ok"}))
        (root / "sasl").mkdir()
        (root / "sasl" / "smtpd.conf").write_text(f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                                                  f"sasldb_path: {root / 'sasl' / 'sasldb2'}\n"
                                                  "mech_list: PLAIN LOGIN\n")
        (root / "maps" / "transport").write_text(texthash({
            "verify.lab.test": f"smtp:[{self.ip('exim-verify')}]:{self.port}",
            "unreach.lab.test": f"smtp:[{self.ip('nowhere')}]:{self.port}",
            "backup.lab.test": f"smtp:[{self.ip('nowhere')}]:{self.port}",
            "backupopen.lab.test": f"smtp:[{self.ip('nowhere')}]:{self.port}"}))
        log = root / "postfix.log"
        started = subprocess.run(self._own_resolver(["/usr/sbin/postfix", "-c", str(root / "etc"), "start"]),
                                 capture_output=True,
                                 timeout=START_TIMEOUT_S, check=False)
        self.stoppers.append(["/usr/sbin/postfix", "-c", str(root / "etc"), "abort"])
        if started.returncode != 0:
            raise LabError("postfix did not start: " + (started.stderr or started.stdout).decode(errors="replace")
                           + "\n" + _tail(log))
        for listener in listeners:
            wait_for_port("postfix", listener.ip, listener.port or self.port, log)

    def _tls_options(self, host: str, *, expired: bool = False, name: str | None = None,
                     selfsigned: bool = False) -> tuple[str, ...]:
        if selfsigned:
            cert_path, key_path = self.ca.write(self_signed([self.mx_name(host)]), host)
        else:
            cert_path, key_path = self._cert(host, expired=expired, name=name)
        return (f"smtpd_tls_chain_files={key_path},{cert_path}", f"myhostname={self.mx_name(host)}")

    def _start_exim(self, host: str, domains: list[str], extra_main: str = "", **acl_and_routes: str) -> None:
        root = self.root / host
        for sub in ("spool", "log", "mail"):
            (root / sub).mkdir(parents=True)
            shutil.chown(root / sub, "Debian-exim", "Debian-exim")
        (root / "users").write_text("".join(f"{u}:\n" for u in ("alice", "bob")))
        config = root / "configure"
        config.write_text(exim_configure(root, hostname=self.mx_name(host), ip=self.ip(host), port=self.port,
                                         local_domains=domains, cert=self._cert(host), extra_main=extra_main,
                                         **acl_and_routes))
        log = root / "log" / "mainlog"
        binary = exim_binary()
        assert binary is not None
        process = self._spawn(host, self._own_resolver([binary, "-C", str(config), "-bdf"]), root / "stderr.log")
        try:
            wait_for_port(host, self.ip(host), self.port, root / "stderr.log", process)
        except LabError as exc:
            raise LabError(f"{exc}\n{_tail(log)}") from None

    def _start_exim_admin(self) -> None:
        """Settings of an Exim admin: a redirect router over an aliases file with :fail: (the Exim spec's own
        example text, "Special items in redirection lists"), :defer: and :blackhole:; VRFY let through an ACL
        (acl_smtp_vrfy, so Exim verifies the address); and, for eximlisted.lab.test only, the spec's dnslists
        deny ("ACL conditions", dnslists): `message = rejected because $sender_host_address is in a black list
        at $dnslist_domain\\n$dnslist_text`."""
        aliases = self.root / "exim-admin-aliases"
        aliases.write_text("gone: :fail: Gone away, no forwarding address\n"
                           "moving: :defer:\n"
                           "void: :blackhole:\n")
        aliases.chmod(0o644)
        self._start_exim(
            "exim-admin", ["eximadmin.lab.test", "eximlisted.lab.test"], "acl_smtp_vrfy = acl_check_vrfy",
            acl=("  deny    domains = eximlisted.lab.test\n"
                 "          message = rejected because $sender_host_address is in a black list at "
                 "$dnslist_domain\\n$dnslist_text\n"
                 "          dnslists = bl.lab.test\n"),
            routers=("admin_aliases:\n  driver = redirect\n  domains = eximadmin.lab.test\n"
                     f"  data = ${{lookup{{$local_part}}lsearch{{{aliases}}}}}\n  allow_fail\n  allow_defer\n\n"),
            extra_acls="acl_check_vrfy:\n  accept\n\n")

    def _start_exim_policies(self) -> None:
        """Refusals Exim admins configure, each as they write it (sources in EXIM_POLICIES' comments).

        exim-policy: one RCPT ACL statement a domain of EXIM_POLICY_DOMAINS: deny and defer statements name their
        domain; a `require` (which denies when any condition fails) lives in an ACL of its own that lets other
        domains pass (`require acl = policy_NAME`), so the admin's statement is written as they write it. A
        ratelimit of 0 is exceeded by the first event (deterministic). message_size_limit = 10M (SIZE advertised).
        Beside it: acl_smtp_connect refusing 127.0.0.0/8 with deny (exim-closed) and drop (exim-dropped), acl_smtp_mail
        denying it (exim-mailacl),
        smtp_accept_max_per_host = 1 (exim-perhost), helo_verify_hosts = * (exim-heloverify)."""
        statements, nested = [], []
        for name, (verb, body) in EXIM_POLICIES.items():
            body = "".join(f"          {line}\n" for line in body)
            if verb == "require":
                nested.append(f"policy_{name}:\n  accept  domains = !{name}.lab.test\n  require {body.lstrip()}"
                              "  accept\n\n")
                statements.append(f"  require acl = policy_{name}\n")
            else:
                statements.append(f"  {verb:<7} domains = {name}.lab.test\n{body}")
        self._start_exim(
            "exim-policy", [f"{d}.lab.test" for d in EXIM_POLICY_DOMAINS],
            "message_size_limit = 10M\nhelo_try_verify_hosts = *", acl="".join(statements),
            extra_acls="".join(nested),
            routers="dnslookup:\n  driver = dnslookup\n  domains = ! +local_domains\n  transport = remote_smtp\n"
                    "  no_more\n\n",
            transports=f"\nremote_smtp:\n  driver = smtp\n  port = {self.port}\n")
        for host, verb in (("exim-closed", "deny"), ("exim-dropped", "drop")):
            # cPanel's connect ACL (pastebin.com/Jp8ai9Eu): "drop message = Your host is not allowed to connect to
            # this server." for its banned blocks
            self._start_exim(host, [f"{host.replace('-', '')}.lab.test"], "acl_smtp_connect = acl_check_connect",
                             extra_acls=(f"acl_check_connect:\n  {verb}    hosts = 127.0.0.0/8\n"
                                         "          message = Your host is not allowed to connect to this server.\n"
                                         "  accept\n\n"))
        self._start_exim("exim-perhost", ["eximperhost.lab.test"], "smtp_accept_max_per_host = 1")
        self._start_exim("exim-hostreject", ["eximhostreject.lab.test"], "host_reject_connection = 127.0.0.0/8")
        self._start_exim("exim-rcptmax", ["eximrcptmax.lab.test"], "recipients_max = 2")
        self._start_exim("exim-rcptmaxreject", ["eximrcptmaxreject.lab.test"],
                         "recipients_max = 2\nrecipients_max_reject = true")
        self._start_exim("exim-mailacl", ["eximmailacl.lab.test"], "acl_smtp_mail = acl_check_mail",
                         extra_acls="acl_check_mail:\n  deny    hosts = 127.0.0.0/8\n  accept\n\n")
        self._start_exim("exim-heloverify", ["eximheloverify.lab.test"], "helo_verify_hosts = *")

    def _start_exim_debian(self) -> None:
        """Exim with Debian's exim4-config template as it ships, for an "internet site" (update-exim4.conf's
        dc_eximconfig_configtype='internet'): the macros update-exim4.conf seeds are set before it, and only the
        paths that would touch the machine's own mail system (spool, logs, pid, CONFDIR) and the lab's address
        and port are changed. TLS is off, as Debian ships it (MAIN_TLS_ENABLE unset). Local users are the
        machine's accounts (check_local_user), postmaster an alias of root (/etc/aliases, seen as the lab's)."""
        host = "exim-debian"
        root = self.root / host
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
            "MAIN_LOCAL_INTERFACES": self.ip(host), "MAIN_LOCAL_DOMAINS": f"@:localhost:{domain}",
            "MAIN_RELAY_TO_DOMAINS": "", "ETC_MAILNAME": domain, "LOCAL_DELIVERY": "mail_spool",
            "MAIN_RELAY_NETS": ": 127.0.0.1 : ::::1", "DCreadhost": "", "DCsmarthost": "",
            "DC_eximconfig_configtype": "internet", "DCconfig_internet": "1",
            "MAIN_HARDCODE_PRIMARY_HOSTNAME": self.mx_name(host),
        }
        header = "".join(f"{name} = {value}\n" for name, value in macros.items())
        header += (f"daemon_smtp_ports = {self.port}\nlog_file_path = {root / 'log'}/%slog\n"
                   f"pid_file_path = {root / 'exim.pid'}\nqueue_only = true\n")
        text = header + template.read_text()  # before it: CONFDIR is defined there unless already defined
        config = root / "configure"
        config.write_text(text)
        binary = exim_binary()
        assert binary is not None
        have_aliases = Path("/etc/aliases").exists()
        process = self._spawn(host, self._own_resolver([binary, "-C", str(config), "-bdf"],
                                                       aliases if have_aliases else None), root / "stderr.log")
        try:
            wait_for_port(host, self.ip(host), self.port, root / "stderr.log", process)
        except LabError as exc:
            raise LabError(f"{exc}\n{_tail(root / 'log' / 'mainlog')}") from None

    # -- shut-down -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every daemon the lab started (by its own pid or its own config), then the DNS thread."""
        for argv in self.stoppers:
            subprocess.run(argv, capture_output=True, timeout=START_TIMEOUT_S, check=False)
        for _name, process in self.processes:
            if process.poll() is None:
                process.terminate()
        for _name, process in self.processes:
            try:
                process.wait(START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(START_TIMEOUT_S)
        if self.dns is not None:
            self.dns.stop()
