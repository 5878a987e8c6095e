"""probe.dns.loading: dnspython loaded by the command line without package-metadata scans, and still whole."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import sys
    from probe.dns.loading import prepare_dnspython

    prepare_dnspython()
    import dns.asyncresolver, dns.name, dns.reversename, dns._features

    print("metadata loaded at import:", "importlib.metadata._meta" in sys.modules)
    print("idna loaded at import:", "idna" in sys.modules)
    print("name:", dns.reversename.from_address("192.0.2.1"), dns.name.from_text("xn--bcher-kva.Example.test"))
    print("features:", [dns._features.have(f) for f in ("doh", "doq", "idna")])
    import importlib.metadata
    from importlib.metadata import version

    print("version:", importlib.metadata.version("dnspython") == version("dnspython") == dns.version.version)
    print("metadata loaded on use:", "importlib.metadata._meta" in sys.modules)
    print("the real module:", sys.modules["importlib.metadata"].__file__.endswith("metadata/__init__.py"))
""")


def run_child() -> list[str]:
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.splitlines()


def test_dnspython_loads_without_reading_package_metadata_which_still_loads_when_used() -> None:
    assert run_child() == [
        "metadata loaded at import: False",
        "idna loaded at import: False",
        "name: 1.2.0.192.in-addr.arpa. xn--bcher-kva.Example.test.",
        "features: [False, False, False]",
        "version: True",
        "metadata loaded on use: True",
        "the real module: True",
    ]


def test_a_process_that_loaded_dnspython_already_keeps_it_as_it_is() -> None:
    import importlib.metadata

    import dns._features

    from probe.dns.loading import prepare_dnspython

    before = dict(dns._features._cache)
    module = sys.modules["importlib.metadata"]
    prepare_dnspython()
    assert dns._features._cache == before
    assert sys.modules["importlib.metadata"] is module is importlib.metadata
