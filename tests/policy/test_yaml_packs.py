"""The shared reader of YAML packs: names, paths, parsing and the errors it raises."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
import yaml

from daihou.compliance.gate.packs import PackError, load_contact_pack
from daihou.compliance.language.lexicon import LexiconError
from daihou.compliance.language.lexicon import load_pack as load_lexicon_pack
from daihou.policy.loader import PolicyError, load_pack
from daihou.yaml_packs import load_yaml


def test_parses_as_safe_load_does() -> None:
    text = (resources.files("daihou.policy") / "packs" / "cn-bank-default.yaml").read_text("utf-8")
    assert load_yaml(text) == yaml.safe_load(text)
    tricky = "a: 2026-12-03\nb: 0.30\nc: '007'\nd: [1, {e: null}]\nf: yes\n"
    assert load_yaml(tricky) == yaml.safe_load(tricky)


def test_refuses_python_tags() -> None:
    with pytest.raises(yaml.YAMLError):
        load_yaml("!!python/object/apply:os.system ['true']")


@pytest.mark.parametrize(
    ("load", "error", "kind"),
    [
        (load_pack, PolicyError, "policy pack"),
        (load_contact_pack, PackError, "compliance pack"),
        (load_lexicon_pack, LexiconError, "lexicon pack"),
    ],
)
def test_unknown_name_and_invalid_file(
    load: Callable[[str], object], error: type[Exception], kind: str, tmp_path: Path
) -> None:
    with pytest.raises(error, match=f"no {kind} named 'no-such-pack'"):
        load("no-such-pack")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [1, 2]\n", encoding="utf-8")
    with pytest.raises(error) as err:
        load(str(bad))
    message = str(err.value)
    assert message.startswith(f"{kind} {bad} is invalid: ")
    assert "version" in message  # the bad field is named by its path
