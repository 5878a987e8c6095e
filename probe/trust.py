"""Certificate trust judged after the handshake: the chain a server sent, checked against a trust store.

The probe does one STARTTLS handshake without verification, as opportunistic senders do (RFC 7435),
takes the chain the server sent and checks it here with cryptography's X.509 verification: the
chain up to an anchor of the store, and the dates. The name is judged on its own (tlsinfo's
hostname_match), as when OpenSSL verified with check_hostname off. A failure is said in OpenSSL's
words ("self-signed certificate", "certificate has expired", "unable to get local issuer
certificate"), so reports read as they did when OpenSSL judged during the handshake. No sockets.

The system store is the one ssl.create_default_context() loads: ssl.get_default_verify_paths()
(SSL_CERT_FILE / SSL_CERT_DIR honoured), read once per process and only when a certificate is judged.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import os
import re
import ssl
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

_PEM_BLOCK = re.compile(rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----(.+?)-----END (?:TRUSTED )?CERTIFICATE-----", re.S)
_HASHED_NAME = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")  # how OpenSSL names certificates in a CA directory


class TrustStore:
    """Trust anchors (DER); `judge` tells whether a chain leads to one of them.

    `directory`: a CA directory (OpenSSL's hashed names) read only when the anchors given do not
    make a chain trusted, as OpenSSL looks there only for an issuer it has not found.
    """

    def __init__(self, anchors: Iterable[bytes], *, directory: str | None = None) -> None:
        self.anchors = frozenset(anchors)
        self._directory = directory
        self._store: Any = None
        self._subjects: set[Any] = set()

    def _read_directory(self) -> bool:
        """Add the directory's certificates to the anchors; False when there is nothing (more) to read."""
        directory, self._directory = self._directory, None
        if directory is None:
            return False
        try:
            names = sorted(n for n in os.listdir(directory) if _HASHED_NAME.match(n))
        except OSError:
            names = []
        more = {der for name in names for der in _pem_certificates(_read(os.path.join(directory, name)))}
        if more <= self.anchors:
            return False
        self.anchors |= more
        self._store = None
        return True

    def _load(self) -> None:
        from cryptography import x509
        from cryptography.x509 import verification

        certificates = []
        with warnings.catch_warnings():  # old roots with a negative serial number: still anchors to OpenSSL
            warnings.simplefilter("ignore")
            for der in self.anchors:
                try:
                    certificates.append(x509.load_der_x509_certificate(der))
                except ValueError:
                    continue  # one unreadable anchor does not spoil the others
        self._subjects = {c.subject for c in certificates}
        self._store = verification.Store(certificates)

    def _verifier(self, moment: dt.datetime) -> Any:
        from cryptography.x509 import verification

        if self._store is None:
            self._load()
        # The chain and its dates, not the name (judged apart); the CA certificates held to the Web PKI
        # profile, the leaf to nothing more than OpenSSL's check_hostname=False verification asked.
        return (verification.PolicyBuilder().store(self._store).time(moment)
                .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=verification.ExtensionPolicy.permit_all())
                .build_client_verifier())

    def judge(self, chain: Sequence[bytes], now: dt.datetime | None = None) -> str | None:
        """None when `chain` (leaf first, DER) leads to an anchor and every certificate on the way is in
        date; otherwise why not, in OpenSSL's words. Never raises."""
        from cryptography import x509

        if not chain:
            return "the server presented no certificate"
        try:
            certs = [x509.load_der_x509_certificate(der) for der in chain]
        except ValueError as exc:
            return f"unreadable certificate: {exc}"
        moment = now or dt.datetime.now(dt.UTC)
        failure = self._failure(certs, moment)
        if failure is not None and self._read_directory():
            failure = self._failure(certs, moment)
        if failure is None:
            return None
        # OpenSSL's order: the chain is built first (issuer errors), then signatures and dates are checked
        if chain[0] not in self.anchors and _signs_itself(certs[0]):
            return "self-signed certificate"
        top = certs[-1]
        if chain[-1] not in self.anchors and top.issuer not in self._subjects:
            if len(certs) > 1 and _signs_itself(top):
                return "self-signed certificate in certificate chain"
            return "unable to get local issuer certificate"
        if any(c.not_valid_after_utc < moment for c in certs):
            return "certificate has expired"
        if any(c.not_valid_before_utc > moment for c in certs):
            return "certificate is not yet valid"
        return failure

    def _failure(self, certs: list[Any], moment: dt.datetime) -> str | None:
        from cryptography.x509 import verification

        try:
            self._verifier(moment).verify(certs[0], certs[1:])
        except verification.VerificationError as exc:
            text = str(exc).removeprefix("validation failed: ")
            return text.split(" (encountered processing")[0] or "verification failed"
        except ValueError as exc:  # an unusable certificate or store
            return str(exc) or "verification failed"
        return None


def _signs_itself(cert: Any) -> bool:
    from cryptography.exceptions import InvalidSignature

    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _pem_certificates(data: bytes) -> list[bytes]:
    """The DER of every PEM certificate in `data` (OpenSSL's TRUSTED CERTIFICATE form included)."""
    ders = []
    for body in _PEM_BLOCK.findall(data):
        try:
            ders.append(binascii.a2b_base64(body))
        except binascii.Error:
            continue
    return ders


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


@functools.lru_cache(maxsize=4)
def _store_from_paths(cafile: str | None, capath: str | None) -> TrustStore:
    return TrustStore(_pem_certificates(_read(cafile)) if cafile else [], directory=capath)


def system_store() -> TrustStore:
    """The store ssl.create_default_context() would verify against (read once per process and paths)."""
    paths = ssl.get_default_verify_paths()
    return _store_from_paths(paths.cafile, paths.capath)


def context_store(context: ssl.SSLContext) -> TrustStore:
    """The anchors a verifying SSLContext holds (those it loaded from a cafile or cadata)."""
    return TrustStore(bytes(der) for der in context.get_ca_certs(binary_form=True))
