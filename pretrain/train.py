"""The pretraining run: data preparation, model, loop, evaluation, checkpoints, resume.

One process per device; several processes via torchrun (env:// rendezvous, NCCL on GPUs, gloo on
CPU). The loss of a step is the mean over all target tokens of the global batch, whatever the
world size or accumulation: every (sub-)batch contributes its token-summed loss divided by the
step's global token count (times the world size, undone by DDP's gradient averaging).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import torch
import torch.distributed as dist

from c4forge.corpus.reader import Corpus, CorpusNotFound, find_corpus
from c4forge.corpus.storage import is_url

from . import checkpoint as ckpt
from .config import EVAL_SEED, TrainConfig
from .data import Sharding, Stream, train_loader, validation_batches
from .errors import PretrainError
from .layout import LayoutParams
from .metrics import MetricsLog, Progress
from .modeling import SpanCorruptionLoss, build_t5, count_parameters
from .optim import build_optimizer, run_scheduler
from .resume import Resumed, divergence_message, restore
from .runtime import (Runtime, all_reduce_int, all_reduce_max, all_reduce_sum, init_distributed, runtime_from_env,
                      torch_threads)
from .bounded_start import saved_data_identity, token_budgets
from .token_cache import TokenStore, build_token_store, wait_for_token_store
from .vocab import Vocab, load_vocab

log = logging.getLogger("c4forge.pretrain")
MODEL_INPUTS = ("encoder_input_tokens", "decoder_input_tokens", "decoder_target_tokens", "decoder_loss_weights")


# ---------------------------------------------------------------- data


@dataclasses.dataclass
class DataPlan:
    train: Stream
    validation: Stream
    validation_source: str  # said in the log and the run config
    token_budgets: dict  # {"train": tokens, "validation": tokens}: the bounded selections read


def layout_params(config: TrainConfig, seed: int, doc_range=None) -> LayoutParams:
    return LayoutParams(seed=seed, inputs_length=config.inputs_length, noise_density=config.noise_density,
                        mean_noise_span_length=config.mean_noise_span_length, docs_per_group=config.docs_per_group,
                        max_chunk_tokens=config.max_chunk_tokens, doc_range=doc_range)


def token_store(corpus, split: str, vocab: Vocab, config: TrainConfig, runtime: Runtime,
                budget: Optional[int]) -> Optional[TokenStore]:
    """Local rank 0 finds, fetches or tokenizes the shards of the bounded selection (token_cache);
    the other local ranks wait for its selection file."""
    root = Path(config.token_cache)
    if runtime.local_rank == 0:
        return build_token_store(corpus, split, vocab, root, workers=config.tokenize_workers, budget=budget)
    return wait_for_token_store(corpus, split, vocab, root, budget=budget)


def open_corpus(path: str) -> Corpus:
    if not is_url(path) and not Path(path).is_dir():
        raise PretrainError(f"--corpus {path}: no such directory (expected the output of `c4forge build`)")
    try:
        return find_corpus(path)
    except CorpusNotFound as error:
        raise PretrainError(f"--corpus: {error}") from error


def plan_data(config: TrainConfig, corpus: Corpus, vocab: Vocab, runtime: Runtime) -> DataPlan:
    train_budget, validation_budget = token_budgets(config, corpus, saved_data_identity(config))
    train = token_store(corpus, "train", vocab, config, runtime, train_budget)
    if train is None:
        raise PretrainError(f"--corpus {corpus.root}: the corpus has no train split (pass the output of "
                            "`c4forge build`, or rebuild it)")
    validation = token_store(corpus, "validation", vocab, config, runtime, validation_budget)
    builds = runtime.local_rank == 0  # one layout build per node; the other ranks map its files
    budgets = {"train": train_budget, "validation": validation_budget}
    if validation is not None:
        return DataPlan(Stream(train, layout_params(config, config.seed), builds),
                        Stream(validation, layout_params(config, EVAL_SEED), builds), "validation split", budgets)
    docs = train.num_docs
    held_out = min(max(1, round(docs * config.holdout_fraction)), docs - 1)
    source = (f"no validation split: held out the last {held_out} of {docs} train documents "
              f"(--holdout-fraction {config.holdout_fraction}); they are not trained on")
    return DataPlan(Stream(train, layout_params(config, config.seed, (0, docs - held_out)), builds),
                    Stream(train, layout_params(config, EVAL_SEED, (docs - held_out, docs)), builds), source, budgets)


def split_by_packing(batch: dict, device: torch.device) -> list[dict]:
    """Rows that hold one unpadded example need no attention mask (and so keep SDPA's fast
    path); packed/padded rows need 4-D segment masks. Run them as separate sub-batches."""
    packed = batch["packed"]
    parts = []
    for selector, with_segments in ((~packed, False), (packed, True)):
        if not bool(selector.any()):
            continue
        whole = bool(selector.all())
        names = MODEL_INPUTS + (("encoder_segment_ids", "decoder_segment_ids") if with_segments else ())
        parts.append({name: (batch[name] if whole else batch[name][selector]).to(device, non_blocking=True)
                      for name in names})
    return parts


# ---------------------------------------------------------------- model and step


def autocast_context(config: TrainConfig, runtime: Runtime):
    precision = config.precision
    if precision == "auto":
        precision = "bf16" if runtime.device.type == "cuda" else "fp32"
    if precision == "bf16":
        return lambda: torch.autocast(runtime.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


@dataclasses.dataclass
class Trainer:
    config: TrainConfig
    runtime: Runtime
    vocab: Optional[Vocab]  # None in synthetic benchmarks
    t5: torch.nn.Module
    core: SpanCorruptionLoss
    module: torch.nn.Module  # what the step calls: DDP and/or torch.compile around core
    ddp: Optional[torch.nn.Module]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    autocast: Callable[[], contextlib.AbstractContextManager]  # a fresh autocast (or null) context

    def step(self, micro_batches: list[dict]) -> torch.Tensor:
        """One optimizer step; returns [ce_sum, z_sum, target tokens, input tokens, grad norm] on
        the device. No host sync: the token count that normalizes the loss stays a device tensor."""
        device = self.runtime.device
        counts = torch.tensor([sum(float(b["decoder_loss_weights"].sum()) for b in micro_batches),
                               sum(float((b["encoder_input_tokens"] != 0).sum()) for b in micro_batches)])
        global_tokens = all_reduce_sum(counts[:1].to(device, torch.float64), self.runtime)
        scale = (self.runtime.world / global_tokens.clamp(min=1.0)).float()
        parts = [part for batch in micro_batches for part in split_by_packing(batch, device)]
        sums = torch.zeros(2, device=device)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            sync = self.ddp.no_sync() if self.ddp is not None and not last else contextlib.nullcontext()
            with sync:
                with self.autocast():
                    ce_sum, z_sum = self.module(**part)
                ((ce_sum + self.config.z_loss * z_sum) * scale).sum().backward()
            sums += torch.stack([ce_sum.detach(), z_sum.detach()]).float()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.t5.parameters(), self.config.clip_norm or float("inf"))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return torch.cat([sums, counts.to(device), grad_norm.detach().float().reshape(1)])

    @torch.no_grad()
    def evaluate(self, batches: list[dict]) -> tuple[float, float]:
        """Validation loss (per target token, all ranks) on the fixed rows; core, not DDP."""
        self.core.eval()
        sums = torch.zeros(2, dtype=torch.float64, device=self.runtime.device)
        for batch in batches:
            tensors = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in batch.items()}
            for part in split_by_packing(tensors, self.runtime.device):
                with self.autocast():
                    ce_sum, _ = self.core(**part)
                sums += torch.stack([ce_sum.double(), part["decoder_loss_weights"].sum().double()])
        self.core.train()
        ce, tokens = all_reduce_sum(sums, self.runtime).tolist()
        return ce / max(tokens, 1.0), tokens


def build_trainer(config: TrainConfig, runtime: Runtime, model_vocab_size: int, vocab: Optional[Vocab] = None) -> Trainer:
    t5 = build_t5(config.model, model_vocab_size, config.seed, config.attn_implementation).to(runtime.device)
    core = SpanCorruptionLoss(t5, config.z_loss)
    module, ddp = core, None
    if runtime.distributed:
        ids = [runtime.device.index] if runtime.device.type == "cuda" else None
        ddp = module = torch.nn.parallel.DistributedDataParallel(core, device_ids=ids)
    if config.compile:
        module = torch.compile(module)
    optimizer = build_optimizer(config.optimizer, t5.parameters(), config.learning_rate, config.weight_decay,
                                fused=runtime.device.type == "cuda" and config.optimizer == "adamw")
    scheduler = run_scheduler(optimizer, config)
    return Trainer(config, runtime, vocab, t5, core, module, ddp, optimizer, scheduler,
                   autocast_context(config, runtime))


# ---------------------------------------------------------------- checkpoints and resume


def run_state(config: TrainConfig, vocab: Vocab, plan: DataPlan, step: int, metrics: dict) -> dict:
    return {"step": step, "stream_position": step * config.batch_size, "data_identity": data_identity(config, vocab, plan),
            "config": dataclasses.asdict(config), "metrics": metrics}


def data_identity(config: TrainConfig, vocab: Vocab, plan: DataPlan) -> dict:
    return config.resume_identity() | {"vocab_sha256": vocab.sha256,
                                       "train_tokens": plan.train.store.work_directory.name,
                                       "train_selection": plan.train.store.label or "all",
                                       "train_token_budget": plan.token_budgets["train"],
                                       "validation_token_budget": plan.token_budgets["validation"],
                                       "train_layout": plan.train.params.key()}


def save(trainer: Trainer, plan: DataPlan, directory: Path, step: int, metrics: dict) -> None:
    if trainer.runtime.is_main:
        state = run_state(trainer.config, trainer.vocab, plan, step, metrics)
        ckpt.save_checkpoint(directory, trainer.t5, trainer.vocab, trainer.optimizer, state)
        log.info("saved %s", directory)


# ---------------------------------------------------------------- loop


def micro_batch_groups(loader, grad_accum: int) -> Iterator[list[dict]]:
    group = []
    for batch in loader:
        group.append(batch)
        if len(group) == grad_accum:
            yield group
            group = []


class LogWindow:
    """Step statistics since the last log line, kept on the device until it is written (a host
    sync per log line, not per step)."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.sums = torch.zeros(5, device=runtime.device)  # ce, z, target tokens, input tokens, grad norm
        self.first_nonfinite = torch.zeros((), dtype=torch.int64, device=runtime.device)  # a step, 0 = none
        self.reset()

    def reset(self) -> None:
        self.sums.zero_()
        self.first_nonfinite.zero_()
        self.fingerprint, self.steps, self.rows, self.started = 0, 0, 0, time.perf_counter()

    def add(self, stats: torch.Tensor, micro_batches: list[dict], step: int) -> None:
        self.sums += stats
        self.first_nonfinite.masked_fill_((self.first_nonfinite == 0) & ~torch.isfinite(stats).all(), step)
        self.fingerprint += sum(int(b["row_fingerprint"].sum()) for b in micro_batches)
        self.steps += 1
        self.rows += sum(len(b["row_fingerprint"]) for b in micro_batches)

    def first_nonfinite_step(self) -> int:
        """The first step of the window with a non-finite loss or gradient norm on any rank; 0 if
        none (a collective)."""
        return int(all_reduce_max(self.first_nonfinite.clone(), self.runtime).item())

    def record(self, step: int, lr: float) -> dict:
        """All ranks' window as one log record (a collective: every rank calls it)."""
        world = self.runtime.world
        sums = all_reduce_sum(torch.cat([self.sums[:4], self.sums[4:] / world]), self.runtime)
        ce, z, tokens, input_tokens, grad_norm = sums.tolist()
        seconds = time.perf_counter() - self.started
        record = {"split": "train", "step": step, "loss": ce / max(tokens, 1.0), "z_loss": z / max(tokens, 1.0),
                  "lr": lr, "grad_norm": grad_norm / self.steps, "target_tokens": int(tokens),
                  "input_tokens": int(input_tokens), "batch_fingerprint": all_reduce_int(self.fingerprint, self.runtime),
                  "steps_per_second": self.steps / seconds, "sequences_per_second": self.rows * world / seconds,
                  "tokens_per_second": (tokens + input_tokens) / seconds}
        self.reset()
        return record


