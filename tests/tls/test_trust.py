"""probe.trust: a chain judged after the handshake, failures said in OpenSSL's words."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from probe.testing.certs import TestCA, self_signed
from probe.trust import TrustStore, _store_from_paths


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


def test_a_self_signed_certificate_given_as_an_anchor_is_trusted() -> None:
    leaf = self_signed(["mx.t"]).der
    assert TrustStore([leaf]).judge([leaf]) is None


def test_the_store_reads_a_ca_file_and_openssl_hashed_names_in_a_ca_directory(tmp_path: Path) -> None:
    first, second = TestCA(tmp_path / "a"), TestCA(tmp_path / "b", "Second CA")
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "0a1b2c3d.0").write_bytes(second.bundle_path.read_bytes())
    skipped = TestCA(tmp_path / "c", "Skipped CA")
    (directory / "README.pem").write_bytes(skipped.bundle_path.read_bytes())  # not a hashed name: OpenSSL skips it
    store = _store_from_paths(str(first.bundle_path), str(directory))
    assert store.judge([first.issue(["mx.t"]).der]) is None
    assert store.anchors == {first.der}  # the directory is read only for an issuer the file lacks
    assert store.judge([second.issue(["mx.t"]).der]) is None
    assert store.anchors == {first.der, second.der}
    assert store.judge([skipped.issue(["mx.t"]).der]) == "unable to get local issuer certificate"
