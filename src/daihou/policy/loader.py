"""Load and validate a policy pack (the packaged default, or a YAML file)."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from daihou.policy.schema import PolicyPack

DEFAULT_PACK = "cn-bank-default"


class PolicyError(ValueError):
    """A pack that does not validate; the message names each bad field."""


def _read(name_or_path: str) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        return str(path), path.read_text(encoding="utf-8")
    resource = resources.files("daihou.policy") / "packs" / f"{name_or_path}.yaml"
    if not resource.is_file():
        raise PolicyError(f"no policy pack named {name_or_path!r}")
    return f"packs/{name_or_path}.yaml", resource.read_text(encoding="utf-8")


@lru_cache(maxsize=16)
def load_pack(name_or_path: str | None = None) -> PolicyPack:
    """``DAIHOU_POLICY_PACK`` (a pack name or a YAML path) or the packaged default."""
    source, text = _read(name_or_path or os.environ.get("DAIHOU_POLICY_PACK") or DEFAULT_PACK)
    try:
        return PolicyPack.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"policy pack {source} is invalid: {problems}") from None
