"""Real Postfix and postgrey in the lab: one Postfix (its master.cf has a listener per HOSTS label, each with its
own -o overrides: postscreen, restrictions, TLS, limits) and two postgrey policy servers. Users, access(5) tables
and actions of the lab's Postfix are here too."""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

from probe.testing.certs import self_signed

from labbase import START_TIMEOUT_S, SUBMISSION_PORT, LabError, _tail, wait_for_port
from mtaconf import Listener, postfix_main_cf, postfix_master_cf, texthash

if TYPE_CHECKING:
    from lab import Lab

GREYLIST_DELAY_S = 2  # postgrey --delay: a retry after this passes
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


def start_postgrey(lab: Lab, label: str = "postgrey", *extra: str) -> None:
    directory = lab.root / label
    (directory / "db").mkdir(parents=True)
    shutil.chown(directory / "db", "postgrey", "postgrey")
    log = directory / "postgrey.log"
    ip = lab.ip(label)
    process = lab._spawn(label, [
        "/usr/sbin/postgrey", f"--inet={ip}:{lab.port}", f"--delay={GREYLIST_DELAY_S}",
        f"--dbdir={directory / 'db'}", "--user=postgrey", "--group=postgrey", "--auto-whitelist-clients=0",
        f"--pidfile={directory / 'postgrey.pid'}", "--verbose", *extra,
    ], log)
    wait_for_port(label, ip, lab.port, log, process)

def start_postgrey_whitelisting(lab: Lab) -> None:
    """A second postgrey whose client whitelist (--whitelist-clients, postgrey's own file format: an IPv4
    network) holds the lab's client addresses, as an admin lists a trusted relay: it greylists nobody here."""
    listed = lab.root / "postgrey-whitelist-clients"
    listed.write_text("127.0.0.0/8\n")
    listed.chmod(0o644)
    start_postgrey(lab, "postgrey-white", f"--whitelist-clients={listed}")


