"""`assistant bench recall`: the state-kind ablation (diagonal vs matrix) on associative recall."""

from __future__ import annotations

import json


def run(args) -> int:
    import torch

    from core.training.ablation import RecallTask, compare_state_kinds

    torch.set_num_threads(max(1, torch.get_num_threads()))
    seconds = 20.0 if args.quick else float(getattr(args, "seconds", None) or 180.0)
    task = RecallTask()
    results = compare_state_kinds(task, seconds)
    if args.json:
        print(json.dumps({"task": vars(task), "seconds_each": seconds, "results": results}))
        return 0
    print(f"multi-query associative recall: {task.pairs} pairs, {task.queries} queries, {task.filler} filler tokens, "
          f"{seconds:.0f} s of compute each")
    print(f"{'state':<10}{'params':>10}{'steps':>8}{'accuracy':>10}   (chance {results[0]['chance']:.3f})")
    for r in results:
        print(f"{r['state_kind']:<10}{r['parameters']:>10,}{r['steps']:>8}{r['accuracy']:>10.3f}")
    return 0
