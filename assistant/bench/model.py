"""`assistant bench model`: the liquid model against an equal-size transformer, in one run.

Random weights of the shipped model's config (models/default/config.json; the built-in default
if none is shipped): speed does not depend on their values. Decode speed after a
context of N tokens is timed from a state that has read N tokens (liquid: a real prefill; the
transformer: a KV cache filled to N, since attention cost depends on the length, not the values).
"""

from __future__ import annotations

import json
import sys

CONTEXTS = (1024, 8192, 32768)


def _liquid_decode(step, state, n: int):
    import torch

    ids = torch.zeros(1, dtype=torch.long)
    for _ in range(n):
        logits, state = step(ids, state)
        ids = logits.argmax(-1)
    return state


def pick_decode_mode(liquid, steps: int, log, modes=("eager", "int8", "compile", "int8+compile")) -> tuple[str, object, dict, int]:
    """Time each decoding mode side by side after a 1K prefill; returns the fastest (with an eager
    fallback if compiling fails), every mode's tokens/s and the samples discarded for load."""
    import torch

    from assistant.bench.cpu import timed
    from core.fast import compiled_step, int8_decoder

    ids = torch.randint(0, liquid.cfg.vocab_size, (1, 1024))
    with torch.inference_mode():
        _, state = liquid(ids)
        candidates = {"eager": liquid.step}
        q = None
        for mode in modes:
            try:
                if mode == "int8":
                    q = int8_decoder(liquid)
                    candidates[mode] = q.step
                elif mode == "compile":
                    candidates[mode] = compiled_step(liquid)
                elif mode == "int8+compile" and q is not None:
                    candidates[mode] = compiled_step(q)
            except Exception as exc:  # a compiler missing or failing: keep the eager path
                log(f"decode mode {mode} unavailable: {type(exc).__name__}: {exc}")
                continue
            if mode in candidates:
                log(f"liquid decode mode {mode}: warming up")
                _liquid_decode(candidates[mode], state, 2)
        speeds, discarded = {}, 0
        for mode, step in candidates.items():
            t, d = timed(lambda: _liquid_decode(step, state, steps))
            speeds[mode] = round(steps / t, 1)
            discarded += d
    best = max(speeds, key=speeds.get)
    return best, candidates[best], speeds, discarded


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


def measure(quick: bool = False, log=lambda m: print(m, file=sys.stderr), *, cfg=None, contexts=None, steps=None) -> dict:
    import torch

    from assistant.bench.cpu import cpu_features, timed
    from core.lora import attach_lora, lora_parameters
    from core.model import LiquidLM
    from core.state import state_nbytes
    from core.training.baseline import KVCache, TransformerLM

    torch.manual_seed(0)
    cfg = cfg or shipped_config()
    liquid = LiquidLM(cfg).eval()
    trans = TransformerLM(cfg).eval()
    steps = steps or (32 if quick else 128)
    contexts = contexts or ((1024, 8192) if quick else CONTEXTS)
    out = {"liquid": {"decode_tok_s": {}, "prefill_tok_s": {}, "state_bytes": {}},
           "transformer": {"decode_tok_s": {}, "prefill_tok_s": {}, "state_bytes": {}}}
    discarded = 0
    mode, fast_step, mode_speeds, d = pick_decode_mode(liquid, steps, log, modes=("eager",) if quick else ("eager", "int8", "compile", "int8+compile"))
    discarded += d
    out["liquid"]["decode_mode"] = mode
    out["liquid"]["decode_tok_s_by_mode_1024"] = mode_speeds
    with torch.inference_mode():
        for n in contexts:
            log(f"liquid: context {n}")
            ids = torch.randint(0, cfg.vocab_size, (1, n))
            holder = {}
            t, d = timed(lambda: holder.update(state=liquid(ids)[1]), repeats=1 if n > 8192 else 2)
            discarded += d
            out["liquid"]["prefill_tok_s"][str(n)] = round(n / t, 1)
            state = holder["state"]
            out["liquid"]["state_bytes"][str(n)] = state_nbytes(state)
            t, d = timed(lambda: _liquid_decode(fast_step, state, steps))
            discarded += d
            out["liquid"]["decode_tok_s"][str(n)] = round(steps / t, 1)

            log(f"transformer: context {n}")
            cache = KVCache(trans.cfg, 1, n + steps + 1)
            if n <= 8192:
                t, d = timed(lambda: (setattr(cache, "pos", 0), trans(ids, cache)), repeats=1 if n > 1024 else 2)
                discarded += d
                out["transformer"]["prefill_tok_s"][str(n)] = round(n / t, 1)
            cache.k.normal_()
            cache.v.normal_()
            per_token = 2 * trans.cfg.n_layers * trans.cfg.d_model * cache.k.element_size()
            out["transformer"]["state_bytes"][str(n)] = per_token * n

            def trans_decode():
                cache.pos = n
                tok = torch.zeros(1, 1, dtype=torch.long)
                for _ in range(steps):
                    tok = trans(tok, cache)[:, -1:].argmax(-1)

            t, d = timed(trans_decode)
            discarded += d
            out["transformer"]["decode_tok_s"][str(n)] = round(steps / t, 1)
            del cache

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
    out["parameters"] = {"liquid": liquid.num_parameters(), "transformer": trans.num_parameters()}
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
    modes = ", ".join(f"{k} {v:,.0f}" for k, v in lq["decode_tok_s_by_mode_1024"].items())
    print(f"liquid decode modes at 1024 (tok/s): {modes}; used: {lq['decode_mode']}")
    for k, v in ratios(r).items():
        print(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}")
    if r["samples_discarded_for_load"]:
        print(f"({r['samples_discarded_for_load']} samples discarded: other processes were loading the CPU)")
    return 0
