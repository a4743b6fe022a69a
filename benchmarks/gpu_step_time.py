"""T5 v1.1 training step time, throughput and MFU on one GPU (bf16 autocast), synthetic data.

Runs c4forge's real training step (``Trainer.step``: autocast, token-summed loss + z-loss,
backward, clipping, optimizer, schedule) on fixed 512/114 rows of random ids, so the numbers
are the model's, not the input pipeline's (the pipeline's own speed: span_corruption_benchmark.py).

    python benchmarks/gpu_step_time.py                              # small and base, bf16, batch 128
    python benchmarks/gpu_step_time.py --compile --optimizer adamwscale
    python benchmarks/gpu_step_time.py --device cpu --steps 2 --warmup 1 --model tiny --batch-size 2   # smoke

FLOPs per step (training = 3 x forward; a matmul of (m x k)(k x n) = 2mkn), per sequence, with
L = encoder length (512), T = decoder length (114), d = d_model, a = heads x d_kv, f = d_ff, V = vocab:
  encoder, per layer:  2L(4da) [q,k,v,o] + 4L^2 a [scores, weighted sum] + 2L(3df) [gated FFN]
  decoder, per layer:  2T(4da) + 4T^2 a [self-attention] + 2T(2da) + 2L(2da) + 4TLa [cross-attention;
                       k,v project the L encoder states] + 2T(3df)
  output layer:        2TdV
Attention is counted in full (not halved for the causal mask), as in PaLM's MFU definition;
norms, softmax, GELU and the loss are not counted. MFU = FLOPs per step / step time / peak dense
bf16 FLOP/s of the device (H100 SXM and H200: 989.4 TFLOP/s; override with --peak-tflops).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from c4forge.pretrain.config import MODEL_SHAPES, TrainConfig  # noqa: E402
from c4forge.pretrain.modeling import count_parameters  # noqa: E402
from c4forge.pretrain.span_corruption import random_spans_helper  # noqa: E402
from c4forge.pretrain.runtime import Runtime  # noqa: E402
from c4forge.pretrain.train import build_trainer  # noqa: E402

PEAK_BF16_TFLOPS = (("H200", 989.4), ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.4),
                    ("GH200", 989.4), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0), ("A10", 125.0))


def forward_flops_per_sequence(model: str, vocab_size: int, inputs_length: int, targets_length: int) -> float:
    shape = MODEL_SHAPES[model]
    d, a, f, n = shape.d_model, shape.num_heads * shape.d_kv, shape.d_ff, shape.num_layers
    L, T = inputs_length, targets_length
    encoder_layer = 2 * L * 4 * d * a + 4 * L * L * a + 2 * L * 3 * d * f
    decoder_layer = (2 * T * 4 * d * a + 4 * T * T * a + 2 * T * 2 * d * a + 2 * L * 2 * d * a + 4 * T * L * a
                     + 2 * T * 3 * d * f)
    return n * (encoder_layer + decoder_layer) + 2 * T * d * vocab_size


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in name), None)


def synthetic_batch(rows: int, inputs_length: int, targets_length: int, vocab_size: int, pin: bool) -> dict:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randint(3, vocab_size - 128, (rows, inputs_length), generator=generator)
    targets = torch.randint(3, vocab_size - 128, (rows, targets_length), generator=generator)
    decoder_inputs = torch.zeros_like(targets)
    decoder_inputs[:, 1:] = targets[:, :-1]
    batch = {"encoder_input_tokens": inputs, "decoder_input_tokens": decoder_inputs,
             "decoder_target_tokens": targets, "decoder_loss_weights": torch.ones(rows, targets_length),
             "packed": torch.zeros(rows, dtype=torch.bool)}
    return {k: v.pin_memory() for k, v in batch.items()} if pin else batch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(model: str, args, device: torch.device) -> dict:
    config = TrainConfig(corpus="", vocab="", output="", model=model, batch_size=args.batch_size,
                         grad_accum=args.grad_accum, optimizer=args.optimizer, compile=args.compile,
                         precision=args.precision, warmup_steps=10, steps=10 ** 6, seed=0)
    runtime = Runtime(rank=0, world=1, local_rank=0, device=device)
    trainer = build_trainer(config, runtime, args.vocab_size)
    targets_length = random_spans_helper(args.inputs_length)[1]
    micro = args.batch_size // args.grad_accum
    batch = synthetic_batch(micro, args.inputs_length, targets_length, args.vocab_size, device.type == "cuda")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for step in range(args.warmup + args.steps):
        synchronize(device)
        started = time.perf_counter()
        stats = trainer.step([batch] * args.grad_accum)
        synchronize(device)
        if step >= args.warmup:
            times.append(time.perf_counter() - started)
    loss = float(stats[0] / stats[2])
    seconds = statistics.median(times)
    flops = 3 * forward_flops_per_sequence(model, args.vocab_size, args.inputs_length, targets_length) * args.batch_size
    peak = peak_tflops(device, args.peak_tflops)
    tokens = args.batch_size * (args.inputs_length + targets_length)
    return {
        "model": model, "parameters_millions": round(count_parameters(trainer.t5) / 1e6, 1),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "precision": args.precision, "compile": args.compile, "optimizer": args.optimizer,
        "batch_size": args.batch_size, "grad_accum": args.grad_accum,
        "step_seconds_median": round(seconds, 4), "step_seconds_min": round(min(times), 4),
        "sequences_per_second": round(args.batch_size / seconds, 1), "tokens_per_second": round(tokens / seconds),
        "tflops_per_step": round(flops / 1e12, 3), "achieved_tflops": round(flops / seconds / 1e12, 1),
        "mfu": round(flops / seconds / (peak * 1e12), 4) if peak else None, "peak_tflops": peak,
        "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2 ** 30, 2) if device.type == "cuda" else None,
        "last_loss": round(loss, 3),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["t5-v1_1-small", "t5-v1_1-base"], choices=sorted(MODEL_SHAPES))
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    parser.add_argument("--optimizer", default="adafactor", choices=["adafactor", "adamwscale", "adamw"])
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--inputs-length", type=int, default=512)
    parser.add_argument("--vocab-size", type=int, default=32128, help="embedding rows (T5: 32128)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps (compile, allocator)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--peak-tflops", type=float, help="device peak dense bf16 TFLOP/s for MFU")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device; for a smoke run use --device cpu --model tiny --steps 2", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    results = []
    for model in args.model:
        result = measure(model, args, device)
        results.append(result)
        print(json.dumps(result), flush=True)
        del result
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(f"\n{'model':<15} {'params':>7} {'s/step':>8} {'seq/s':>8} {'tok/s':>10} {'TFLOP/s':>8} {'MFU':>6} {'mem GiB':>8}")
    for r in results:
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
        print(f"{r['model']:<15} {r['parameters_millions']:>6}M {r['step_seconds_median']:>8.3f} "
              f"{r['sequences_per_second']:>8.1f} {r['tokens_per_second']:>10} {r['achieved_tflops']:>8} {mfu:>6} "
              f"{r['peak_memory_gib'] if r['peak_memory_gib'] is not None else 'n/a':>8}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
