"""Fixtures for the SMTP wire and session tests: a self-signed server certificate and TLS contexts."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest

from probe.testing.certs import self_signed
from probe.tls.certificates import client_context


@dataclass(frozen=True)
class ServerCert:
    """A self-signed certificate for mx.test / 127.0.0.1 and its key, as PEM files."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def trusting_client_context(self, verify: bool) -> ssl.SSLContext:
        """A client context that trusts this certificate (verify=True) or checks nothing (no store loaded)."""
        return client_context(verify=verify, cafile=str(self.cert))


def make_server_cert(directory: Path, common_name: str = "mx.test") -> ServerCert:
    issued = self_signed([common_name, "127.0.0.1"], days=2)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(issued.cert_pem)
    key_path.write_bytes(issued.key_pem)
    return ServerCert(cert_path, key_path)


@pytest.fixture(scope="session")
def server_cert(tmp_path_factory: pytest.TempPathFactory) -> ServerCert:
    return make_server_cert(tmp_path_factory.mktemp("smtp-tls"))
