"""Test support: a throw-away certificate authority (cryptography) for loopback TLS. Never used by a live probe."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class IssuedCert(NamedTuple):
    """One certificate and its key: PEM bytes for servers, DER for checks (DANE digests, describe_certificate)."""

    cert_pem: bytes
    key_pem: bytes
    der: bytes


def _new_key(rsa_bits: int | None) -> _PrivateKey:
    if rsa_bits:
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: _PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _validity(days: int, not_before: dt.datetime | None, expired: bool) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    if expired:
        return now - dt.timedelta(days=days + 30), now - dt.timedelta(days=30)
    start = not_before or now - dt.timedelta(minutes=5)
    return start, start + dt.timedelta(days=days)


class TestCA:
    """A CA made on the spot; `bundle_path` is the PEM file to pass as `cafile`.

    Files are written under `directory` (a pytest tmp_path, or a temporary directory for the demo).
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, directory: Path, name: str = "smtp-probe Test CA") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.bundle_path = self.directory / "ca.pem"
        self.bundle_path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        self._written = 0

    @property
    def der(self) -> bytes:
        """The CA certificate itself, DER (for DANE-TA record data)."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def issue(
        self,
        names: list[str] | str,
        *,
        days: int = 90,
        not_before: dt.datetime | None = None,
        expired: bool = False,
        rsa_bits: int | None = None,
    ) -> IssuedCert:
        """A server certificate for `names` (SAN; the first is also the CN), signed by this CA.

        expired=True: validity ended 30 days ago. rsa_bits: an RSA key of that size instead of EC P-256.
        """
        name_list = [names] if isinstance(names, str) else list(names)
        key = _new_key(rsa_bits)
        start, end = _validity(days, not_before, expired)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name_list[0])]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )
        if name_list:
            builder = builder.add_extension(_san(name_list), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return IssuedCert(
            cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), cert.public_bytes(serialization.Encoding.DER)
        )

    def write(self, issued: IssuedCert, stem: str | None = None) -> tuple[Path, Path]:
        """Write a certificate and its key as <stem>.crt / <stem>.key under the CA's directory."""
        self._written += 1
        stem = stem or f"leaf{self._written}"
        cert_path, key_path = self.directory / f"{stem}.crt", self.directory / f"{stem}.key"
        cert_path.write_bytes(issued.cert_pem)
        key_path.write_bytes(issued.key_pem)
        return cert_path, key_path

    def server_context(self, issued: IssuedCert) -> ssl.SSLContext:
        """A server-side SSLContext presenting `issued` (for asyncio.start_server(ssl=...))."""
        cert_path, key_path = self.write(issued)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_path, key_path)
        return context


def self_signed(names: list[str] | str, *, days: int = 90) -> IssuedCert:
    """A leaf certificate for `names` (SAN; the first is also the CN) that signs itself (no CA).

    What many small MTAs present. Its extensions are those `openssl req -x509` adds by default (the
    [ v3_ca ] section of Debian's /etc/ssl/openssl.cnf: subject and authority key identifiers,
    basicConstraints critical CA:true), so a verifier given it as a trust anchor accepts it.
    """
    name_list = [names] if isinstance(names, str) else list(names)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name_list[0])])
    start, end = _validity(days, None, False)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(_san(name_list), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return IssuedCert(
        cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), cert.public_bytes(serialization.Encoding.DER)
    )
