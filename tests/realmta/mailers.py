"""Real MTAs of the lab that SEND mail, and next hops that fail the ways mail fails in the world.

The lab (lab.py) starts servers the probe talks to. Here, for the bounce tests (test_lab_bounces.py), a
Postfix of its own (a separate instance: its own config, queue and log under the lab's directory) takes a
message by sendmail and relays it, by its transport map, to a next hop that fails: a lab server whose
recipient table refuses the address, postgrey, postscreen, a lab address where nothing listens, a name the
lab's DNS does not know, a next hop of this module's own (Postfix smtpd instances refusing the sender, the
client or a message over its size limit; a socket that hangs up at once or never greets). The sender's
bounces (DSNs) are delivered to a mailbox file of its own; its log is its maillog_file; `postqueue -p` says why
deferred mail waits. Nothing here writes a text an MTA would write: every text the tests read is the MTA's.

    sender = PostfixSender.start(lab, "pfsend", transports={"unknown.test": "smtp:[ip]:port"})
    queue_id = sender.send("nobody@unknown.test")
    line = sender.wait_log(queue_id, "status=bounced")
    dsn = sender.wait_bounce(queue_id)          # the whole bounce, an email.message.Message

EximSender does the same with a real Exim (exim -odi: delivered before the command returns; manualroute to the
next hops, dnslookup for the rest; an empty retry section returns a deferred address at once).
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

from lab import HOSTS, Lab
from labbase import START_TIMEOUT_S, LabError, _bindable, _tail, wait_for_port
from mtaconf import Listener, postfix_main_cf, postfix_master_cf, texthash

WAIT_S = 30.0  # a queue or a mailbox must show what is waited for within this (it takes well under a second)
BOUNCE_TO = "bouncer"  # the local part of every test message's sender; the DSNs come back to it
# a transport of the sending Postfix that never says EHLO (so it does not see the next hop's SIZE limit and
# sends the whole message): smtp_never_send_ehlo, a documented smtp(8) parameter
HELO_TRANSPORT = "smtphelo unix - - n - - smtp\n  -o smtp_never_send_ehlo=yes\n"


def free_ip(lab: Lab, octet: int) -> str:
    """An address of the lab's block beyond its HOSTS (octet >= 200), free on the lab's port."""
    ip = f"{lab.block}.{octet}"
    if octet in HOSTS.values() or not _bindable(ip, lab.port):
        raise LabError(f"{ip}:{lab.port} is taken")
    return ip


def _wait(what: str, probe: Callable[[], object], log: Path) -> object:
    """Poll `probe` until it returns something true; LabError with the log's tail after WAIT_S."""
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise LabError(f"no {what} within {WAIT_S:g} s\n" + _tail(log, 30))