def start_postfix(lab: Lab) -> None:
    root = lab.root / "postfix"
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
                                               "anyuser", "authonly", "authplain", "softpolicy", "bare", "forbid",
                                               "earlypolicy", "samepreflive")]
    main = postfix_main_cf(root, hostname=lab.mx_name("postfix"), local_domains=local_domains,
                           alias_domains=alias_domains, cert=lab._cert("postfix"),
                           relay_domains=("verify.lab.test", "unreach.lab.test", "backup.lab.test",
                                          "backupopen.lab.test"))
    strict = ("smtpd_helo_required=yes",
              "smtpd_helo_restrictions=reject_non_fqdn_helo_hostname,reject_unknown_helo_hostname",
              "smtpd_sender_restrictions=reject_unknown_sender_domain")
    policy = f"inet:{lab.ip('postgrey')}:{lab.port}"
    policy_maps = (f"smtpd_client_restrictions=check_client_access,texthash:{root / 'maps' / 'clients'}",
                   f"smtpd_sender_restrictions=check_sender_access,texthash:{root / 'maps' / 'sender-actions'}")
    listeners = [
        Listener(lab.ip("postfix")),
        Listener(lab.ip("postfix-novrfy"), ("disable_vrfy_command=yes",)),
        Listener(lab.ip("postscreen"), (f"postscreen_access_list=cidr:{root / 'maps' / 'postscreen'}",
                                         "postscreen_denylist_action=drop"), postscreen=True),
        Listener(lab.ip("postscreen-pregreet"), (  # two postscreens cannot share one cache map
            "postscreen_greet_action=drop", "postscreen_cache_map=btree:$data_directory/postscreen_pregreet"),
            postscreen=True),
        Listener(lab.ip("postfix-grey"), (
            f"smtpd_recipient_restrictions=reject_unauth_destination,check_policy_service,{policy}",)),
        Listener(lab.ip("postfix-greywhite"), ("smtpd_recipient_restrictions=reject_unauth_destination,"
                                                f"check_policy_service,inet:{lab.ip('postgrey-white')}:{lab.port}",)),
        Listener(lab.ip("postfix-strict"), strict),
        Listener(lab.ip("postfix-early"), (*strict, "smtpd_delay_reject=no")),
        Listener(lab.ip("postfix-verify"), (  # one look at the verify service per RCPT: no waiting;
            # 450 while its probe runs, then 550 for an address the next hop refused (the default is 450)
            "smtpd_recipient_restrictions=reject_unauth_destination,reject_unverified_recipient",
            "address_verify_poll_count=1", "unverified_recipient_reject_code=550")),
        Listener(lab.ip("postfix-limit"), ("smtpd_recipient_limit=2",)),
        Listener(lab.ip("postfix-rate"), ("smtpd_client_connection_rate_limit=1",)),
        Listener(lab.ip("postscreen-dnsbl"), (
            "postscreen_dnsbl_sites=bl.lab.test", "postscreen_dnsbl_threshold=1",
            "postscreen_dnsbl_action=enforce", "postscreen_greet_wait=1s",
            "postscreen_cache_map=btree:$data_directory/postscreen_dnsbl"), postscreen=True),
        Listener(lab.ip("postscreen-deep"), (
            "postscreen_pipelining_enable=yes", "postscreen_greet_wait=1s",
            "postscreen_cache_map=btree:$data_directory/postscreen_deep"), postscreen=True),
        Listener(lab.ip("postfix-encrypt"), ("smtpd_tls_security_level=encrypt",)),
        Listener(lab.ip("postfix-encrypt-old"), ("smtpd_tls_security_level=encrypt",
                                                  "smtpd_tls_mandatory_protocols=<=TLSv1.1")),
        Listener(lab.ip("postfix-ptr"), ("smtpd_peername_lookup=yes",
                                          "smtpd_client_restrictions=reject_unknown_client_hostname")),
        Listener(lab.ip("postfix-errors"), ("smtpd_hard_error_limit=2",)),
        Listener(lab.ip("postfix-noutf8"), ("smtputf8_enable=no",)),
        Listener(lab.ip("postfix-soft"), ("soft_bounce=yes",)),
        # Postfix's default relay check (postconf -d smtpd_relay_restrictions): 454 for a domain it does not serve
        Listener(lab.ip("postfix-defer"), (
            "smtpd_relay_restrictions=permit_mynetworks,permit_sasl_authenticated,defer_unauth_destination",)),
        Listener(lab.ip("postfix-vsender"), (
            "smtpd_sender_restrictions=reject_unverified_sender",
            "smtpd_recipient_restrictions=reject_unauth_destination,reject_unverified_recipient",
            "address_verify_poll_count=1")),
        # access(5) actions without text (Postfix words the replies); "<>": smtpd_null_access_lookup_key
        Listener(lab.ip("postfix-access"), (
            f"smtpd_sender_restrictions=check_sender_access,texthash:{root / 'maps' / 'senders'}",
            f"smtpd_recipient_restrictions=check_recipient_access,texthash:{root / 'maps' / 'rcpt-actions'}")),
        # a backup MX (relay_domains in main.cf: trivial-rewrite reads it there) with and without the list of
        # the recipients it may relay (relay_recipient_maps, read by smtpd)
        Listener(lab.ip("postfix-backup"), (f"relay_recipient_maps=texthash:{root / 'maps' / 'relay-rcpt'}",)),
        Listener(lab.ip("postfix-backupopen"), ("relay_recipient_maps=",)),
        # the submission service of Postfix's master.cf (/usr/share/postfix/master.cf.dist), as it ships:
        # SASL (Cyrus, its sasldb: AUTH offered, nobody can log in), AUTH only under TLS
        Listener(lab.ip("postfix-submission"), (
            "smtpd_tls_security_level=encrypt", "smtpd_sasl_auth_enable=yes", "smtpd_tls_auth_only=yes",
            "smtpd_reject_unlisted_recipient=no", f"cyrus_sasl_config_path={root / 'sasl'}",
            "smtpd_client_restrictions=", "smtpd_helo_restrictions=", "smtpd_sender_restrictions=",
            "smtpd_relay_restrictions=", "smtpd_recipient_restrictions=permit_sasl_authenticated,reject"),
            port=SUBMISSION_PORT),
        Listener(lab.ip("postfix-rhsbl"), ("smtpd_sender_restrictions=reject_rhsbl_sender,dbl.lab.test",)),
        Listener(lab.ip("postfix-debian"), (
            "mynetworks=127.0.0.0/8",
            "smtpd_relay_restrictions=permit_mynetworks,permit_sasl_authenticated,defer_unauth_destination",
            "smtpd_recipient_restrictions=", "recipient_delimiter=+", *tls_options(lab, "postfix-debian"))),
        Listener(lab.ip("postfix-450"), ("unknown_local_recipient_reject_code=450", *tls_options(lab, "postfix-450"))),
        Listener(lab.ip("postfix-tls13"), ("smtpd_tls_protocols=>=TLSv1.3", "smtpd_tls_mandatory_protocols=>=TLSv1.3",
                                          *tls_options(lab, "postfix-tls13"))),
        Listener(lab.ip("postfix-ccert"), ("smtpd_tls_security_level=encrypt", "smtpd_tls_req_ccert=yes",
                                          *tls_options(lab, "postfix-ccert"))),
        Listener(lab.ip("postfix-askccert"), ("smtpd_tls_ask_ccert=yes", *tls_options(lab, "postfix-askccert"))),
        Listener(lab.ip("postfix-size"), ("message_size_limit=1048576",)),
        Listener(lab.ip("postfix-senders"), (
            "smtpd_reject_unlisted_sender=yes", "smtpd_sender_restrictions=reject_non_fqdn_sender",
            f"smtpd_recipient_restrictions=reject_non_fqdn_recipient,check_recipient_access,texthash:{root / 'maps' / 'access'}")),
        Listener(lab.ip("postfix-revptr"), ("smtpd_peername_lookup=yes",
                                             "smtpd_client_restrictions=reject_unknown_reverse_client_hostname")),
        Listener(lab.ip("postfix-policy"), policy_maps),
        Listener(lab.ip("postfix-softpolicy"), (*policy_maps, "soft_bounce=yes")),
        Listener(lab.ip("postfix-earlypolicy"), (*policy_maps, "smtpd_delay_reject=no")),
        Listener(lab.ip("postfix-rfc821"), ("strict_rfc821_envelopes=yes", "smtpd_helo_required=yes")),
        Listener(lab.ip("postfix-nopipe"), ("smtpd_discard_ehlo_keywords=pipelining",
                                             "smtpd_sender_restrictions=reject_unauth_pipelining",
                                             "smtpd_data_restrictions=reject_unauth_pipelining")),
        Listener(lab.ip("postfix-anyuser"), ("local_recipient_maps=",)),
        Listener(lab.ip("postfix-forbid"), ("smtpd_forbid_unauth_pipelining=yes",)),
        Listener(lab.ip("postfix-authonly"), ("smtpd_sasl_auth_enable=yes", "smtpd_tls_auth_only=yes",
                                               f"cyrus_sasl_config_path={root / 'sasl'}")),
        # AUTH as many servers offer it: smtpd_tls_auth_only left at its default (no), so PLAIN and LOGIN are
        # offered before STARTTLS too
        Listener(lab.ip("postfix-authplain"), ("smtpd_sasl_auth_enable=yes", f"cyrus_sasl_config_path={root / 'sasl'}")),
        Listener(lab.ip("postscreen-bare"), (
            "postscreen_bare_newline_enable=yes", "postscreen_non_smtp_command_enable=yes",
            "postscreen_greet_wait=1s", "postscreen_cache_map=btree:$data_directory/postscreen_bare"),
            postscreen=True),
        Listener(lab.ip("tls-valid"), tls_options(lab, "tls-valid")),
        Listener(lab.ip("tls-expired"), tls_options(lab, "tls-expired", expired=True)),
        Listener(lab.ip("tls-wrongname"), tls_options(lab, "tls-wrongname", name="mx.elsewhere.test")),
        Listener(lab.ip("tls-selfsigned"), tls_options(lab, "tls-selfsigned", selfsigned=True)),
    ]
    (root / "etc" / "main.cf").write_text(main)
    (root / "etc" / "master.cf").write_text(postfix_master_cf(listeners, lab.port))
    # postmaster too, as on every installed Postfix (its aliases file's "postmaster: root"; RFC 5321 §4.5.1)
    (root / "maps" / "recipients").write_text(texthash({u: "ok" for u in (*USERS, "postmaster")}))
    (root / "maps" / "access").write_text(texthash(POSTFIX_ACCESS))
    (root / "maps" / "virtual").write_text(texthash({f"@{d}": "alice@pf.lab.test" for d in alias_domains}))
    (root / "maps" / "postscreen").write_text("127.0.0.0/8 reject\n")
    (root / "maps" / "rcpt-actions").write_text(texthash({
        "void@access.lab.test": "DISCARD"}))
    (root / "maps" / "clients").write_text(texthash({f"{lab.block}.{octet}": action
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
        "verify.lab.test": f"smtp:[{lab.ip('exim-verify')}]:{lab.port}",
        "unreach.lab.test": f"smtp:[{lab.ip('nowhere')}]:{lab.port}",
        "backup.lab.test": f"smtp:[{lab.ip('nowhere')}]:{lab.port}",
        "backupopen.lab.test": f"smtp:[{lab.ip('nowhere')}]:{lab.port}"}))
    log = root / "postfix.log"
    started = subprocess.run(lab._own_resolver(["/usr/sbin/postfix", "-c", str(root / "etc"), "start"]),
                             capture_output=True,
                             timeout=START_TIMEOUT_S, check=False)
    lab.stoppers.append(["/usr/sbin/postfix", "-c", str(root / "etc"), "abort"])
    if started.returncode != 0:
        raise LabError("postfix did not start: " + (started.stderr or started.stdout).decode(errors="replace")
                       + "\n" + _tail(log))
    for listener in listeners:
        wait_for_port("postfix", listener.ip, listener.port or lab.port, log)


def tls_options(lab: Lab, host: str, *, expired: bool = False, name: str | None = None,
                 selfsigned: bool = False) -> tuple[str, ...]:
    if selfsigned:
        cert_path, key_path = lab.ca.write(self_signed([lab.mx_name(host)]), host)
    else:
        cert_path, key_path = lab._cert(host, expired=expired, name=name)
    return (f"smtpd_tls_chain_files={key_path},{cert_path}", f"myhostname={lab.mx_name(host)}")
