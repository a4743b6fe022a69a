"""Model construction, the packed loss, optimizers, schedules and run options (no corpus needed)."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
import torch

from c4forge.pretrain.checkpoint import load_model_weights
from c4forge.pretrain.config import TrainConfig
from c4forge.pretrain.data import _empty_rows, _place_full_rows, _place_packed_row
from c4forge.pretrain.modeling import SpanCorruptionLoss, build_t5, count_parameters, t5_config, untie_lm_head
from c4forge.pretrain.optim import AdamWScale, lr_multiplier
from c4forge.pretrain.span_corruption import corrupt_one

from conftest import BENCHMARKS

# HF's google/t5-v1_1-* checkpoints (vocab 32128): the shapes below must give exactly these.
RELEASED_PARAMETERS = {"t5-v1_1-small": 76_961_152, "t5-v1_1-base": 247_577_856,
                       "t5-v1_1-large": 783_150_080, "t5-v1_1-xl": 2_849_757_184}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("model", sorted(RELEASED_PARAMETERS))
def test_local_configs_have_the_released_t5_v1_1_sizes(model):
    from transformers import T5ForConditionalGeneration

    with torch.device("meta"):
        t5 = T5ForConditionalGeneration(t5_config(model, 32128))
        untie_lm_head(t5)
    assert count_parameters(t5) == RELEASED_PARAMETERS[model]
    config = t5.config
    assert (config.is_gated_act, config.dense_act_fn, config.dropout_rate) == (True, "gelu_new", 0.0)
    assert config.scale_decoder_outputs is False


def test_head_is_untied_and_initialized_like_mesh_tf():
    t5 = build_t5("tiny", 1152, seed=0)
    assert t5.lm_head.weight is not t5.shared.weight
    assert t5.encoder.embed_tokens.weight is t5.shared.weight and t5.decoder.embed_tokens.weight is t5.shared.weight
    assert t5.lm_head.weight.std().item() == pytest.approx(128 ** -0.5, rel=0.05)
    # The std-1.0 head of HF's init starts near loss 110 at T5 sizes; this one starts near ln(V).
    rows = 4
    tokens = torch.randint(3, 1000, (rows, 64))
    loss = SpanCorruptionLoss(t5)
    with torch.no_grad():
        ce, _ = loss(tokens, tokens[:, :16], tokens[:, :16], torch.ones(rows, 16))
    assert abs(ce.item() / (rows * 16) - math.log(1152)) < 1.5


def test_same_seed_same_weights_and_from_pretrained_keeps_the_head_untied(tmp_path):
    from transformers import T5ForConditionalGeneration

    t5 = build_t5("tiny", 1152, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(t5.parameters(), build_t5("tiny", 1152, seed=3).parameters(), strict=True))
    t5.save_pretrained(str(tmp_path))
    loaded = T5ForConditionalGeneration.from_pretrained(str(tmp_path))
    assert loaded.lm_head.weight is not loaded.shared.weight
    assert torch.equal(loaded.lm_head.weight, t5.lm_head.weight) and torch.equal(loaded.shared.weight, t5.shared.weight)
    fresh = build_t5("tiny", 1152, seed=4)
    load_model_weights(fresh, tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), t5.state_dict().values(), strict=True))


def row_tensors(rows: dict) -> dict:
    names = ("encoder_input_tokens", "decoder_input_tokens", "decoder_target_tokens", "decoder_loss_weights")
    return {k: torch.from_numpy(rows[k]) for k in names}


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_a_packed_row_has_the_loss_of_its_examples_run_alone(attention):
    t5 = build_t5("tiny", 1152, seed=0, attn_implementation=attention)
    loss = SpanCorruptionLoss(t5, z_loss=1e-4).eval()
    rng = np.random.default_rng(0)
    pieces = [corrupt_one(rng.integers(3, 1000, n), 1100, 1, i) for i, n in enumerate([200, 150, 90])]
    packed = _empty_rows(1, 512, 114)
    _place_packed_row(packed, 0, pieces)
    with torch.no_grad():
        together = loss(**row_tensors(packed), encoder_segment_ids=torch.from_numpy(packed["encoder_segment_ids"]),
                        decoder_segment_ids=torch.from_numpy(packed["decoder_segment_ids"]))
        alone = []
        for inputs, targets in pieces:
            row = _empty_rows(1, len(inputs), len(targets))
            _place_full_rows(row, np.array([0]), inputs[None], targets[None])
            alone.append(loss(**row_tensors(row)))
    for index in (0, 1):
        assert together[index].item() == pytest.approx(sum(a[index].item() for a in alone), rel=1e-4)


def test_schedules():
    rsqrt = lr_multiplier("rsqrt", 10_000, 100_000)
    assert rsqrt(0) == rsqrt(9_999) == 1.0 and rsqrt(40_000) == pytest.approx(0.5)  # 1/sqrt(max(step, 1e4)) / 0.01
    decay = lr_multiplier("rsqrt-linear-decay", 100, 1_000)
    assert decay(899) == pytest.approx(math.sqrt(100 / 899))
    assert decay(950) == pytest.approx(math.sqrt(100 / 900) * 0.5) and decay(1_000) == 0.0
    cosine = lr_multiplier("cosine", 100, 1_100, final_fraction=0.001)
    assert cosine(0) == 0.5 and cosine(100) == pytest.approx(1.0) and cosine(600) == pytest.approx(0.5005)
    assert cosine(1_100) == pytest.approx(0.001)
    assert lr_multiplier("constant", 10, 100)(55) == 1.0
    with pytest.raises(ValueError):
        lr_multiplier("linear", 10, 100)


def test_adamwscale_scales_the_adam_step_by_the_parameter_rms():
    weight = torch.nn.Parameter(torch.tensor([3.0, -4.0]))
    optimizer = AdamWScale([weight], lr=0.1)
    weight.grad = torch.tensor([1.0, 2.0])
    optimizer.step()
    rms = math.sqrt((9 + 16) / 2)
    # first step: m/(sqrt(v)+eps) = sign(g) after bias correction; step = lr * rms
    assert weight.detach().tolist() == pytest.approx([3.0 - 0.1 * rms, -4.0 - 0.1 * rms], rel=1e-5)


def config(**overrides) -> TrainConfig:
    return TrainConfig(**{"corpus": "c", "vocab": "v", "output": "o", **overrides})


def test_run_options_are_checked():
    with pytest.raises(ValueError, match="fp16"):
        config(precision="fp16").validate()
    with pytest.raises(ValueError, match="divisible"):
        config(batch_size=10, grad_accum=4).validate(world=1)
    with pytest.raises(ValueError, match="divisible"):
        config(batch_size=12).validate(world=8)
    config(batch_size=16, grad_accum=2).validate(world=8)
    assert config(optimizer="adamwscale").learning_rate == 0.02 and config().learning_rate == 0.01
    assert config(optimizer="adamwscale").lr_schedule == "cosine" and config().lr_schedule == "rsqrt"
    assert config().clip_norm == 0.0 and config(optimizer="adamwscale").clip_norm == 1.0


def load_gpu_benchmark():
    sys.path.insert(0, str(BENCHMARKS))
    import gpu_step_time

    return gpu_step_time


@pytest.mark.parametrize("model", ["tiny", "t5-v1_1-small", "t5-v1_1-base"])
def test_benchmark_flop_formula_counts_every_matmul_of_the_model(model):
    """Recount from the modules: 2 x in x out per token each Linear sees (cross-attention k/v see the
    512 encoder states), plus 4 x q_len x k_len x heads x d_kv per attention (scores, weighted sum)."""
    from transformers import T5ForConditionalGeneration

    with torch.device("meta"):
        t5 = T5ForConditionalGeneration(t5_config(model, 32128))
        untie_lm_head(t5)
    inputs, targets = 512, 114
    total = 0
    for name, module in t5.named_modules():
        if isinstance(module, torch.nn.Linear):
            tokens = inputs if name.startswith("encoder") or name.endswith(("EncDecAttention.k", "EncDecAttention.v")) \
                else targets
            total += 2 * module.in_features * module.out_features * tokens
    inner = t5.config.num_heads * t5.config.d_kv
    layers = t5.config.num_layers
    total += layers * 4 * inner * (inputs * inputs + targets * targets + targets * inputs)
    assert load_gpu_benchmark().forward_flops_per_sequence(model, 32128, inputs, targets) == total


def test_gpu_step_time_smoke_runs_on_cpu(capsys):
    bench = load_gpu_benchmark()
    assert bench.main(["--device", "cpu", "--steps", "2", "--warmup", "1", "--model", "tiny", "--batch-size", "2",
                       "--precision", "fp32"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[0])
    assert result["model"] == "tiny" and result["step_seconds_median"] > 0 and result["mfu"] is None
    assert math.isfinite(result["last_loss"])


def test_registering_the_cli_imports_no_torch_transformers_tensorflow_or_beam():
    """`c4forge build` users need neither the train extra nor its import time."""
    import subprocess

    probe = ("import argparse, sys\n"
             "from c4forge.cli.pretrain import add_parser\n"
             "add_parser(argparse.ArgumentParser().add_subparsers())\n"
             "print(sorted(m for m in ('torch', 'transformers', 'tensorflow', 'apache_beam') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
