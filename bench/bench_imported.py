"""Benchmark: imported GPT-2 in numpy float32 against PyTorch on the same batch, and the
protocol run of one sequence against its forward pass.

What is timed, side by side in one run:

* ``commlb forward`` — :meth:`commlb.imported.models.GPT2.predict` on 1,000 sequences of
  99 tokens (SHT24's layout: [k] + 98 characters), batched float32 numpy (BLAS);
* ``torch forward`` — ``transformers.GPT2Model`` with the same weights on the same batch
  (CPU, ``torch.inference_mode``), when torch and transformers are importable; otherwise
  that row is skipped with a message.  The two alternate, one run each per round, and
  the best of ``--repeat`` rounds is kept, so that both see the same machine load;
* ``evaluate`` — :func:`commlb.imported.evaluate.evaluate` on the same size (instances
  drawn and solved, adapter applied, forward, error count);
* ``protocol`` — :func:`commlb.imported.protocol.simulate_imported` on one sequence under
  a prefix split and an interleaved split (every message's codes checked and counted,
  decoded by the receiver), alone and with its verification (which runs the forward pass
  once more), against the forward pass of that one sequence.

Every row gives the wall time and the CPU time of the process (``time.process_time``,
all threads): on a shared machine the wall time depends on the other jobs, the CPU time
much less (though threads that spin while they wait still count).

Model: Hugging Face GPT-2 layout, 4 layers, width 128, 4 heads, vocabulary 24, 128
positions, random weights (normal, std 0.02; LayerNorm gains 1 ± 0.1), written to a
.safetensors file and read back through commlb's loader.

Run (torch is a bench-only extra; commlb's own venv has no torch):

    /tmp/torchvenv/bin/python bench/bench_imported.py      # with torch + transformers
    .venv/bin/python bench/bench_imported.py               # commlb rows only
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _harness import Timing, machine_line, print_table, ratio

LAYERS, WIDTH, HEADS, VOCAB, POSITIONS = 4, 128, 4, 24, 128


def random_gpt2(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d, inner = WIDTH, 4 * WIDTH

    def n(*shape: int, std: float = 0.02) -> np.ndarray:
        return (std * rng.standard_normal(shape)).astype(np.float32)

    sd = {"transformer.wte.weight": n(VOCAB, d), "transformer.wpe.weight": n(POSITIONS, d),
          "transformer.ln_f.weight": 1 + n(d, std=0.1), "transformer.ln_f.bias": n(d)}
    for i in range(LAYERS):
        p = f"transformer.h.{i}."
        sd.update({p + "ln_1.weight": 1 + n(d, std=0.1), p + "ln_1.bias": n(d),
                   p + "attn.c_attn.weight": n(d, 3 * d), p + "attn.c_attn.bias": n(3 * d),
                   p + "attn.c_proj.weight": n(d, d), p + "attn.c_proj.bias": n(d),
                   p + "ln_2.weight": 1 + n(d, std=0.1), p + "ln_2.bias": n(d),
                   p + "mlp.c_fc.weight": n(d, inner), p + "mlp.c_fc.bias": n(inner),
                   p + "mlp.c_proj.weight": n(inner, d), p + "mlp.c_proj.bias": n(d)})
    return sd


def torch_forward(sd: dict[str, np.ndarray], batch: np.ndarray, threads: int):
    try:
        import torch
        from transformers import GPT2Config, GPT2Model
    except ModuleNotFoundError as exc:
        return None, f"torch row skipped: {exc.name} is not installed (bench-only extra)"
    torch.set_num_threads(threads)
    cfg = GPT2Config(vocab_size=VOCAB, n_positions=POSITIONS, n_embd=WIDTH, n_layer=LAYERS, n_head=HEADS,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2Model(cfg).eval()
    missing, unexpected = model.load_state_dict(
        {k[len("transformer."):]: torch.from_numpy(v) for k, v in sd.items()}, strict=False)
    assert not unexpected and all(k.endswith(("attn.bias", "masked_bias")) for k in missing)
    ids = torch.from_numpy(batch)

    def run():
        with torch.inference_mode():
            return model(input_ids=ids).last_hidden_state.numpy()

    note = f"torch {torch.__version__}, {threads} threads, attention {cfg._attn_implementation or 'default'}"
    return run, note


def timed(label: str, fn, repeat: int, note: str = "") -> tuple[Timing, float]:
    """Best wall time over ``repeat`` runs, and the CPU time of that run."""
    best, cpu, result = float("inf"), 0.0, None
    for _ in range(max(1, repeat)):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        w, c = time.perf_counter() - w, time.process_time() - c
        if w < best:
            best, cpu, result = w, c, out
    return Timing(label, best, result, note), cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    from safetensors.numpy import save_file

    from commlb.imported import open_model
    from commlb.imported.adapter import load_adapter
    from commlb.imported.evaluate import evaluate
    from commlb.imported.models import one_blas_thread
    from commlb.imported.protocol import make_split, simulate_imported
    from commlb.registry import get_task

    print(machine_line())
    print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rng = np.random.default_rng(0)
    sd = random_gpt2(rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gpt2.safetensors"
        save_file(sd, str(path))
        model = open_model(str(path), heads=HEADS, readout="hidden")
    adapter = load_adapter("sht24-khop")
    task = get_task("khop", k=4, alphabet=4)
    chars = np.stack([task.generate(rng, 98) for _ in range(args.instances)])
    batch = adapter.encode(chars, {"k": 4})
    print(f"model: GPT-2 {LAYERS} layers, width {WIDTH}, {HEADS} heads, {model.num_params():,} parameters; "
          f"batch {batch.shape[0]} x {batch.shape[1]} tokens")

    run, note = torch_forward(sd, batch, args.threads)
    # alternate the two, one repetition each per round, so that both see the same load
    ours_runs: list[tuple[Timing, float]] = []
    theirs_runs: list[tuple[Timing, float]] = []
    workers = min(os.cpu_count() or 1, 4)
    for _ in range(args.repeat):
        ours_runs.append(timed("commlb forward (numpy float32)", lambda: model.forward(batch), 1,
                               note=f"{workers} threads over chunks of 64, 1 BLAS thread each"))
        if run is not None:
            theirs_runs.append(timed("torch forward (CPU)", run, 1, note=note))
    ours, ours_cpu = min(ours_runs, key=lambda t: t[0].seconds)
    rows = [ours]
    cpu = {ours.label: ours_cpu}
    if run is not None:
        theirs, theirs_cpu = min(theirs_runs, key=lambda t: t[0].seconds)
        rows.append(theirs)
        cpu[theirs.label] = theirs_cpu
        diff = float(np.max(np.abs(ours.result - theirs.result)))
        scale = float(np.max(np.abs(theirs.result)))
        same = float(np.mean(ours.result.argmax(-1) == theirs.result.argmax(-1)))
    ev, ev_cpu = timed("evaluate (draw + solve + forward + count)", lambda: evaluate(
        model, adapter, None, [{"k": 4}], n=98, instances=args.instances, seed=0), 1)
    rows.append(ev)
    cpu[ev.label] = ev_cpu
    print_table(f"{args.instances} sequences x {batch.shape[1]} tokens (wall time, best of {args.repeat})", rows,
                reference=ours)
    print("CPU time of the same runs (process_time, all threads):")
    for label, c in cpu.items():
        print(f"  {label:<45} {c:8.2f} s")
    if run is not None:
        print(f"commlb / torch: wall {ratio(ours, theirs):.2f}x, CPU {ours_cpu / theirs_cpu:.2f}x  ({note})")
        print(f"largest difference of the final hidden states: {diff:.3g} (relative {diff / scale:.2e}); "
              f"same argmax at {100 * same:.2f}% of positions")
    else:
        print(note)
    print(f"evaluate error rate (random weights): {ev.result.rows[0].error_rate:.4f}")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    ids = batch[0]
    _, scored = adapter.targets_and_scored(task.solve(chars[0])[None], 98)
    reps = max(30, args.repeat)
    with one_blas_thread():  # the protocol runs with one BLAS thread; so does its reference
        one, one_cpu = timed("forward, one sequence", lambda: model.predict(ids[None]), reps)
    prot: list[tuple[Timing, float]] = [(one, one_cpu)]
    for spec in ("prefix:49", "interleave"):
        split = make_split(spec, 1, 98)
        for check in (False, True):
            label = f"protocol {spec}" + (" + verify" if check else "")
            prot.append(timed(label, lambda s=split, c=check: simulate_imported(model, ids, s, scored[0], check=c),
                              reps))
    print_table(f"one sequence of 99 tokens as a protocol (wall time, best of {reps})", [t for t, _ in prot],
                reference=one)
    for t, c in prot[1:]:
        tr = t.result.transcript
        diff_text = (f", largest difference {t.result.check['largest_difference']:.2g}"
                     if "largest_difference" in t.result.check else "")
        print(f"{t.label}: {ratio(t, one):.1f}x the forward pass (CPU {c / one_cpu:.1f}x); {tr.total_bits:,} bits, "
              f"{tr.rounds} rounds{diff_text}")


if __name__ == "__main__":
    main()
