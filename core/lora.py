"""Low-rank adapters (LoRA) on the model's projections.

Every projection in the mixers and MLPs is a `LoRALinear`: a plain `nn.Linear` until an adapter is
attached. An adapter adds `scale * B(A(x))` with B zero-initialised, so a fresh adapter changes
nothing. Adapters are saved and loaded apart from the base weights (safetensors), can be switched
off for a forward pass (the frozen base, used for distillation), and merged into the weights.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from core.errors import AdapterMismatch

ADAPTER_FORMAT = "liquid-lora/1"


class LoRALinear(nn.Linear):
    """`nn.Linear` with an optional low-rank update `scale * B @ A` (rank r)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.lora_A: nn.Parameter | None = None  # (r, in)
        self.lora_B: nn.Parameter | None = None  # (out, r)
        self.lora_scale = 0.0
        self.lora_enabled = True

    def attach(self, rank: int, alpha: float, generator: torch.Generator | None = None) -> None:
        w = self.weight
        a = torch.empty(rank, self.in_features, dtype=w.dtype, device=w.device)
        bound = 1.0 / math.sqrt(self.in_features)
        a.uniform_(-bound, bound, generator=generator)
        self.lora_A = nn.Parameter(a)
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, rank, dtype=w.dtype, device=w.device))
        self.lora_scale = alpha / rank

    def detach_adapter(self) -> None:
        self.lora_A = None
        self.lora_B = None
        self.lora_scale = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        if self.lora_A is not None and self.lora_enabled:
            y = y + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.lora_scale
        return y

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the adapter into the weight and drop it."""
        if self.lora_A is not None:
            self.weight += (self.lora_B @ self.lora_A) * self.lora_scale
            self.detach_adapter()


def lora_modules(model: nn.Module) -> dict[str, LoRALinear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def attach_lora(model: nn.Module, rank: int = 8, alpha: float = 16.0, seed: int = 0) -> list[nn.Parameter]:
    """Attach a fresh adapter to every projection; returns the adapter's parameters.

    The base weights are frozen; only the adapter trains.
    """
    if rank < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {rank}")
    for p in model.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    params: list[nn.Parameter] = []
    for m in lora_modules(model).values():
        m.attach(rank, alpha, generator=gen)
        params += [m.lora_A, m.lora_B]
    return params


def detach_lora(model: nn.Module) -> None:
    for m in lora_modules(model).values():
        m.detach_adapter()


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for m in lora_modules(model).values() if m.lora_A is not None for p in (m.lora_A, m.lora_B)]


def has_lora(model: nn.Module) -> bool:
    return any(m.lora_A is not None for m in lora_modules(model).values())


@contextlib.contextmanager
def lora_disabled(model: nn.Module) -> Iterator[None]:
    """Run the frozen base model: adapters are bypassed inside the block."""
    mods = list(lora_modules(model).values())
    before = [m.lora_enabled for m in mods]
    for m in mods:
        m.lora_enabled = False
    try:
        yield
    finally:
        for m, was in zip(mods, before):
            m.lora_enabled = was


def merge_lora(model: nn.Module) -> None:
    for m in lora_modules(model).values():
        m.merge()


def plain_copy(model: nn.Module) -> nn.Module:
    """A deep copy with the adapter merged and every `LoRALinear` replaced by a plain `nn.Linear`
    (what inference-only transforms such as dynamic quantisation expect); the original is untouched."""
    import copy

    clone = copy.deepcopy(model).eval()
    merge_lora(clone)
    for module in list(clone.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, LoRALinear):
                plain = nn.Linear(child.in_features, child.out_features, bias=child.bias is not None)
                plain.load_state_dict({k: v for k, v in child.state_dict().items() if "lora_" not in k})
                setattr(module, name, plain)
    return clone


def quantize_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantisation of every `nn.Linear` (weights int8, activations quantised on the fly)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice; the API works in the pinned torch
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def adapter_to_bytes(model: nn.Module, config_hash: str, meta: dict | None = None) -> bytes:
    """The adapter alone, as safetensors bytes, tagged with the base model's config hash."""
    tensors: dict[str, torch.Tensor] = {}
    scale = None
    for name, m in lora_modules(model).items():
        if m.lora_A is not None:
            tensors[f"{name}.lora_A"] = m.lora_A.detach().contiguous().clone()
            tensors[f"{name}.lora_B"] = m.lora_B.detach().contiguous().clone()
            scale = m.lora_scale
    if not tensors:
        raise ValueError("the model has no adapter attached")
    header = {"format": ADAPTER_FORMAT, "config_hash": config_hash, "scale": repr(scale), "meta": json.dumps(meta or {})}
    return st_save(tensors, metadata=header)


def adapter_metadata(data: bytes) -> dict:
    """Read the header of saved adapter bytes without loading tensors."""
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n])
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdapterMismatch(f"not an adapter file: {exc}") from None
    return header.get("__metadata__", {})


def load_adapter_bytes(model: nn.Module, data: bytes, config_hash: str) -> dict:
    """Attach the saved adapter to `model` (replacing any); returns its metadata dict."""
    header = adapter_metadata(data)
    if header.get("format") != ADAPTER_FORMAT:
        raise AdapterMismatch(f"unknown adapter format {header.get('format')!r}; expected {ADAPTER_FORMAT!r}")
    if header.get("config_hash") != config_hash:
        raise AdapterMismatch(
            f"adapter was made for model {header.get('config_hash')}, this model is {config_hash}"
        )
    tensors = st_load(data)
    mods = lora_modules(model)
    scale = float(header["scale"])
    for name, m in mods.items():
        a, b = tensors.get(f"{name}.lora_A"), tensors.get(f"{name}.lora_B")
        if a is None or b is None:
            raise AdapterMismatch(f"adapter has no tensors for {name}")
        if a.shape[1] != m.in_features or b.shape[0] != m.out_features or a.shape[0] != b.shape[1]:
            raise AdapterMismatch(f"adapter tensor shapes {tuple(a.shape)}/{tuple(b.shape)} do not fit {name}")
    extra = set(tensors) - {f"{n}.lora_{x}" for n in mods for x in "AB"}
    if extra:
        raise AdapterMismatch(f"adapter has tensors this model lacks: {sorted(extra)[:3]}")
    for name, m in mods.items():
        w = m.weight
        m.lora_A = nn.Parameter(tensors[f"{name}.lora_A"].to(w.dtype), requires_grad=False)
        m.lora_B = nn.Parameter(tensors[f"{name}.lora_B"].to(w.dtype), requires_grad=False)
        m.lora_scale = scale
    return {**header, "meta": json.loads(header.get("meta", "{}"))}
