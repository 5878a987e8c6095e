"""Real qpsmtpd in the lab: Debian's qpsmtpd 0.94 (`qpsmtpd-forkserver`, its stock plugins) with config
directories of the lab's own, each daemon on its HOSTS address of the lab's block (lab.py), as the user
qpsmtpd, in the lab's own resolver namespace, its log (stderr, LOGINFO) under the lab's root.

tests/realmta/install.sh unpacks the package under /opt/smtp-probe-lab (its postinst would write
/etc/qpsmtpd and start the machine's own qpsmtpd service); a qpsmtpd installed by hand is used when there.
Every reply comes from qpsmtpd and its plugins (/usr/share/qpsmtpd/plugins/NAME): the lab only writes the
configuration files their POD documents (plugins, rcpthosts, badmailfrom, badrcptto, dnsbl_zones, ...)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from labbase import UNPACKED, wait_for_port

if TYPE_CHECKING:
    from lab import Lab

# where qpsmtpd's files may be (its binary, Perl modules, plugins): an installed qpsmtpd's, then install.sh's unpacked one
QPSMTPD_PREFIXES = (Path("/"), UNPACKED)
QPSMTPD_USER = "qpsmtpd"
# host label -> last octet in the lab's /24 (lab.HOSTS takes these)
QPSMTPD_HOSTS = {"qpsmtpd": 130, "qpsmtpd-strict": 131}
# domain (under lab.test) -> its MX hosts (lab.SCENARIOS takes these; start_qpsmtpds says each)
QPSMTPD_SCENARIOS = {
    # rcpt_map's users; rcpt_ok's any local part; not in rcpthosts
    "qp": ["qpsmtpd"], "qpany": ["qpsmtpd"], "qprelay": ["qpsmtpd"],
    "qpstrict": ["qpsmtpd-strict"], "qpgrey": ["qpsmtpd-strict"],  # earlytalker, dnsbl, rhsbl; greylisting
}
QP_USERS = ("alice", "bob")  # qp.lab.test's mailboxes (rcpt_map)
# greylisting's black_timeout (seconds; the plugin's default is 50 minutes); the 0.94-5 plugin dies before it
# defers anything (test_lab_qpsmtpd.py), a retry after this would pass
QP_GREYLIST_DELAY_S = 2
QP_BAD_HELO = "spammer.lab.test"  # in qpsmtpd's badhelo: the helo plugin refuses it, then hangs up


def qpsmtpd_prefix() -> Path | None:
    """Where qpsmtpd's files are (its binary, Perl modules and plugins), None when it is not installed."""
    for root in QPSMTPD_PREFIXES:
        if ((root / "usr/bin/qpsmtpd-forkserver").is_file() and (root / "usr/share/perl5/Qpsmtpd.pm").is_file()
                and (root / "usr/share/qpsmtpd/plugins/rcpt_ok").is_file()):
            return root
    return None


def start_qpsmtpd(lab: Lab, host: str, plugins: list[str], files: dict[str, str]) -> None:
    """qpsmtpd-forkserver on `host`'s address and the lab's port, its config directory `files` plus the
    `plugins` list (one plugin line each, as config/plugins takes them)."""
    prefix = qpsmtpd_prefix()
    assert prefix is not None
    root = lab.root / host
    config = root / "config"
    config.mkdir(parents=True)
    for sub in ("spool", "greylist"):
        (root / sub).mkdir()
        shutil.chown(root / sub, QPSMTPD_USER, QPSMTPD_USER)
        (root / sub).chmod(0o700)
    base = {
        "me": lab.mx_name(host),  # the name in its greeting and HELO answer
        "plugin_dirs": str(prefix / "usr/share/qpsmtpd/plugins"),
        "spool_dir": str(root / "spool"),
        "loglevel": "6",  # LOGINFO, to stderr (no logging plugin): each plugin's pass/fail line
    }
    for name, text in {**base, **files, "plugins": "\n".join(plugins)}.items():
        (config / name).write_text(text + "\n")
    env = {**os.environ, "QPSMTPD_CONFIG": str(config)}
    # -T as its #! line says (taint mode ignores PERL5LIB: -I names the unpacked package's modules)
    argv = ["perl", "-T", "-I", str(prefix / "usr/share/perl5"), str(prefix / "usr/bin/qpsmtpd-forkserver"), "-l", lab.ip(host), "-p", str(lab.port),
            "-u", QPSMTPD_USER]
    log = root / "qpsmtpd.log"
    process = lab._spawn(host, lab._own_resolver(argv), log, env=env, cwd=root)
    wait_for_port(host, lab.ip(host), lab.port, log, process)  # its LabError ends with the log's tail


