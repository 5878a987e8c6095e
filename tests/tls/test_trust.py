"""probe.tls.trust: a chain judged after the handshake, failures said in OpenSSL's words."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from probe.testing.certs import TestCA, self_signed
from probe.tls.trust import TrustStore, _store_from_paths, subject_hash


def test_openssl_words_for_each_failure(tmp_path: Path) -> None:
    ca, other = TestCA(tmp_path / "a"), TestCA(tmp_path / "b", "Other CA")
    store = TrustStore([ca.der])
    assert store.judge([ca.issue(["mx.t"]).der]) is None
    assert store.judge([ca.issue(["wrong.t"]).der]) is None  # the name is judged apart (hostname_match)
    assert store.judge([ca.issue(["mx.t"], expired=True).der]) == "certificate has expired"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert store.judge([ca.issue(["mx.t"], not_before=later).der]) == "certificate is not yet valid"
    assert store.judge([self_signed(["mx.t"]).der]) == "self-signed certificate"
    assert store.judge([other.issue(["mx.t"]).der]) == "unable to get local issuer certificate"
    assert store.judge([other.issue(["mx.t"]).der, other.der]) == "self-signed certificate in certificate chain"
    assert store.judge([]) == "the server presented no certificate"
    assert (store.judge([b"\x30\x03garbage"]) or "").startswith("unreadable certificate")


def test_the_anchors_names_are_read_only_to_word_a_failure(tmp_path: Path) -> None:
    ca, other = TestCA(tmp_path / "a"), TestCA(tmp_path / "b", "Other CA")
    store = TrustStore([ca.der, other.der])
    assert store.judge([ca.issue(["mx.t"]).der]) is None
    assert store._subjects is None  # a trusted chain: 150 system anchors' names are not parsed (start-up)
    assert store.judge([ca.issue(["mx.t"], expired=True).der]) == "certificate has expired"
    assert store._subjects == {ca.certificate.subject, other.certificate.subject}


def test_a_self_signed_certificate_given_as_an_anchor_is_trusted() -> None:
    leaf = self_signed(["mx.t"]).der
    assert TrustStore([leaf]).judge([leaf]) is None


def test_the_store_reads_a_ca_file_and_openssl_hashed_names_in_a_ca_directory(tmp_path: Path) -> None:
    first, second = TestCA(tmp_path / "a"), TestCA(tmp_path / "b", "Second CA")
    twin_a, twin_b = TestCA(tmp_path / "t1", "Twin CA"), TestCA(tmp_path / "t2", "Twin CA")  # one name, two keys
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / f"{_hash(second)}.0").write_bytes(second.bundle_path.read_bytes())
    (directory / f"{_hash(twin_a)}.0").write_bytes(twin_a.bundle_path.read_bytes())
    (directory / f"{_hash(twin_b)}.1").write_bytes(twin_b.bundle_path.read_bytes())  # OpenSSL tries .0, .1, ...
    skipped = TestCA(tmp_path / "c", "Skipped CA")
    (directory / "README.pem").write_bytes(skipped.bundle_path.read_bytes())  # not a hashed name: OpenSSL skips it
    (directory / "0a1b2c3d.0").write_bytes(skipped.bundle_path.read_bytes())  # not its subject's hash: not found
    store = _store_from_paths(str(first.bundle_path), str(directory))
    assert store.judge([first.issue(["mx.t"]).der]) is None
    assert store.anchors == {first.der}  # the directory is read only for an issuer the file lacks
    assert store.judge([second.issue(["mx.t"]).der]) is None
    assert store.anchors == {first.der, second.der}  # and then only that issuer's files
    assert store.judge([twin_b.issue(["mx.t"]).der]) is None
    assert store.anchors == {first.der, second.der, twin_a.der, twin_b.der}
    assert store.judge([skipped.issue(["mx.t"]).der]) == "unable to get local issuer certificate"
    assert skipped.der not in store.anchors


def _hash(ca: TestCA) -> str:
    return subject_hash(ca.certificate.subject.public_bytes())


SYSTEM_DIRECTORY = Path("/etc/ssl/certs")


@pytest.mark.skipif(not SYSTEM_DIRECTORY.is_dir(), reason="no system CA directory")
def test_the_subject_hash_names_every_certificate_of_the_system_directory_as_c_rehash_did() -> None:
    from cryptography import x509

    hashed = [p for p in sorted(SYSTEM_DIRECTORY.iterdir()) if re.fullmatch(r"[0-9a-f]{8}\.[0-9]+", p.name)]
    if not hashed:
        pytest.skip("the system CA directory has no hashed names")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # old roots with a negative serial number
        for path in hashed:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
            assert subject_hash(certificate.subject.public_bytes()) == path.name.split(".")[0], path


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
@pytest.mark.parametrize("attributes", [
    [("CN", "  Mixed   CASE\tName  ", None)],
    [("C", "DE", _ASN1Type.PrintableString), ("O", "Bäcker & Söhne GmbH", _ASN1Type.BMPString),
     ("CN", "MX.Example.ORG", _ASN1Type.IA5String)],
    [("CN", "Ünïcode  Ünïcode", _ASN1Type.UniversalString), ("OU", "   ", None)],
    [("CN", "same rdn", None, "O", "Two Values", None)],  # a multi-valued RDN: a SET OF, sorted
    [("serialNumber", "00 12  34", _ASN1Type.PrintableString), ("L", "T61 Städte", _ASN1Type.T61String)],
])
def test_the_subject_hash_is_openssls_for_names_of_every_string_type(
        tmp_path: Path, attributes: list[tuple[Any, ...]]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    oids = {"CN": NameOID.COMMON_NAME, "C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME,
            "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "L": NameOID.LOCALITY_NAME, "serialNumber": NameOID.SERIAL_NUMBER}
    rdns = []
    for row in attributes:
        pairs = [row[i:i + 3] for i in range(0, len(row), 3)]
        rdns.append(x509.RelativeDistinguishedName(
            [x509.NameAttribute(oids[key], value, **({"_type": kind} if kind else {})) for key, value, kind in pairs]))
    name = x509.Name(rdns)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    path = tmp_path / "cert.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    openssl = subprocess.run(["openssl", "x509", "-noout", "-subject_hash", "-in", str(path)],
                             capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    assert subject_hash(certificate.subject.public_bytes()) == openssl
