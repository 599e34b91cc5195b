"""`LiquidConfig`: one dataclass passed into every module, saved as JSON beside the weights."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

STATE_KINDS = ("diagonal", "matrix")


@dataclass
class LiquidConfig:
    """Sizes and switches of the liquid language model. Derived sizes are set in `__post_init__`."""

    vocab_size: int = 8192
    d_model: int = 384
    n_layers: int = 6
    state_kind: str = "matrix"  # "diagonal": one number per channel; "matrix": a (dk, dv) memory per head
    n_heads: int = 6  # matrix state and attention blocks
    d_ff: int = 0  # SwiGLU hidden width; 0 = derived so both state kinds have equal parameters
    conv_kernel: int = 3
    chunk_size: int = 64  # chunk length of the parallel (scan) form
    dt_min: float = 0.001  # initial range of the time step softplus(s + dt_bias)
    dt_max: float = 0.1
    norm_eps: float = 1e-5
    max_seq_len: int = 512  # training window; the model itself has no length limit
    init_std: float = 0.02
    # Blocks whose mixer is softmax attention over the last `attn_window` tokens instead of a
    # liquid mixer: an exact, bounded copy path (the state stays fixed-size). Empty = all liquid.
    attn_layers: list[int] = field(default_factory=list)
    attn_window: int = 512
    d_head: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.state_kind not in STATE_KINDS:
            raise ValueError(f"state_kind must be one of {STATE_KINDS}, got {self.state_kind!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.conv_kernel < 1 or self.chunk_size < 1:
            raise ValueError("conv_kernel and chunk_size must be >= 1")
        self.d_head = self.d_model // self.n_heads
        self.attn_layers = sorted({int(i) for i in self.attn_layers})
        if any(not 0 <= i < self.n_layers for i in self.attn_layers):
            raise ValueError(f"attn_layers {self.attn_layers} must be block indices below n_layers ({self.n_layers})")
        if self.attn_window < 1:
            raise ValueError("attn_window must be >= 1")
        if self.d_ff == 0:
            # SwiGLU at 8/3 d, rounded to 64; the matrix mixer's extra q/k projections (d*d more
            # than the diagonal one) are taken back from the MLP so the two kinds stay equal-sized.
            d_ff = int(8 * self.d_model / 3)
            if self.state_kind == "matrix":
                d_ff -= (self.d_model * self.d_model + self.d_model * self.n_heads - self.d_model) // (3 * self.d_model)
            self.d_ff = max(64, 64 * round(d_ff / 64))

    # --- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("d_head")
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "LiquidConfig":
        known = {f.name for f in fields(cls) if f.init}
        unknown = set(data) - known - {"d_head", "model_type"}
        if unknown:
            raise ValueError(f"unknown LiquidConfig fields: {sorted(unknown)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"model_type": "liquid", **self.to_dict()}, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "LiquidConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def hash(self) -> str:
        """A short digest of everything that decides the shapes of weights and states."""
        shape_keys = ["vocab_size", "d_model", "n_layers", "state_kind", "n_heads", "d_ff", "conv_kernel"]
        if self.attn_layers:  # only then, so all-liquid configs keep the hashes they always had
            shape_keys += ["attn_layers", "attn_window"]
        blob = json.dumps({k: getattr(self, k) for k in shape_keys}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