@dataclass
class PostfixInstance:
    """One Postfix of this module: its directory, its config directory and log."""

    root: Path

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def log(self) -> Path:
        return self.root / "postfix.log"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def run(self, *argv: str, stdin: bytes | None = None) -> str:
        done = subprocess.run([*argv], input=stdin, capture_output=True, timeout=START_TIMEOUT_S, check=False,
                              env={"MAIL_CONFIG": str(self.etc), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        if done.returncode != 0:
            raise LabError(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode(errors="replace")

    @classmethod
    def start(cls, lab: Lab, name: str, *, hostname: str, local_domains: list[str], extra_main: str = "",
              listeners: tuple[Listener, ...] = (), extra_master: str = "",
              maps: dict[str, dict[str, str]] | None = None) -> PostfixInstance:
        root = lab.root / name
        for sub in ("etc", "maps", "queue", "data"):
            (root / sub).mkdir(parents=True)
        shutil.chown(root / "data", "postfix", "postfix")
        main = postfix_main_cf(root, hostname=hostname, local_domains=local_domains, alias_domains=[],
                               cert=lab.ca.write(lab.ca.issue([hostname]), name))
        (root / "etc" / "main.cf").write_text(main + extra_main)
        (root / "etc" / "master.cf").write_text(postfix_master_cf(list(listeners), lab.port) + extra_master)
        for table in ("virtual", "recipients", "access", "transport"):
            (root / "maps" / table).write_text("")
        for table, entries in (maps or {}).items():
            (root / "maps" / table).write_text(texthash(entries))
        instance = cls(root)
        started = subprocess.run(lab._own_resolver(["/usr/sbin/postfix", "-c", str(root / "etc"), "start"]),
                                 capture_output=True, timeout=START_TIMEOUT_S, check=False)
        lab.stoppers.append(["/usr/sbin/postfix", "-c", str(root / "etc"), "abort"])
        if started.returncode != 0:
            raise LabError(f"postfix {name} did not start: "
                           + (started.stderr or started.stdout).decode(errors="replace") + "\n" + _tail(instance.log))
        for listener in listeners:
            wait_for_port(f"postfix {name}", listener.ip, listener.port or lab.port, instance.log)
        return instance


@dataclass
class PostfixSender:
    """A Postfix that sends: sendmail in, its smtp client out by transport_maps, DSNs to a mailbox file."""

    postfix: PostfixInstance
    domain: str  # the sender's own domain: bouncer@domain gets the DSNs
    sent: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, lab: Lab, name: str, *, transports: dict[str, str], extra_main: str = "") -> PostfixSender:
        """`transports`: domain -> transport_maps next hop. Short timeouts (smtp_*_timeout) so a next hop that
        never answers is given up in seconds, not minutes; one attempt per queue run."""
        domain = f"{name}.lab.test"
        hostname = f"mx.{name}.lab.test"
        mail = lab.root / name / "mail"
        main = f"""
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{lab.root / name / 'maps' / 'mailboxes'}
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtp_connect_timeout = 3s
smtp_helo_timeout = 3s
smtp_mail_timeout = 3s
smtp_rcpt_timeout = 3s
smtp_data_init_timeout = 3s
smtp_data_xfer_timeout = 3s
smtp_data_done_timeout = 3s
smtp_tls_security_level = none
smtp_address_preference = ipv4
delay_warning_time = 0h
notify_classes =
{extra_main}"""
        postfix = PostfixInstance.start(lab, name, hostname=hostname, local_domains=[hostname], extra_main=main,
                                        extra_master=HELO_TRANSPORT,
                                        maps={"transport": transports, "mailboxes": {f"{BOUNCE_TO}@{domain}": "bouncer"}})
        mail.mkdir(exist_ok=True)
        shutil.chown(mail, 65534, 65534)
        return cls(postfix, domain)

    @property
    def sender(self) -> str:
        return f"{BOUNCE_TO}@{self.domain}"

    def send(self, recipient: str, *, body_bytes: int = 0, subject: str = "lab bounce test") -> str:
        """Submit one message by sendmail; its queue id (from the log line pickup writes for it)."""
        tag = f"<{len(self.sent)}.{time.monotonic_ns()}@{self.domain}>"
        self.sent.append(tag)
        body = "Hello.\n" + ("x" * 76 + "\n") * (body_bytes // 77 + 1 if body_bytes else 0)
        message = (f"From: {self.sender}\nTo: {recipient}\nSubject: {subject}\nMessage-ID: {tag}\n\n{body}")
        self.postfix.run("/usr/sbin/sendmail", "-f", self.sender, "--", recipient, stdin=message.encode())
        pattern = re.compile(r"postfix/cleanup\[\d+\]: ([0-9A-F]+): message-id=" + re.escape(tag))

        def queue_id() -> str | None:
            found = pattern.search(self.postfix.log_text())
            return found.group(1) if found else None

        return str(_wait(f"queue id for {recipient}", queue_id, self.postfix.log))

    def wait_log(self, queue_id: str, status: str) -> str:
        """The sender's log line for `queue_id` with `status` (status=bounced, status=deferred ...)."""

        def line() -> str | None:
            for candidate in self.postfix.log_text().splitlines():
                if f" {queue_id}: " in candidate and status in candidate:
                    return candidate
            return None

        return str(_wait(f"log line {queue_id} {status}", line, self.postfix.log))

    def flush(self) -> None:
        """postqueue -f: every deferred message is tried again now."""
        self.postfix.run("/usr/sbin/postqueue", "-f")

    def queue_listing(self) -> str:
        return self.postfix.run("/usr/sbin/postqueue", "-p")

    def queue_entry(self, queue_id: str) -> str:
        """The `postqueue -p` paragraph of one message (its id line, the reason in brackets, the recipient)."""
        for paragraph in self.queue_listing().split("\n\n"):
            if re.match(re.escape(queue_id) + r"[*!]?\s", paragraph.split("\n", 1)[-1] if paragraph.startswith("-Queue ID-") else paragraph):
                return paragraph.split("\n", 1)[-1] if paragraph.startswith("-Queue ID-") else paragraph
        raise LabError(f"{queue_id} not in the queue:\n{self.queue_listing()}")

    def wait_bounce(self, queue_id: str) -> Message:
        """The DSN the sender delivered to bouncer@ for the message `queue_id` (its report names the id)."""
        box = self.postfix.root / "mail" / "bouncer"

        def find() -> Message | None:
            if not box.exists():
                return None
            # mbox: each message after a "From " line (virtual(8) quotes ">From " in the bodies)
            for raw in re.split(rb"(?m)^From \S+ .*\n", box.read_bytes()):
                if f"X-Postfix-Queue-ID: {queue_id}".encode() in raw:
                    return email.message_from_bytes(raw, policy=email.policy.default)
            return None

        found = _wait(f"bounce of {queue_id}", find, self.postfix.log)
        assert isinstance(found, Message)
        return found


class SilentPeers:
    """Two next hops that are no SMTP servers: one closes each connection at once (before any greeting), one
    accepts and never says anything. Plain sockets in a thread; stop() closes them."""

    def __init__(self, hangup: str, mute: str, port: int) -> None:
        self.hangup = socket.create_server((hangup, port))
        self.mute = socket.create_server((mute, port))
        self.held: list[socket.socket] = []
        self.running = True
        self.threads = [threading.Thread(target=self._serve, args=(s, h), daemon=True)
                        for s, h in ((self.hangup, True), (self.mute, False))]
        for thread in self.threads:
            thread.start()

    def _serve(self, server: socket.socket, hang_up: bool) -> None:
        server.settimeout(0.2)
        while self.running:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if hang_up:
                conn.close()
            else:
                self.held.append(conn)

    def stop(self) -> None:
        self.running = False
        for thread in self.threads:
            thread.join(2)
        for conn in (*self.held, self.hangup, self.mute):
            conn.close()


def dsn_parts(dsn: Message) -> tuple[str, str]:
    """The DSN's human-readable part and its message/delivery-status part, as text a user would paste."""
    human = status = ""
    for part in dsn.walk():
        kind = part.get_content_type()
        if kind == "text/plain" and not human:
            human = part.get_content()
        elif kind == "message/delivery-status":
            status = "\n\n".join(str(block).strip() for block in part.get_payload())
    return human, status


@dataclass
class EximSender:
    """An Exim that sends: `exim -odi` takes a message and delivers it at once, by a manualroute router (domain ->
    next hop address, on the lab's port) or by DNS (dnslookup, the lab's zone) for the others; its bounces go to
    bouncer@DOMAIN, a file under its directory. Its main log says what it did; `exim -bp` lists what waits."""

    lab: Lab
    root: Path
    domain: str
    binary: str

    @classmethod
    def start(cls, lab: Lab, name: str, *, routes: dict[str, str], helo_routes: dict[str, str] | None = None,
              retry: str = "*   *   F,2h,15m") -> EximSender:
        """`routes`: domain -> next hop IP; `helo_routes` the same through a transport that never says EHLO (so it
        does not see SIZE). `retry`: the retry section's rule (an empty one: a temporary failure is returned at once)."""
        from lab_exim import exim_binary

        binary = exim_binary()
        assert binary is not None
        root = lab.root / name
        for sub in ("spool", "log", "mail"):
            (root / sub).mkdir(parents=True)
            shutil.chown(root / sub, "Debian-exim", "Debian-exim")
        domain = f"{name}.lab.test"

        def router(router_name: str, table: dict[str, str], transport: str) -> str:
            if not table:
                return ""
            routes_text = " ; ".join(f"{d} {ip}" for d, ip in table.items())
            return (f"{router_name}:\n  driver = manualroute\n  domains = {' : '.join(table)}\n"
                    f"  route_list = {routes_text}\n  transport = {transport}\n  self = send\n\n")

        (root / "configure").write_text(f"""\
primary_hostname = mx.{name}.lab.test
exim_path = {binary}
qualify_domain = {domain}
domainlist local_domains = {domain}
spool_directory = {root / 'spool'}
log_file_path = {root / 'log'}/%slog
never_users = root
keep_environment =
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
trusted_users = root
delay_warning =
ignore_bounce_errors_after = 0s
timeout_frozen_after = 0s

begin routers

{router('lab_hops', routes, 'remote_smtp')}{router('lab_hops_helo', helo_routes or {}, 'remote_smtp_helo')}\
local_bouncer:
  driver = accept
  domains = +local_domains
  local_parts = {BOUNCE_TO}
  transport = local_delivery

by_dns:
  driver = dnslookup
  domains = ! +local_domains
  transport = remote_smtp
  ignore_target_hosts = <; 0.0.0.0
  no_more

begin transports

remote_smtp:
  driver = smtp
  port = {lab.port}
  connect_timeout = 3s
  command_timeout = 3s
  hosts_try_fastopen = :

remote_smtp_helo:
  driver = smtp
  port = {lab.port}
  connect_timeout = 3s
  command_timeout = 3s
  hosts_avoid_esmtp = *
  hosts_try_fastopen = :

local_delivery:
  driver = appendfile
  file = {root / 'mail'}/$local_part_data
  user = Debian-exim

begin retry

{retry}
""")
        return cls(lab, root, domain, binary)

    @property
    def sender(self) -> str:
        return f"{BOUNCE_TO}@{self.domain}"

    @property
    def log(self) -> Path:
        return self.root / "log" / "mainlog"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def exim(self, *args: str, stdin: bytes | None = None) -> str:
        argv = self.lab._own_resolver([self.binary, "-C", str(self.root / "configure"), *args])
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=WAIT_S, check=False)
        return (done.stdout + done.stderr).decode(errors="replace")

    def send(self, recipient: str, *, body_bytes: int = 0) -> str:
        """Submit one message (exim -odi: delivered before exim returns); its message id, from the log."""
        tag = f"<{time.monotonic_ns()}@{self.domain}>"
        body = "Hello.\n" + ("x" * 76 + "\n") * (body_bytes // 77 + 1 if body_bytes else 0)
        message = f"From: {self.sender}\nTo: {recipient}\nSubject: lab bounce test\nMessage-ID: {tag}\n\n{body}"
        self.exim("-odi", "-f", self.sender, "--", recipient, stdin=message.encode())
        pattern = re.compile(r"^\S+ \S+ (\S+) <= " + re.escape(self.sender) + r" .*id=" + re.escape(tag[1:-1]),
                             re.MULTILINE)

        def message_id() -> str | None:
            found = pattern.search(self.log_text())
            return found.group(1) if found else None

        return str(_wait(f"exim message id for {recipient}", message_id, self.log))

    def wait_log(self, message_id: str, marker: str) -> str:
        """Exim's main log line for `message_id` with `marker` ("** " failed, "== " deferred)."""

        def line() -> str | None:
            for candidate in self.log_text().splitlines():
                if f" {message_id} {marker}" in candidate:
                    return candidate
            return None

        return str(_wait(f"exim log line {message_id} {marker}", line, self.log))

    def wait_bounce(self, message_id: str) -> Message:
        """Exim's bounce of `message_id` (its X-Failed-Recipients, and the returned message's id in its body)."""
        box = self.root / "mail" / BOUNCE_TO

        def find() -> Message | None:
            if not box.exists():
                return None
            for raw in re.split(rb"(?m)^From \S+ .*\n", box.read_bytes()):
                if f"id {message_id}".encode() in raw and b"X-Failed-Recipients" in raw:
                    return email.message_from_bytes(raw, policy=email.policy.default)
            return None

        found = _wait(f"exim bounce of {message_id}", find, self.log)
        assert isinstance(found, Message)
        return found
