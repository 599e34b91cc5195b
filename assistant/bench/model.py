"""`assistant bench model`: the liquid model against an equal-size transformer, in one run.

Random weights of the shipped model's config (models/default/config.json; the built-in default
if none is shipped): speed does not depend on their values. Decode speed after a
context of N tokens is timed from a state that has read N tokens (liquid: a real prefill; the
transformer: a real prefill up to 8K, above that a KV cache filled to N with random values, since
attention cost depends on the length, not the values).

Fair by construction (issue 18):
- every model gets every decoding mode that exists for it (eager, int8, compiled, int8+compiled;
  the transformer's compiled modes use a fixed-shape step over its preallocated cache, which
  `torch.compile` compiles once) at every context, and the best of each is reported beside all;
- state bytes are measured for every model: the real state after reading N tokens (the liquid
  state; the transformer's cache filled to N) serialised with safetensors, and counted;
- a like-for-like row: the same config with liquid blocks only against window-attention blocks
  only (the shipped window), so the ratio speaks of the liquid mixer, not of bounded against full
  attention.
"""

from __future__ import annotations

import json
import sys

CONTEXTS = (1024, 8192, 32768)
MODES = ("eager", "int8", "compile", "int8+compile")
QUICK_MODES = ("eager", "int8")


def _liquid_decode(step, state, n: int):
    import torch

    ids = torch.zeros(1, dtype=torch.long)
    for _ in range(n):
        logits, state = step(ids, state)
        ids = logits.argmax(-1)
    return state


def liquid_steppers(model, modes, log) -> dict:
    """mode -> `step(ids, state)` for a `LiquidLM`-shaped model; a mode that cannot be built
    (a compiler missing or failing) is left out and logged."""
    from core.fast import compiled_step, int8_decoder

    steppers, q = {}, None
    for mode in modes:
        try:
            if mode == "eager":
                steppers[mode] = model.step
            elif mode == "int8":
                q = int8_decoder(model)
                steppers[mode] = q.step
            elif mode == "compile":
                steppers[mode] = compiled_step(model)
            elif mode == "int8+compile":
                steppers[mode] = compiled_step(q if q is not None else int8_decoder(model))
        except Exception as exc:  # keep the other paths
            log(f"decode mode {mode} unavailable: {type(exc).__name__}: {exc}")
    return steppers


def transformer_steppers(model, modes, log) -> dict:
    """mode -> `step(ids, cache, pos)` for the transformer: eager and int8 run the cached forward
    (attention over the filled part of the cache), the compiled modes its fixed-shape step."""
    import copy

    import torch

    from core.lora import quantize_int8

    def cached(m):
        def step(ids, cache, pos):
            cache.pos = int(pos)
            return m(ids[:, None], cache)[:, -1]
        return step

    steppers, q = {}, None
    for mode in modes:
        try:
            if mode == "eager":
                steppers[mode] = cached(model)
            elif mode == "int8":
                q = quantize_int8(copy.deepcopy(model))
                steppers[mode] = cached(q)
            elif mode == "compile":
                steppers[mode] = torch.compile(model.step_static, dynamic=False)
            elif mode == "int8+compile":
                steppers[mode] = torch.compile((q if q is not None else quantize_int8(copy.deepcopy(model))).step_static, dynamic=False)
        except Exception as exc:
            log(f"transformer decode mode {mode} unavailable: {type(exc).__name__}: {exc}")
    return steppers


def _best(speeds: dict) -> tuple[str, float]:
    mode = max(speeds, key=speeds.get)
    return mode, speeds[mode]


def _standard_layout(state: list[dict]) -> list[dict]:
    """Copies of the state's tensors with the standard strides: a prefill's window slices carry
    strides that depend on the context length (even in a size-1 batch dimension, which
    `.contiguous()` leaves alone), and a compiled step would recompile for each of them."""
    import torch

    return [{key: torch.empty(t.shape, dtype=t.dtype).copy_(t) for key, t in layer.items()} for layer in state]


