"""Real Sendmail (8.17, Debian's sendmail-bin and sendmail-cf) in the real-MTA lab: its part of tests/realmta/lab.py.

Each daemon gets a sendmail.cf of its own, built with m4 from a .mc the lab writes (the m4 files of sendmail-cf, as
an admin runs them), its maps built with makemap, and runs in the foreground (`sendmail -bD -C cf`) on its lab
address and the lab's port, queue and pid under the lab's root; Lab.stop ends it with the other daemons. It runs
where the lab's daemons run (a mount namespace whose /etc/resolv.conf names the lab's FakeDNS) and, besides, in a
UTS namespace whose host name is its MX name: sendmail qualifies the machine's host name at start-up and, when it
cannot, sleeps a minute ("My unqualified host name ... unknown; sleeping for retry").

The configuration is an admin's: Debian's sendmail.mc settings (its PrivacyOptions, its 1 s greet_pause for one
client address here, delay_checks `friend', ratecontrol/conncontrol `nodelay', `terminate', BAD_RCPT_THROTTLE 3),
the access database with entries of cf/README's own examples (their texts are cf/README's: sendmail words the
others), virtusertable entries of cf/README's example, STARTTLS with the lab CA's certificate. The daemons
(SENDMAIL_HOSTS) differ in one thing each:

- sendmail:         the configuration above; local users alice, bob, postmaster, full, badlocaluser, refused
                    (aliases of root: RCPT accepts them, any other local part is "User unknown")
- sendmail-novrfy:  PrivacyOptions novrfy,noexpn (+ authwarnings)
- sendmail-goaway:  PrivacyOptions goaway
- sendmail-limits:  MaxRecipientsPerMessage 2, MaxMessageSize 1 MB
- sendmail-dnsbl:   FEATURE(`dnsbl', `bl.lab.test') (the lab's list, which lists 127.0.0.1)

The access database keys some entries on the probe's source address (the `client-sm*` labels: a test binds the
probe there with source_ip): sendmail lets 127.0.0.1 relay (cf/m4/proto.m4 Relay_ok: "originated locally"), so the
tests of what an outside client meets probe from `client-sendmail`, an address with no PTR. Each daemon writes the
SMTP traffic it sees to traffic.log in its directory (sendmail -X), for a failing test's reader.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from labbase import UNPACKED, LabError, wait_for_port

if TYPE_CHECKING:  # lab.py imports this module
    from lab import Lab

SENDMAIL_ROOT = UNPACKED  # tests/realmta/install.sh unpacks sendmail-bin and sendmail-cf there
SENDMAIL_BINARY = SENDMAIL_ROOT / "usr/libexec/sendmail/sendmail"
MAKEMAP = SENDMAIL_ROOT / "usr/libexec/sendmail/makemap"
CF_DIR = SENDMAIL_ROOT / "usr/share/sendmail/cf"
HELP_FILE = SENDMAIL_ROOT / "etc/mail/helpfile"

# host label -> last octet in the lab's /24 (daemons, then source addresses the probe binds to)
SENDMAIL_HOSTS = {
    "sendmail": 140, "sendmail-novrfy": 142, "sendmail-goaway": 143, "sendmail-limits": 144, "sendmail-dnsbl": 145,
    "client-sendmail": 141,  # an outside client: nothing in the access database, no PTR
    "client-smreject": 146, "client-smrelay": 147, "client-smpause": 148, "client-smrate": 149, "client-smconn": 150,
}
# domain (under lab.test) -> its MX hosts
SENDMAIL_SCENARIOS: dict[str, list[str]] = {
    "sendmail": ["sendmail"],  # local users alice, bob, postmaster; access entries for some local parts
    "smvirt": ["sendmail"],  # virtusertable: alice, joe (error:nouser), jax (error:5.7.0:550), the rest unknown
    "smcatch": ["sendmail"],  # virtusertable: @smcatch.lab.test alice (every local part)
    "smrelay": ["sendmail"],  # not one of sendmail's domains: relaying denied (unless the client may relay)
    "smnovrfy": ["sendmail-novrfy"],
    "smgoaway": ["sendmail-goaway"],
    "smlimits": ["sendmail-limits"],
    "smlisted": ["sendmail-dnsbl"],
}
# class {w} (local-host-names), the virtual domains too (virtusertable applies to domains of {w} or {VirtHost})
LOCAL_DOMAINS = ("sendmail", "smvirt", "smcatch", "smnovrfy", "smgoaway", "smlimits", "smlisted")
# Debian's sendmail.mc (sendmail-cf 8.17.1.9, debian/sendmail.mc): confPRIVACY_FLAGS
DEBIAN_PRIVACY = "needmailhelo,needexpnhelo,needvrfyhelo,restrictqrun,restrictexpand,nobodyreturn,authwarnings"
PRIVACY = {"sendmail-novrfy": "novrfy,noexpn,authwarnings", "sendmail-goaway": "goaway"}
# cf/README's virtusertable example (its joe@bar.com and jax@bar.com entries, here for smvirt.lab.test)
VIRTUSERS = {
    "alice@smvirt.lab.test": "alice",
    "joe@smvirt.lab.test": "error:nouser 550 No such user here",
    "jax@smvirt.lab.test": "error:5.7.0:550 Address invalid",
    "@smcatch.lab.test": "alice",
}
GREET_PAUSE_MS = 1000  # Debian's sendmail.mc: FEATURE(`greet_pause', `1000')


def sendmail_missing() -> str | None:
    """Why the lab's Sendmail cannot run here (None: it can)."""
    for path in (SENDMAIL_BINARY, MAKEMAP, CF_DIR / "m4" / "cf.m4"):
        if not path.exists():
            return f"{path} missing (sendmail)"
    if shutil.which("m4") is None:
        return "m4 missing (sendmail)"
    return None