def stop_if_diverged(trainer: Trainer, window: LogWindow, step: int, check_weights: bool) -> None:
    """Before anything is logged, evaluated or saved (all ranks): a non-finite loss or gradient
    since the last check, or non-finite weights, ends the run before they reach a checkpoint."""
    bad_step = window.first_nonfinite_step()
    if not bad_step and check_weights and not ckpt.weights_finite(trainer.t5):
        bad_step = step
    if bad_step:
        raise PretrainError(divergence_message(trainer.config, bad_step))


def train(config: TrainConfig) -> dict:
    """Run (or resume) a pretraining run; returns a summary of where things are."""
    runtime = runtime_from_env(config.device)
    config.validate(runtime.world)
    corpus = open_corpus(config.corpus)
    vocab = load_vocab(config.vocab)
    plan = plan_data(config, corpus, vocab, runtime)
    if config.prepare_only:
        for stream in (plan.train, plan.validation):
            stream.ensure_rows(1)
        return {"prepared": str(plan.train.store.directory), "validation": plan.validation_source}
    init_distributed(runtime)
    try:
        with torch_threads(config.cpu_threads):
            summary = _train(config, runtime, vocab, plan)
        if runtime.distributed:
            dist.barrier()  # rank 0 may still be saving; tearing gloo down under it aborts the peer
        return summary
    finally:
        if runtime.distributed and dist.is_initialized():
            dist.destroy_process_group()


