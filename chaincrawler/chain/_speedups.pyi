from typing import TypeVar

_T = TypeVar("_T")

def address_from_script(
    script: bytes, hrp: str, p2pkh_prefix: int, p2sh_prefix: int, /
) -> str | None: ...
def parse_transactions(
    data: bytes, pos: int, count: int, network: object, cls: type[_T], /
) -> tuple[list[_T], int] | None: ...
def decode_outputs(
    buf: bytes, pos: int, network: object, cls: type[_T], unset: object, /
) -> list[_T] | None: ...
def decode_inputs(
    buf: bytes, pos: int, witness_pos: int, cls: type[_T], outpoint_cls: type[object], /
) -> list[_T] | None: ...