def access_entries(lab: Lab) -> dict[str, str]:
    """The access database: cf/README's entry forms and texts ("ACCESS DATABASE", FEATURE(`blocklist_recipients'),
    greet_pause, ratecontrol, conncontrol); keys are the lab's addresses."""
    return {
        "To:badlocaluser@": "ERROR:550 Mailbox disabled for badlocaluser",  # cf/README, blocklist_recipients
        "To:full@sendmail.lab.test": "ERROR:4.2.2:450 mailbox full",  # cf/README's "use ... instead" form
        "To:refused@sendmail.lab.test": "REJECT",
        "To:void@sendmail.lab.test": "DISCARD",
        "From:cyberspammer.com": "ERROR:\"550 We don't accept mail from spammers\"",  # cf/README's first example
        f"Connect:{lab.ip('client-smreject')}": "REJECT",
        f"Connect:{lab.ip('client-smrelay')}": "RELAY",
        f"GreetPause:{lab.ip('client-smpause')}": str(GREET_PAUSE_MS),
        f"ClientRate:{lab.ip('client-smrate')}": "1",
        f"ClientConn:{lab.ip('client-smconn')}": "1",
    }


def sendmail_mc(lab: Lab, host: str, root: Path) -> str:
    """The .mc of one daemon (m4 quoting: `...')."""
    lines = [
        "divert(-1)", "divert(0)dnl", "OSTYPE(`linux')dnl",
        f"define(`confDOMAIN_NAME', `{lab.mx_name(host)}')dnl",
        f"define(`QUEUE_DIR', `{root / 'mqueue'}')dnl",
        f"define(`confPID_FILE', `{root / 'sendmail.pid'}')dnl",
        f"define(`ALIAS_FILE', `{root / 'aliases'}')dnl",
        f"define(`confHELP_FILE', `{HELP_FILE}')dnl",
        f"define(`confCW_FILE', `{root / 'local-host-names'}')dnl",
        "define(`confDEF_USER_ID', `mail:mail')dnl",
        # the lab's root is under /tmp (world-writable, sticky): sendmail refuses maps, class files and its TLS
        # certificate and key below it unless told to trust the sticky bit
        "define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit')dnl",
        f"define(`confPRIVACY_FLAGS', `{PRIVACY.get(host, DEBIAN_PRIVACY)}')dnl",
        "define(`confBAD_RCPT_THROTTLE', `3')dnl",  # Debian's
        f"DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port={lab.port}, Addr={lab.ip(host)}')dnl",
        "FEATURE(`no_default_msa')dnl",
        "FEATURE(`use_cw_file')dnl",
        f"FEATURE(`access_db', `hash -T<TMPF> {root / 'access'}')dnl",
        f"FEATURE(`virtusertable', `hash -o {root / 'virtusertable'}')dnl",
        "FEATURE(`blocklist_recipients')dnl",
        "FEATURE(`greet_pause', `0')dnl",  # no pause unless the access database says one (GreetPause:)
        "FEATURE(`delay_checks', `friend', `n')dnl",  # Debian's
        "FEATURE(`conncontrol', `nodelay', `terminate')dnl",  # Debian's
        "FEATURE(`ratecontrol', `nodelay', `terminate')dnl",  # Debian's
    ]
    if host == "sendmail":
        cert, key = lab._cert(host)
        key.chmod(0o600)  # sendmail refuses a key others may read
        lines += [f"define(`confSERVER_CERT', `{cert}')dnl", f"define(`confSERVER_KEY', `{key}')dnl",
                  f"define(`confCACERT', `{lab.ca.bundle_path}')dnl",
                  f"define(`confCACERT_PATH', `{lab.ca.bundle_path.parent}')dnl"]
    if host == "sendmail-limits":
        lines += ["define(`confMAX_RCPTS_PER_MESSAGE', `2')dnl", "define(`confMAX_MESSAGE_SIZE', `1048576')dnl"]
    if host == "sendmail-dnsbl":
        lines += ["FEATURE(`dnsbl', `bl.lab.test')dnl"]
    lines += ["MAILER(`local')dnl", "MAILER(`smtp')dnl"]
    return "\n".join(lines) + "\n"