def qpsmtpd_log(lab: Lab, host: str = "qpsmtpd") -> str:
    path = lab.root / host / "qpsmtpd.log"
    return path.read_text(errors="replace") if path.exists() else ""


def start_qpsmtpds(lab: Lab) -> None:
    """The lab's two qpsmtpd daemons.

    qpsmtpd (qp.lab.test, qpany.lab.test): a site's recipient checks. rcpt_map knows qp.lab.test's mailboxes
    (alice, bob; anyone else "No such user."), rcpt_ok accepts any local part of the rcpthosts (qpany.lab.test,
    as Debian's package sets it up), and refuses the domains it does not serve (qprelay.lab.test: its MX
    points here); badrcptto, badmailfrom, resolvable_fromhost (the sender's domain must resolve), helo
    (badhelo: QP_BAD_HELO), count_unrecognized_commands 2, tls (the lab's certificate).
    qpsmtpd-strict (qpstrict.lab.test, qpgrey.lab.test): what it does to the connecting client. earlytalker
    (waits 1 s before its greeting, refuses a client that talks first), dnsbl (bl.lab.test lists 127.0.0.1),
    rhsbl (dbl.lab.test lists pf.lab.test), greylisting (the triplet's sender and recipient,
    black_timeout QP_GREYLIST_DELAY_S) then rcpt_ok."""
    cert, key = lab._cert("qpsmtpd")
    start_qpsmtpd(lab, "qpsmtpd", [
        f"tls {cert} {key} {lab.ca.bundle_path}",
        "helo",  # policy lenient (its default): badhelo, localhost, IP-literal checks; reject_type disconnect
        "count_unrecognized_commands 2",
        "badmailfrom",
        "resolvable_fromhost",
        "badrcptto",
        f"rcpt_map domain qp.lab.test file {lab.root / 'qpsmtpd' / 'config' / 'rcpt_map'}",
        "rcpt_ok",
    ], {
        "rcpthosts": "qp.lab.test\nqpany.lab.test",
        # "ADDRESS CODE" and a space: the plugin splits each line on single spaces without chomping it, so
        # a bare "OK" at the end of a line would be "OK\n", "not a valid constant"
        "rcpt_map": "\n".join(f"{user}@qp.lab.test OK " for user in QP_USERS),
        "badmailfrom": "spammer@probe.lab.test\n@badsender.lab.test",
        "badrcptto": "closed@qp.lab.test\nclosed@qpany.lab.test",
        "badhelo": QP_BAD_HELO,
    })
    start_qpsmtpd(lab, "qpsmtpd-strict", [
        "earlytalker wait 1 reject_type perm",
        "dnsbl",
        "rhsbl",
        f"greylisting sender 1 recipient 1 black_timeout {QP_GREYLIST_DELAY_S} db_dir "
        f"{lab.root / 'qpsmtpd-strict' / 'greylist'}",
        "rcpt_ok",
    ], {
        "rcpthosts": "qpstrict.lab.test\nqpgrey.lab.test",
        "dnsbl_zones": "bl.lab.test",
        "rhsbl_zones": "dbl.lab.test listed",  # a second field: the plugin asks for an A record (else TXT)
    })
