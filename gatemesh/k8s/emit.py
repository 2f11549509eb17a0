"""YAML as the manifests are committed: compose's style (block style, keys in the order
given, ``Flow`` lists on one line), plus multi-line strings as literal blocks so a
ConfigMap's JSON reads as JSON."""

from __future__ import annotations

from typing import Any

import yaml

from gatemesh.compose import emit


class _Dumper(emit._Dumper):  # noqa: SLF001 - the same style, one more representer
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=emit.WIDTH, allow_unicode=True
    )