def measure_recurrent(model, contexts, steps: int, modes, log, name: str) -> tuple[dict, int]:
    """Prefill, measured state bytes and decode in every mode after each context, for a model with
    the `LiquidLM` interface (`model(ids) -> (logits, state)`, `model.step(ids, state)`)."""
    import torch

    from assistant.bench.cpu import timed
    from core.state import state_to_bytes

    row = {"decode_tok_s": {}, "decode_tok_s_by_mode": {}, "prefill_tok_s": {}, "state_bytes": {}}
    discarded = 0
    with torch.inference_mode():
        steppers = liquid_steppers(model, modes, log)
        warm = _standard_layout(model(torch.zeros(1, 8, dtype=torch.long))[1])
        for mode, step in list(steppers.items()):
            log(f"{name} decode mode {mode}: warming up")
            try:
                _liquid_decode(step, warm, 2)
            except Exception as exc:  # a compiler failing on first use: the other modes go on
                log(f"{name} decode mode {mode} failed: {type(exc).__name__}: {exc}")
                del steppers[mode]
        for n in contexts:
            log(f"{name}: context {n}")
            ids = torch.randint(0, model.cfg.vocab_size, (1, n))
            holder = {}
            t, d = timed(lambda: holder.update(state=model(ids)[1]), repeats=1 if n > 8192 else 2)
            discarded += d
            row["prefill_tok_s"][str(n)] = round(n / t, 1)
            state = _standard_layout(holder.pop("state"))
            row["state_bytes"][str(n)] = len(state_to_bytes(state, model.cfg.hash(), tokens_seen=n))
            speeds = {}
            for mode, step in steppers.items():
                t, d = timed(lambda: _liquid_decode(step, state, steps))
                discarded += d
                speeds[mode] = round(steps / t, 1)
            row["decode_tok_s_by_mode"][str(n)] = speeds
            row["decode_mode"], row["decode_tok_s"][str(n)] = _best(speeds)
    row["parameters"] = model.num_parameters()
    return row, discarded


def cache_bytes(cache, n: int) -> int:
    """The transformer's state after reading n tokens, serialised: its cache's first n slots."""
    from safetensors.torch import save

    return len(save({"k": cache.k[:, :, :, :n].contiguous(), "v": cache.v[:, :, :, :n].contiguous()},
                    metadata={"tokens_seen": str(n)}))


def measure_transformer(trans, contexts, steps: int, modes, log) -> tuple[dict, int]:
    import torch

    from assistant.bench.cpu import timed
    from core.training.baseline import KVCache

    row = {"decode_tok_s": {}, "decode_tok_s_by_mode": {}, "prefill_tok_s": {}, "state_bytes": {}}
    discarded = 0
    with torch.inference_mode():
        steppers = transformer_steppers(trans, modes, log)
        for n in contexts:
            log(f"transformer: context {n}")
            ids = torch.randint(0, trans.cfg.vocab_size, (1, n))
            cache = KVCache(trans.cfg, 1, n + steps + 1)
            if n <= 8192:
                t, d = timed(lambda: (setattr(cache, "pos", 0), trans(ids, cache)), repeats=1 if n > 1024 else 2)
                discarded += d
                row["prefill_tok_s"][str(n)] = round(n / t, 1)
            else:
                cache.k[:, :, :, :n].normal_()
                cache.v[:, :, :, :n].normal_()
            row["state_bytes"][str(n)] = cache_bytes(cache, n)

            def decode(step):
                tok = torch.zeros(1, dtype=torch.long)
                for i in range(steps):
                    tok = step(tok, cache, torch.tensor(n + i)).argmax(-1)

            speeds = {}
            for mode, step in list(steppers.items()):
                if "compile" in mode:
                    log(f"transformer decode mode {mode}: warming up at {n}")
                    try:
                        decode(step)
                    except Exception as exc:  # a compiler failing on first use: the other modes go on
                        log(f"transformer decode mode {mode} failed: {type(exc).__name__}: {exc}")
                        del steppers[mode]
                        continue
                t, d = timed(lambda: decode(step))
                discarded += d
                speeds[mode] = round(steps / t, 1)
            row["decode_tok_s_by_mode"][str(n)] = speeds
            row["decode_mode"], row["decode_tok_s"][str(n)] = _best(speeds)
            del cache
    row["parameters"] = trans.num_parameters()
    return row, discarded


