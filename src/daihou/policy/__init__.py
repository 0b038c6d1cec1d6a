"""Policy packs: the numbers of every rule, as YAML validated by Pydantic."""

from daihou.policy.loader import load_pack
from daihou.policy.schema import PolicyPack, Product

__all__ = ["PolicyPack", "Product", "load_pack"]
