"""YAML as a person would write a compose file: block style, keys in the order given,
short lists of words (a command, a healthcheck) on one line, port mappings quoted."""

from __future__ import annotations

from typing import Any

import yaml

WIDTH = 4096  # never wrap: a command is one line, however long


class Flow(list):
    """A list written ``[a, b, c]``."""


class Quoted(str):
    """A string always written in double quotes (``"127.0.0.1:8080:8080"``)."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)  # "- item" indented under its key


_Dumper.add_representer(Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style='"'))


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=WIDTH, allow_unicode=True)
