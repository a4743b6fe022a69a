"""T5 v1.1 models built locally (no download) and the span-corruption loss around them.

Shapes are the released T5 v1.1 hyperparameters (span_corruption_reference.md §4.2;
t5x ``t5_1_1/*.gin``): gated-GELU feed-forward, no dropout in pretraining, untied input and
output embeddings, relative attention with 32 buckets up to distance 128, RMSNorm eps 1e-6.

Two transformers 5.x details handled here:

* ``T5Config`` always sets ``tie_word_embeddings=True`` (transformers PR #42815: for T5 the flag
  used to mean "scale the decoder output", and 5.x ties the encoder and decoder embeddings to
  ``shared`` through it); passing False only turns off the decoder output scaling. So
  ``lm_head`` starts as the *same* tensor as the input embedding. ``untie_lm_head`` gives it its
  own parameter, and then sets the flag to False on the built model, so that ``config.json``
  says what the checkpoint is (transformers 4.x reads the flag literally: true would tie the
  head and scale the decoder output) and ``resize_token_embeddings`` does not tie the head back.
* HF initializes an untied head with std 1.0, which makes the initial loss ~110 (transformers
  PR #26441, t5x #1477, nanoT5 #25); Mesh-TF/t5x use std d_model^-0.5, as done here.

Loading: transformers 4.x loads a checkpoint as it is, silently. transformers 5.x forces the
flag back to True and logs that the head and the embedding "are present in the checkpoints with
different values, so we will NOT tie them" for every untied T5 (Google's t5-v1_1 too); the head
is kept, and the loss is the same. ``checkpoint.load_t5`` loads one without that message and
with the flag False (docs/pretraining.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import MODEL_SHAPES


def t5_config(model: str, vocab_size: int, attn_implementation: str = "sdpa"):
    from transformers import T5Config

    if model not in MODEL_SHAPES:
        raise ValueError(f"unknown model {model!r}; choose from {', '.join(MODEL_SHAPES)}")
    shape = MODEL_SHAPES[model]
    config = T5Config(
        vocab_size=vocab_size, d_model=shape.d_model, d_ff=shape.d_ff, d_kv=shape.d_kv, num_heads=shape.num_heads,
        num_layers=shape.num_layers, num_decoder_layers=shape.num_layers, feed_forward_proj="gated-gelu",
        dropout_rate=0.0, layer_norm_epsilon=1e-6, relative_attention_num_buckets=32,
        relative_attention_max_distance=128, tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0, use_cache=False,
    )
    config._attn_implementation = attn_implementation
    return config


def untie_lm_head(model) -> None:
    """Give lm_head its own weight, initialized like Mesh-TF's logits layer (std d_model^-0.5),
    and make the model's config and tying say so."""
    d_model = model.config.d_model
    weight = torch.empty_like(model.shared.weight).normal_(mean=0.0, std=d_model ** -0.5)
    model.lm_head.weight = nn.Parameter(weight)
    mark_head_untied(model)


def mark_head_untied(model) -> None:
    """After the embeddings are tied (5.x ties them at init) and the head is its own parameter:
    the flag False, and lm_head out of the tying map, so nothing ties it back."""
    model.config.tie_word_embeddings = False
    tied = getattr(model, "all_tied_weights_keys", None)
    if isinstance(tied, dict):
        tied.pop("lm_head.weight", None)


def build_t5(model: str, vocab_size: int, seed: int, attn_implementation: str = "sdpa"):
    """A freshly initialized T5 v1.1 (same weights for the same seed on every rank)."""
    from transformers import T5ForConditionalGeneration

    torch.manual_seed(seed)
    t5 = T5ForConditionalGeneration(t5_config(model, vocab_size, attn_implementation))
    untie_lm_head(t5)
    t5.generation_config.decoder_start_token_id = 0
    return t5


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, q, k) bool -> (B, 1, q, k) additive float mask (0 or the dtype's most negative value).
    Float, not bool: T5's eager attention adds the mask to the scores."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(
        ~allowed, torch.finfo(dtype).min).unsqueeze(1)


def segment_masks(encoder_segments: torch.Tensor, decoder_segments: torch.Tensor, dtype: torch.dtype):
    """Attention within a packed example only: encoder block-diagonal, decoder block-diagonal and
    causal, decoder segment i attends encoder segment i; padding (segment 0) attends nothing."""
    enc_q, enc_k = encoder_segments[:, :, None], encoder_segments[:, None, :]
    dec_q, dec_k = decoder_segments[:, :, None], decoder_segments[:, None, :]
    length = decoder_segments.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=decoder_segments.device).tril()
    encoder = (enc_q == enc_k) & (enc_k > 0)
    decoder = (dec_q == dec_k) & (dec_k > 0) & causal
    cross = (dec_q == enc_k) & (enc_k > 0)
    return additive_mask(encoder, dtype), additive_mask(decoder, dtype), additive_mask(cross, dtype)


class SpanCorruptionLoss(nn.Module):
    """T5 + token-summed cross-entropy and z-loss. Returns sums, not means, so micro-batches,
    packed sub-batches and ranks can be combined into one global per-token mean.

    Calls encoder and decoder itself because T5ForConditionalGeneration passes the encoder's
    attention mask on as the cross-attention mask, which is wrong for packed (4-D) masks."""

    def __init__(self, t5, z_loss: float = 0.0):
        super().__init__()
        self.t5 = t5
        self.z_loss = z_loss

    def forward(self, encoder_input_tokens, decoder_input_tokens, decoder_target_tokens, decoder_loss_weights,
                encoder_segment_ids=None, decoder_segment_ids=None):
        t5 = self.t5
        masks = (None, None, None)
        if encoder_segment_ids is not None:
            dtype = torch.get_autocast_dtype(encoder_input_tokens.device.type) if torch.is_autocast_enabled(
                encoder_input_tokens.device.type) else torch.float32
            masks = segment_masks(encoder_segment_ids, decoder_segment_ids, dtype)
        encoded = t5.encoder(input_ids=encoder_input_tokens, attention_mask=masks[0]).last_hidden_state
        decoded = t5.decoder(input_ids=decoder_input_tokens, attention_mask=masks[1], encoder_hidden_states=encoded,
                             encoder_attention_mask=masks[2], use_cache=False).last_hidden_state
        if t5.config.scale_decoder_outputs:  # False for v1.1; kept for a v1.0-style config
            decoded = decoded * (t5.config.d_model ** -0.5)
        logits = t5.lm_head(decoded).float()
        flat_logits = logits.view(-1, logits.shape[-1])
        weights = decoder_loss_weights.reshape(-1)
        cross_entropy = F.cross_entropy(flat_logits, decoder_target_tokens.reshape(-1), reduction="none")
        ce_sum = (cross_entropy * weights).sum()
        z_sum = (torch.logsumexp(flat_logits, dim=-1).square() * weights).sum() if self.z_loss else ce_sum.new_zeros(())
        return ce_sum, z_sum