def shipped_config():
    """The shipped model's architecture (what a user runs), else the built-in default."""
    from assistant.paths import default_model_dir
    from core.checkpoint import load_config
    from core.config import LiquidConfig
    from core.errors import ModelFilesError

    try:
        return load_config(default_model_dir())
    except ModelFilesError:  # none shipped, or another kind of model (an LFM2 folder)
        return LiquidConfig()


def like_for_like(cfg, contexts, steps: int, modes, log) -> tuple[dict, int]:
    """The same config with liquid blocks only against window-attention blocks only (the same
    window, the same MLPs): what the liquid mixer itself does at each context."""
    from dataclasses import replace

    import torch

    from core.model import LiquidLM

    torch.manual_seed(1)
    out = {"attention_window": cfg.attn_window}
    discarded = 0
    for name, layers in (("liquid_blocks", []), ("window_attention_blocks", list(range(cfg.n_layers)))):
        model = LiquidLM(replace(cfg, attn_layers=layers)).eval()
        out[name], d = measure_recurrent(model, contexts, steps, modes, log, name)
        discarded += d
        del model
    return out, discarded


def measure(quick: bool = False, log=lambda m: print(m, file=sys.stderr), *, cfg=None, contexts=None, steps=None,
            modes=None) -> dict:
    import torch

    from assistant.bench.cpu import cpu_features, timed
    from core.lora import attach_lora, lora_parameters
    from core.model import LiquidLM
    from core.training.baseline import KVCache, TransformerLM

    torch.manual_seed(0)
    cfg = cfg or shipped_config()
    liquid = LiquidLM(cfg).eval()
    trans = TransformerLM(cfg).eval()
    steps = steps or (32 if quick else 128)
    contexts = contexts or ((1024, 8192) if quick else CONTEXTS)
    modes = modes or (QUICK_MODES if quick else MODES)
    out: dict = {"modes": list(modes)}
    out["liquid"], discarded = measure_recurrent(liquid, contexts, steps, modes, log, "liquid")
    out["transformer"], d = measure_transformer(trans, contexts, steps, modes, log)
    discarded += d
    first = str(min(contexts))
    out["liquid"][f"decode_tok_s_by_mode_{first}"] = out["liquid"]["decode_tok_s_by_mode"][first]
    out["like_for_like"], d = like_for_like(cfg, contexts, steps, modes, log)
    discarded += d
    with torch.inference_mode():
        prompt = torch.randint(0, cfg.vocab_size, (1, 500))

        def liquid_ttft():
            logits, state = liquid(prompt)
            liquid.step(logits[:, -1].argmax(-1), state)

        def trans_ttft():
            cache = KVCache(trans.cfg, 1, 512)
            logits = trans(prompt, cache)
            trans(logits[:, -1:].argmax(-1), cache)

        for name, fn in (("liquid", liquid_ttft), ("transformer", trans_ttft)):
            t, d = timed(fn)
            discarded += d
            out[name]["ttft_ms_500"] = round(t * 1000, 1)

    log("liquid: one LoRA update step of 256 tokens")
    attach_lora(liquid, rank=8)
    opt = torch.optim.AdamW(lora_parameters(liquid), lr=1e-3)
    batch = torch.randint(0, cfg.vocab_size, (1, 257))
    liquid.train()

    def lora_step():
        logits, _ = liquid(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[0, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    lora_step()
    t, d = timed(lora_step)
    discarded += d
    out["liquid"]["lora_step_ms"] = round(t * 1000, 1)
    out["parameters"] = {"liquid": out["liquid"]["parameters"], "transformer": out["transformer"]["parameters"]}
    out["config"] = {"state_kind": cfg.state_kind, "d_model": cfg.d_model, "n_layers": cfg.n_layers, "vocab_size": cfg.vocab_size,
                     "attn_layers": cfg.attn_layers, "attn_window": cfg.attn_window}
    out["cpu"] = cpu_features()
    out["samples_discarded_for_load"] = discarded
    return out


def ratios(r: dict) -> dict:
    lq, tf = r["liquid"], r["transformer"]
    dec = lq["decode_tok_s"]
    longest = max(dec, key=int)
    res = {
        f"liquid decode {longest} / {min(dec, key=int)}": dec[longest] / dec[min(dec, key=int)],
        f"liquid / transformer decode at {longest}": dec[longest] / tf["decode_tok_s"][longest],
        "liquid state bytes equal at every context": len(set(lq["state_bytes"].values())) == 1,
    }
    if "like_for_like" in r:
        alone, window = r["like_for_like"]["liquid_blocks"], r["like_for_like"]["window_attention_blocks"]
        res[f"liquid blocks / window-attention blocks decode at {longest}"] = (
            alone["decode_tok_s"][longest] / window["decode_tok_s"][longest])
        res[f"liquid blocks / window-attention blocks state bytes at {longest}"] = (
            alone["state_bytes"][longest] / window["state_bytes"][longest])
    return res


def run(args) -> int:
    if getattr(args, "model", None):
        from core.checkpoint import model_kind

        if model_kind(args.model) == "lfm2":  # an LFM2 folder: against transformers (assistant/bench/lfm2.py)
            from assistant.bench import lfm2

            return lfm2.run(args)
    r = measure(quick=args.quick)
    if args.json:
        print(json.dumps(r))
        return 0
    lq, tf = r["liquid"], r["transformer"]
    print(f"CPU: {r['cpu']['cpu']} ({r['cpu']['cores']} cores, AMX {'yes' if r['cpu']['amx'] else 'no'}), torch {r['cpu']['torch']}")
    attn = r["config"].get("attn_layers") or []
    blocks = f"{r['config']['state_kind']} state" + (f", window attention in block {attn} over {r['config']['attn_window']} tokens" if attn else "")
    print(f"parameters: liquid {r['parameters']['liquid']:,} ({blocks}), transformer {r['parameters']['transformer']:,}")
    print(f"{'':<24}{'liquid':>14}{'transformer':>14}{'ratio':>9}")
    for n in lq["decode_tok_s"]:
        a, b = lq["decode_tok_s"][n], tf["decode_tok_s"][n]
        print(f"{'decode tok/s @ ' + n:<24}{a:>14,.0f}{b:>14,.0f}{a / b:>8.1f}x")
    for n in tf["prefill_tok_s"]:
        a, b = lq["prefill_tok_s"][n], tf["prefill_tok_s"][n]
        print(f"{'prefill tok/s @ ' + n:<24}{a:>14,.0f}{b:>14,.0f}{a / b:>8.1f}x")
    print(f"{'first token, 500 (ms)':<24}{lq['ttft_ms_500']:>14,.0f}{tf['ttft_ms_500']:>14,.0f}")
    for n in lq["state_bytes"]:
        print(f"{'state bytes @ ' + n:<24}{lq['state_bytes'][n]:>14,}{tf['state_bytes'][n]:>14,}")
    print(f"LoRA update step, 256 tokens: {lq['lora_step_ms']:.0f} ms")
    for name, row in (("liquid", lq), ("transformer", tf)):
        for n, speeds in row["decode_tok_s_by_mode"].items():
            modes = ", ".join(f"{k} {v:,.0f}" for k, v in speeds.items())
            print(f"{name} decode modes at {n} (tok/s): {modes}")
    same = r["like_for_like"]
    alone, window = same["liquid_blocks"], same["window_attention_blocks"]
    print(f"like for like, every block one kind (window {same['attention_window']}): liquid blocks "
          f"{alone['parameters']:,} parameters, window-attention blocks {window['parameters']:,}")
    for n in alone["decode_tok_s"]:
        a, b = alone["decode_tok_s"][n], window["decode_tok_s"][n]
        print(f"{'  decode tok/s @ ' + n:<24}{a:>14,.0f}{b:>14,.0f}{a / b:>8.2f}x")
    for n in alone["state_bytes"]:
        print(f"{'  state bytes @ ' + n:<24}{alone['state_bytes'][n]:>14,}{window['state_bytes'][n]:>14,}")
    for k, v in ratios(r).items():
        print(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}")
    if r["samples_discarded_for_load"]:
        print(f"({r['samples_discarded_for_load']} samples discarded: other processes were loading the CPU)")
    return 0
