"""The real-MTA lab: real Postfix (with postscreen), Exim, Sendmail, OpenSMTPD, qpsmtpd and postgrey on loopback, a
FakeDNS zone pointing at them. Each MTA's daemons are started by a module of its own (lab_postfix.py, lab_exim.py,
lab_sendmail.py, lab_opensmtpd.py, lab_qpsmtpd.py); this one holds the hosts, the scenarios, the DNS and the Lab.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe.dns.resolve import make_resolver
from probe.model import ProbeOptions, Report
from probe.testing.certs import TestCA
from probe.testing.fakedns import FakeDNS

from lab_exim import (
    EXIM_POLICY_DOMAINS,
    debian_exim_template,
    exim_binary,
    start_exim,
    start_exim_admin,
    start_exim_debian,
    start_exim_policies,
)
from lab_opensmtpd import OPENSMTPD_HOSTS, OPENSMTPD_SCENARIOS, opensmtpd_missing, start_opensmtpd
from lab_postfix import start_postfix, start_postgrey, start_postgrey_whitelisting
from lab_qpsmtpd import QPSMTPD_HOSTS, QPSMTPD_SCENARIOS, QPSMTPD_USER, qpsmtpd_prefix, start_qpsmtpds
from lab_sendmail import SENDMAIL_HOSTS, SENDMAIL_SCENARIOS, sendmail_missing, start_sendmail
from labbase import START_TIMEOUT_S, SUBMISSION_PORT, LabError, _bindable, _tail, wait_for_port

# the lab's shared helpers (labbase.py), importable from here too by a module that starts a daemon of its own
__all__ = ["START_TIMEOUT_S", "LabError", "_tail", "wait_for_port"]

# what every lab probe uses unless a test says otherwise (the lab's zone, short bounds, no MTA-STS/TLS-RPT fetch)
LAB_OPTIONS = ProbeOptions(helo="probe.lab.test", timeout_s=5.0, deadline_s=30.0, tls_policies=False)

DAEMON_DNS_PORT = 53  # the lab's FakeDNS answers here too, for the daemons (resolv.conf names no port)
INSTALL_HINT = ("real-MTA lab tests skipped (Postfix, Exim, OpenSMTPD, qpsmtpd, Sendmail or postgrey missing, or not "
                "root): install them with `sudo bash tests/realmta/install.sh`")

# host label -> last octet of its address in the lab's /24 (each octet once: checked below, at import)
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
    "postfix-forbid": 84, "postfix-earlypolicy": 85, "postfix-authplain": 86,
    "postfix-access": 60, "postfix-backup": 61, "postfix-backupopen": 62, "postfix-submission": 63, "postfix-rhsbl": 64,
    "postfix-debian": 70, "postfix-450": 71, "postfix-tls13": 72, "postfix-ccert": 73, "postfix-askccert": 74,
    # an Exim admin's policies (tests/realmta/test_lab_exim_policy.py); postgrey with a whitelisted client
    "exim-policy": 90, "exim-closed": 91, "exim-dropped": 92, "exim-perhost": 93, "exim-heloverify": 94,
    "postgrey-white": 95, "postfix-greywhite": 96, "client-noptr": 97,  # a source address for the probe (no PTR)
    "exim-mailacl": 99, "exim-hostreject": 100, "exim-rcptmax": 101, "exim-rcptmaxreject": 102,
    "nowhere": 98,
    **OPENSMTPD_HOSTS,  # tests/realmta/lab_opensmtpd.py
    **QPSMTPD_HOSTS,  # tests/realmta/lab_qpsmtpd.py
    **SENDMAIL_HOSTS,  # tests/realmta/lab_sendmail.py
}
_SHARED_OCTETS = sorted({octet for octet in HOSTS.values() if list(HOSTS.values()).count(octet) > 1})
if _SHARED_OCTETS:  # two daemons on one address: the second cannot listen, or a test probes the wrong server
    raise RuntimeError(f"tests/realmta: lab hosts share last octets {_SHARED_OCTETS}: "
                       + ", ".join(h for h, o in HOSTS.items() if o in _SHARED_OCTETS))
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
    # exim-policy: one Exim, one RCPT ACL statement a domain (lab_exim.start_exim_policies says each)
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
    "authplain": ["postfix-authplain"],  # pf users; SASL AUTH (PLAIN, LOGIN) offered before STARTTLS too
    "bare": ["postscreen-bare"], "forbid": ["postfix-forbid"],
    "earlypolicy": ["postfix-earlypolicy"],
    "tls13": ["postfix-tls13"], "ccert": ["postfix-ccert"], "askccert": ["postfix-askccert"],
    "tls-valid": ["tls-valid"], "tls-expired": ["tls-expired"],
    "tls-wrongname": ["tls-wrongname"], "tls-selfsigned": ["tls-selfsigned"],
    **OPENSMTPD_SCENARIOS,  # OpenSMTPD's (tests/realmta/lab_opensmtpd.py)
    **QPSMTPD_SCENARIOS,  # tests/realmta/lab_qpsmtpd.py
    **SENDMAIL_SCENARIOS,  # tests/realmta/lab_sendmail.py
}

LabProbe = Callable[..., Awaitable[Report]]  # the lab_probe fixture (tests/realmta/conftest.py)


def missing_tools() -> str | None:
    """Why the lab cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "not root"
    for tool in ("/usr/sbin/postfix", "/usr/lib/postfix/sbin/postscreen", "/usr/sbin/postgrey"):
        if not Path(tool).exists():
            return f"{tool} missing"
    if exim_binary() is None:
        return "exim missing"
    if qpsmtpd_prefix() is None:
        return "qpsmtpd missing"
    for plugin in ("libplain.so", "libsasldb.so"):  # Cyrus SASL's, for the submission service's AUTH
        if not glob.glob(f"/usr/lib/*/sasl2/{plugin}*"):
            return f"Cyrus SASL plugin {plugin} missing"
    if (no_sendmail := sendmail_missing()) is not None:
        return no_sendmail
    if (why := opensmtpd_missing()) is not None:
        return why
    if shutil.which("unshare") is None:
        return "unshare (util-linux) missing"
    if not _bindable("127.53.53.1", DAEMON_DNS_PORT):
        return f"port {DAEMON_DNS_PORT} on loopback is taken (a DNS server on a wildcard address?)"
    for user in ("postfix", "postgrey", "Debian-exim", QPSMTPD_USER):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"user {user} missing"
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
            start_postgrey(lab)
            start_postgrey_whitelisting(lab)
            start_postfix(lab)
            start_exim(lab, "exim", ["exim.lab.test"])
            start_exim(lab, "exim-nopipe", ["eximnopipe.lab.test"], "pipelining_advertise_hosts = :")
            start_exim(lab, "exim-max", ["eximmax.lab.test"], "smtp_accept_max = 1")
            start_exim(lab, "exim-strict", ["eximstrict.lab.test"], "smtp_accept_max_nonmail = 2")
            start_exim(lab, "exim-verify", ["verify.lab.test", "callout.lab.test", "deferred.lab.test"],
                       acl="  defer   domains = deferred.lab.test\n", verify="recipient/callout=5s",
                       routers=("to_postfix:\n  driver = manualroute\n  domains = callout.lab.test\n"
                                f"  route_list = * {lab.ip('postfix')}\n  transport = remote_smtp\n\n"),
                       transports=f"\nremote_smtp:\n  driver = smtp\n  port = {port}\n")
            start_exim_admin(lab)
            start_exim_policies(lab)
            if debian_exim_template() is not None:
                start_exim_debian(lab)
            start_opensmtpd(lab)
            start_qpsmtpds(lab)
            start_sendmail(lab)
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

    def resolv_conf(self) -> Path:
        """The resolv.conf the daemons see as /etc/resolv.conf: the lab's FakeDNS (port 53 of its address)."""
        conf = self.root / "resolv.conf"
        if not conf.exists():
            conf.write_text(f"nameserver {self.ip('dns')}\noptions timeout:2 attempts:1\n")
            conf.chmod(0o644)
        return conf

    def _own_resolver(self, argv: list[str], aliases: Path | None = None) -> list[str]:
        """`argv` in a mount namespace of its own where /etc/resolv.conf names the lab's FakeDNS (port 53 of
        its address): the daemon's DNS lookups (HELO names, sender domains, DNSBLs) get the lab's zone,
        never the machine's resolver; the machine's own /etc/resolv.conf is not touched. `aliases`, when
        given, is seen as /etc/aliases there (Debian's Exim reads that path), if the machine has one to cover."""
        conf = self.resolv_conf()
        binds = 'mount --bind "$0" /etc/resolv.conf'
        if aliases is not None:
            binds += f' && mount --bind {aliases} /etc/aliases'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                binds + ' && exec "$@"', str(conf), *argv]

    def _spawn(self, name: str, argv: list[str], log: Path, *, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True, env=env, cwd=cwd)
        self.processes.append((name, process))
        return process

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
