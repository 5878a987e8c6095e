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
import hashlib
import itertools
import os
import re
import ssl
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from probe.tls.certificates import is_self_signed

_PEM_BLOCK = re.compile(rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----(.+?)-----END (?:TRUSTED )?CERTIFICATE-----", re.S)


class TrustStore:
    """Trust anchors (DER); `judge` tells whether a chain leads to one of them.

    `directory`: a CA directory (OpenSSL's hashed names, c_rehash) consulted only when the anchors given
    do not make a chain trusted, and then, as OpenSSL does, only the files named by the hash of an
    issuer the chain names (not the whole directory: a system directory holds hundreds of files).
    """

    def __init__(self, anchors: Iterable[bytes], *, directory: str | None = None) -> None:
        self.anchors = frozenset(anchors)
        self._directory = directory
        self._hashes_read: set[str] = set()
        self._store: Any = None
        self._certificates: list[Any] = []
        self._subjects: set[Any] | None = None  # the anchors' subject names, read when a chain fails

    def _read_directory(self, certs: Sequence[Any]) -> bool:
        """Add the directory's certificates that could issue one of `certs` (their files named by the
        issuer's hash, as OpenSSL looks them up); False when that brings no new anchor."""
        if self._directory is None:
            return False
        more: set[bytes] = set()
        for cert in certs:
            stem = subject_hash(cert.issuer.public_bytes())
            if not stem or stem in self._hashes_read:
                continue
            self._hashes_read.add(stem)
            for number in itertools.count():  # <hash>.0, <hash>.1, ... up to the first missing one
                path = os.path.join(self._directory, f"{stem}.{number}")
                if not os.path.exists(path):
                    break
                more.update(_pem_certificates(_read(path)))
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
        self._certificates, self._subjects = certificates, None
        self._store = verification.Store(certificates)

    def _anchor_subjects(self) -> set[Any]:
        """The anchors' subject names, read only to word a failure (reading a name costs; a store holds 150)."""
        if self._subjects is None:
            self._subjects = {c.subject for c in self._certificates}
        return self._subjects

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
        if failure is not None and self._read_directory(certs):
            failure = self._failure(certs, moment)
        if failure is None:
            return None
        # OpenSSL's order: the chain is built first (issuer errors), then signatures and dates are checked
        if chain[0] not in self.anchors and is_self_signed(certs[0]):
            return "self-signed certificate"
        top = certs[-1]
        if chain[-1] not in self.anchors and top.issuer not in self._anchor_subjects():
            if len(certs) > 1 and is_self_signed(top):
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


# -- OpenSSL's subject-name hash (X509_NAME_hash_ex), which names the files of a CA directory ---------------

# string types OpenSSL canonicalises (ASN1_MASK_CANON), with how each decodes (ASN1_STRING_to_UTF8)
_CANONICAL_STRINGS = {0x0C: "utf-8", 0x13: "latin-1", 0x14: "latin-1", 0x16: "latin-1", 0x1A: "latin-1",
                      0x1C: "utf-32-be", 0x1E: "utf-16-be"}
_ASCII_SPACE = re.compile(rb"[ \t\n\v\f\r]+")
_ASCII_UPPER = re.compile(rb"[A-Z]+")


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, whole TLV) of each DER element in `data`, in order. Raises ValueError on a bad length."""
    items, at = [], 0
    while at < len(data):
        tag, length, start = data[at], data[at + 1], at + 2
        if length & 0x80:
            count = length & 0x7F
            length, start = int.from_bytes(data[start:start + count], "big"), start + count
        end = start + length
        if end > len(data):
            raise ValueError("truncated DER")
        items.append((tag, data[at:end]))
        at = end
    return items


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _content(tlv: bytes) -> bytes:
    return tlv[2 + (tlv[1] & 0x7F if tlv[1] & 0x80 else 0):]


def _canonical_value(tlv: bytes) -> bytes:
    """asn1_string_canon: a text value as lower-case UTF-8 (ASCII letters), outer spaces stripped and
    inner runs of spaces made one, as a UTF8String; other types unchanged."""
    encoding = _CANONICAL_STRINGS.get(tlv[0])
    if encoding is None:
        return tlv
    text = _content(tlv).decode(encoding).encode("utf-8")
    text = _ASCII_SPACE.sub(b" ", text.strip(b" \t\n\v\f\r"))
    return _der(0x0C, _ASCII_UPPER.sub(lambda m: m.group().lower(), text))


def subject_hash(name_der: bytes) -> str:
    """The 8 hex digits OpenSSL names a CA directory's file by for a certificate with this subject
    (`openssl x509 -subject_hash`): SHA-1 of the name's canonical encoding, its first 4 bytes little-endian.
    "" for a name it cannot read."""
    try:
        canonical = b""
        for _tag, rdn in _der_items(_content(name_der)):
            entries = []
            for _tag, entry in _der_items(_content(rdn)):
                oid, value = _der_items(_content(entry))
                entries.append(_der(0x30, oid[1] + _canonical_value(value[1])))
            canonical += _der(0x31, b"".join(sorted(entries)))  # DER: a SET OF sorted by encoding
    except (ValueError, IndexError, UnicodeDecodeError):
        return ""
    return hashlib.sha1(canonical).digest()[3::-1].hex()  # OpenSSL's file naming, not a security use