def _train(config: TrainConfig, runtime: Runtime, vocab: Vocab, plan: DataPlan) -> dict:
    if runtime.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    trainer = build_trainer(config, runtime, vocab.model_vocab_size(), vocab)
    resumed = restore(trainer, data_identity(config, vocab, plan))
    start_step = resumed.step
    if start_step >= config.steps:
        log.info("%s is already at step %d of %d: nothing to do", resumed.checkpoint, start_step, config.steps)
        return {"step": start_step, "final": str(resumed.checkpoint), **ckpt.read_state(resumed.checkpoint)["metrics"]}
    metrics_log = start_logs(trainer, plan, resumed)
    sharding = Sharding(config.micro_batch(runtime.world), config.grad_accum, runtime.world, runtime.rank)
    eval_batches = validation_batches(plan.validation, config.eval_rows, sharding.micro_batch, vocab.size,
                                      runtime.world, runtime.rank)
    loader = train_loader(plan.train, sharding, vocab.size, start_step, config.steps, config.num_workers,
                          pin_memory=runtime.device.type == "cuda")
    summary = _loop(trainer, plan, loader, eval_batches, start_step, metrics_log)
    metrics_log.close()
    return summary


def start_logs(trainer: Trainer, plan: DataPlan, resumed: Resumed) -> MetricsLog:
    config, runtime = trainer.config, trainer.runtime
    output = config.output_dir
    if runtime.is_main:
        output.mkdir(parents=True, exist_ok=True)
        (output / "run_config.json").write_text(json.dumps(dataclasses.asdict(config), indent=1))
        log.info("%s: %.1fM parameters; validation: %s", config.model, count_parameters(trainer.t5) / 1e6,
                 plan.validation_source)
    resume_step = resumed.step if resumed.checkpoint else None
    metrics_log = MetricsLog(output, runtime.is_main, resume_step, config.tensorboard)
    if resume_step is None:
        metrics_log.write({"split": "info", "step": 0, "validation_source": plan.validation_source,
                           "parameters": count_parameters(trainer.t5), "world_size": runtime.world})
    else:  # which checkpoint, and what the rerun changed (run_config.json holds the new values)
        metrics_log.write({"split": "info", "step": resume_step, "resumed_from": str(resumed.checkpoint),
                           "changed": resumed.changes, "world_size": runtime.world})
    return metrics_log


