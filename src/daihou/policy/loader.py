"""Load and validate a policy pack (the packaged default, or a YAML file)."""

from __future__ import annotations

import os
from functools import lru_cache

from daihou.policy.schema import PolicyPack
from daihou.yaml_packs import read_pack, validate_pack

DEFAULT_PACK = "cn-bank-default"


class PolicyError(ValueError):
    """A pack that does not validate; the message names each bad field."""


@lru_cache(maxsize=16)
def load_pack(name_or_path: str | None = None) -> PolicyPack:
    """``DAIHOU_POLICY_PACK`` (a pack name or a YAML path) or the packaged default."""
    name = name_or_path or os.environ.get("DAIHOU_POLICY_PACK") or DEFAULT_PACK
    kind = "policy pack"
    source, text = read_pack(
        name, package="daihou.policy", folder="packs", kind=kind, error=PolicyError
    )
    return validate_pack(PolicyPack, text, source=source, kind=kind, error=PolicyError)
