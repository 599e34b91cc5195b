"""`assistant bench model --model FOLDER` for a converted model: the hybrid against its own teacher.

Both run in one process, side by side: the converted model (liquid layers plus window attention,
a bounded state) and its source, the GGUF's transformer with a full key/value cache (the cache
sized to each context, so its bytes are what a real cache holds there). Every model gets every
decoding mode that exists for it (eager, int8), the best of each is reported, and state bytes
are measured by serialising the real state after reading N tokens, not by formula. The keys
follow `bench model` (`liquid` is the converted model, `teacher` its source).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CONTEXTS = (1024, 8192, 32768)


def set_window(model, window: int) -> None:
    """Size every attention layer's cache to `window` tokens (the teacher: a full cache)."""
    from core.hybrid import LlamaAttention

    model.cfg.attention_window = window
    for m in model.modules():
        if isinstance(m, LlamaAttention):
            m.window = window


def _decode(step, state, n: int, start: int):
    import torch

    ids = torch.full((1,), start, dtype=torch.long)
    for _ in range(n):
        logits, state = step(ids, state)
        ids = logits.argmax(-1)
    return state


def measure(folder, *, contexts=CONTEXTS, steps: int = 64, modes=("eager", "int8"), log=lambda m: print(m, file=sys.stderr)) -> dict:
    import torch

    from assistant.bench.cpu import cpu_features, timed
    from core.converted import load_converted, locate_source, read_config
    from core.gguf_reader import read_llama_gguf
    from core.hybrid import HybridConfig, build_from_source
    from core.lfm2 import clone_state, int8_decoder
    from core.state import state_to_bytes

    torch.manual_seed(0)
    log("loading the converted model and its source")
    g = read_llama_gguf(locate_source(read_config(Path(folder)).source))  # read once, for both models
    student, _ = load_converted(folder, with_tokenizer=False, source=g)
    teacher = build_from_source(HybridConfig.from_llama(g.config, attention_window=max(contexts) + steps + 8), g.tensors)
    del g
    vocab = student.cfg.vocab_size
    out: dict = {"contexts": list(contexts), "steps": steps}
    discarded = 0
    with torch.inference_mode():
        for name, model in (("liquid", student), ("teacher", teacher)):
            steppers = {"eager": model.step}
            if "int8" in modes:
                steppers["int8"] = int8_decoder(model).step
            row = {"decode_tok_s": {}, "decode_tok_s_by_mode": {}, "prefill_tok_s": {}, "state_bytes": {}}
            for n in contexts:
                if name == "teacher":
                    set_window(model, n + steps + 1)
                log(f"{name}: context {n}")
                ids = torch.randint(0, vocab, (1, n))
                holder = {}
                t, d = timed(lambda: holder.update(state=model(ids)[1]), repeats=1)
                discarded += d
                row["prefill_tok_s"][str(n)] = round(n / t, 1)
                state = holder.pop("state")
                row["state_bytes"][str(n)] = len(state_to_bytes(state, model.cfg.hash()))
                speeds = {}
                for mode, step in steppers.items():
                    t, d = timed(lambda: _decode(step, clone_state(state), steps, 0), repeats=2)
                    discarded += d
                    speeds[mode] = round(steps / t, 1)
                row["decode_tok_s_by_mode"][str(n)] = speeds
                row["decode_tok_s"][str(n)] = max(speeds.values())
                state = None  # free the cache before the next context
            prompt = torch.randint(0, vocab, (1, 500))
            if name == "teacher":
                set_window(model, 512)

            def ttft():
                logits, state = model(prompt)
                model.step(logits[:, -1].argmax(-1), state)

            t, d = timed(ttft)
            discarded += d
            row["ttft_ms_500"] = round(t * 1000, 1)
            row["parameters"] = model.num_parameters()
            out[name] = row
    out["config"] = {"layer_types": student.cfg.layer_types, "attention_window": student.cfg.attention_window,
                     "attention_sinks": student.cfg.attention_sinks}
    out["cpu"] = cpu_features()
    out["samples_discarded_for_load"] = discarded
    out["ratios"] = ratios(out)
    return out


def ratios(r: dict) -> dict:
    lq, tf = r["liquid"], r["teacher"]
    ns = sorted(lq["decode_tok_s"], key=int)
    res = {f"liquid decode {ns[-1]} / {ns[0]}": lq["decode_tok_s"][ns[-1]] / lq["decode_tok_s"][ns[0]]}
    for n in ns:
        res[f"liquid / teacher decode at {n}"] = lq["decode_tok_s"][n] / tf["decode_tok_s"][n]
    res["liquid state bytes equal at every context"] = len(set(lq["state_bytes"].values())) == 1
    return res


def run(args) -> int:
    contexts = (1024, 8192) if args.quick else CONTEXTS
    r = measure(args.model, contexts=contexts, steps=32 if args.quick else 64)
    if args.json:
        print(json.dumps(r))
        return 0
    lq, tf = r["liquid"], r["teacher"]
    print(f"CPU: {r['cpu']['cpu']} ({r['cpu']['cores']} cores), torch {r['cpu']['torch']}")
    n_liquid = r["config"]["layer_types"].count("liquid")
    print(f"converted: {n_liquid}/{len(r['config']['layer_types'])} layers liquid, attention window "
          f"{r['config']['attention_window']} + {r['config']['attention_sinks']} sinks; teacher: full attention")
    print(f"{'':<26}{'converted':>14}{'teacher':>14}{'ratio':>9}")
    for n in lq["decode_tok_s"]:
        a, b = lq["decode_tok_s"][n], tf["decode_tok_s"][n]
        print(f"{'decode tok/s @ ' + n:<26}{a:>14,.1f}{b:>14,.1f}{a / b:>8.2f}x")
    for n in lq["prefill_tok_s"]:
        a, b = lq["prefill_tok_s"][n], tf["prefill_tok_s"][n]
        print(f"{'prefill tok/s @ ' + n:<26}{a:>14,.1f}{b:>14,.1f}{a / b:>8.2f}x")
    print(f"{'first token, 500 (ms)':<26}{lq['ttft_ms_500']:>14,.0f}{tf['ttft_ms_500']:>14,.0f}")
    for n in lq["state_bytes"]:
        print(f"{'state bytes @ ' + n:<26}{lq['state_bytes'][n]:>14,}{tf['state_bytes'][n]:>14,}")
    for k, v in r["ratios"].items():
        print(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}")
    if r["samples_discarded_for_load"]:
        print(f"({r['samples_discarded_for_load']} samples discarded: other processes were loading the CPU)")
    return 0