def _loop(trainer: Trainer, plan: DataPlan, loader, eval_batches, start_step: int, metrics_log: MetricsLog) -> dict:
    config, runtime = trainer.config, trainer.runtime
    progress = Progress(runtime.is_main, config.steps, start_step)
    window = LogWindow(runtime)
    last: dict = {"step": start_step}
    step = start_step
    if config.eval_every and start_step == 0:
        last["initial_validation_loss"] = _evaluate(trainer, eval_batches, 0, metrics_log, progress)
    for step, micro_batches in enumerate(micro_batch_groups(loader, config.grad_accum), start=start_step + 1):
        lr = trainer.scheduler.get_last_lr()[0]
        window.add(trainer.step(micro_batches), micro_batches, step)
        progress.update()
        logs = step % config.log_every == 0 or step == config.steps
        evaluates = bool(config.eval_every) and (step % config.eval_every == 0 or step == config.steps)
        saves = bool(config.save_every) and step % config.save_every == 0 and step != config.steps
        if logs or evaluates or saves:
            stop_if_diverged(trainer, window, step, check_weights=evaluates or saves)
        if logs:
            record = window.record(step, lr)
            metrics_log.write(record)
            progress.report(record)
            last.update(record)
        if evaluates:
            last["validation_loss"] = _evaluate(trainer, eval_batches, step, metrics_log, progress)
        if saves:
            save(trainer, plan, ckpt.checkpoint_dir(config.output_dir, step), step, dict(last))
            if runtime.is_main:
                ckpt.prune_checkpoints(config.output_dir, config.keep_checkpoints)
    stop_if_diverged(trainer, window, step, check_weights=True)  # before the final evaluation and save
    if "validation_loss" not in last:
        last["validation_loss"] = _evaluate(trainer, eval_batches, step, metrics_log, progress)
    final = config.output_dir / ckpt.FINAL
    save(trainer, plan, final, step, dict(last))
    progress.close()
    return {"step": step, "final": str(final), "validation_source": plan.validation_source, **last}


def _evaluate(trainer: Trainer, batches, step: int, metrics_log: MetricsLog, progress: Progress) -> float:
    loss, tokens = trainer.evaluate(batches)
    record = {"split": "validation", "step": step, "loss": loss, "target_tokens": int(tokens)}
    metrics_log.write(record)
    progress.report(record)
    return loss
