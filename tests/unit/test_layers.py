"""The package layout is the architecture (docs/architecture.md): imports point down the layers only.

Every module of probe/ is read with ast (nothing is imported), and every `import`/`from ... import` of a probe
module, at the top or inside a function, is checked against the layer order; the pure core imports no I/O.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import probe

PACKAGE = Path(probe.__file__).resolve().parent

# Lowest first. A module may import its own layer and the layers below it, never one above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("vocabulary", ("probe.model", "probe.errors", "probe.caches")),
    ("core", ("probe.inputs", "probe.diagnosis")),
    ("io", ("probe.dns", "probe.smtp", "probe.tls")),
    ("judge", ("probe.judge",)),
    ("render", ("probe.render",)),
    ("testing", ("probe.testing",)),
    ("run", ("probe.run",)),
    ("fleet", ("probe.cluster",)),
    ("edge", ("probe.cli", "probe.__main__", "probe")),
]
# The pure core: no network, no event loop, no terminal. (`probe` itself re-exports the pure API.)
PURE = ("probe.model", "probe.errors", "probe.caches", "probe.inputs", "probe.diagnosis", "probe.judge.verdicts",
        "probe.judge.catchall", "probe.judge.greylist", "probe.judge.health", "probe.judge.expect", "probe.judge.expectations",
        "probe.judge.advice", "probe.judge.reportfacts", "probe.render")
IO_MODULES = ("asyncio", "socket", "ssl", "dns", "click", "aiosmtpd", "http", "urllib.request", "selectors")


def _rank(module: str) -> int:
    best = (-1, -1)  # (prefix length, rank): the longest matching prefix decides
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), rank)
    if best[1] < 0:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS and docs/architecture.md")
    return best[1]


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["probe", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, relative ones made absolute."""
    is_package = path.name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            # `from probe.x import y` may name a submodule y
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names if f"{base}.{a.name}" in MODULES]
    return found


def test_every_module_belongs_to_a_layer() -> None:
    for module in MODULES:
        _rank(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module: str) -> None:
    mine = _rank(module)
    upward = [f"line {line}: {target} ({LAYERS[_rank(target)][0]})"
              for line, target in _imports(module, MODULES[module])
              if target.startswith("probe.") and target != module and _rank(target) > mine]
    assert not upward, f"{module} ({LAYERS[mine][0]}) imports from a higher layer:\n" + "\n".join(upward)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(PURE)))
def test_the_pure_core_imports_no_io(module: str) -> None:
    bad = [f"line {line}: {target}" for line, target in _imports(module, MODULES[module])
           if target.split(".")[0] in {m.split(".")[0] for m in IO_MODULES if "." not in m}
           or target in IO_MODULES
           or target.startswith(("probe.dns", "probe.smtp", "probe.tls", "probe.run", "probe.cli"))]
    assert not bad, f"{module} is pure but imports I/O:\n" + "\n".join(bad)


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    """The check is not vacuous: a core module importing the CLI is caught."""
    fake = tmp_path / "x.py"
    fake.write_text("from probe.cli import main\n", encoding="utf-8")
    targets = [t for _, t in _imports("probe.diagnosis.x", fake)]
    assert any(_rank(t) > _rank("probe.diagnosis.x") for t in targets if t.startswith("probe."))