def start_sendmail(lab: Lab) -> None:
    """Build and start every daemon of SENDMAIL_HOSTS (raises LabError when one does not listen)."""
    for host in (h for h in SENDMAIL_HOSTS if not h.startswith("client-")):
        root = lab.root / host
        (root / "mqueue").mkdir(parents=True)
        (root / "mqueue").chmod(0o700)
        # Debian's /etc/aliases has postmaster: root; alice and bob are the lab's users, and the users the access
        # database's To: entries block exist too (void@, which it discards, does not: a spam trap)
        (root / "aliases").write_text("".join(f"{user}: root\n" for user in (
            "postmaster", "alice", "bob", "full", "badlocaluser", "refused")))
        (root / "local-host-names").write_text("".join(f"{d}.lab.test\n" for d in LOCAL_DOMAINS))
        (root / "access").write_text("".join(f"{k}\t{v}\n" for k, v in access_entries(lab).items()))
        (root / "virtusertable").write_text("".join(f"{k}\t{v}\n" for k, v in VIRTUSERS.items()))
        (root / "sendmail.mc").write_text(sendmail_mc(lab, host, root))
        cf = root / "sendmail.cf"
        with cf.open("wb") as out:
            built = subprocess.run(["m4", f"-D_CF_DIR_={CF_DIR}/", str(CF_DIR / "m4" / "cf.m4"),
                                    str(root / "sendmail.mc")], stdout=out, stderr=subprocess.PIPE, check=False,
                                   timeout=30)
        if built.returncode != 0 or built.stderr.strip():
            raise LabError(f"m4 could not build {cf}: {built.stderr.decode(errors='replace')}")
        for table in ("access", "virtusertable"):
            with (root / table).open("rb") as source:
                made = subprocess.run([str(MAKEMAP), "-C", str(cf), "hash", str(root / table)], stdin=source,
                                      capture_output=True, check=False, timeout=30)
            if made.returncode != 0:
                raise LabError(f"makemap {table}: {made.stderr.decode(errors='replace')}")
        in_own_host = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', lab.mx_name(host)]
        aliases = subprocess.run(lab._own_resolver([*in_own_host, str(SENDMAIL_BINARY), "-C", str(cf), "-bi"]),
                                 capture_output=True, check=False, timeout=30)
        if aliases.returncode != 0:
            raise LabError(f"sendmail -bi ({host}): {aliases.stderr.decode(errors='replace')}")
        log = root / "stderr.log"
        process = lab._spawn(host, lab._own_resolver([*in_own_host, str(SENDMAIL_BINARY), "-C", str(cf), "-bD",
                                                      "-X", str(root / "traffic.log")]), log)
        wait_for_port(host, lab.ip(host), lab.port, log, process)
