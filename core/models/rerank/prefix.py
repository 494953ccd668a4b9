"""Score many documents of one question against the key/value cache of their shared prompt prefix, computed once.

Every pair of a question starts with the same tokens (system prompt, instruction, query). Their keys and values
are computed once; each batch then runs only the documents' own tokens (document + the template's suffix),
right-padded, at positions that continue the prefix, and reads P(yes) at each row's last real token.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers.cache_utils import DynamicCache

PrefixState = list[tuple[torch.Tensor, torch.Tensor]]


def split_rows(rows: Sequence[Sequence[int]], prefix: Sequence[int]) -> list[list[int] | None]:
    """Each row's tokens after `prefix`, or None for a row that does not start with exactly those ids."""
    n = len(prefix)
    return [list(row[n:]) if len(row) > n and list(row[:n]) == list(prefix) else None for row in rows]


@torch.inference_mode()
def prefix_state(model, prefix: Sequence[int]) -> PrefixState:
    """The keys and values of every layer for the prefix tokens, batch of one."""
    device = model.device
    ids = torch.tensor([list(prefix)], device=device)
    cache = DynamicCache(config=model.config)
    model.model(input_ids=ids, attention_mask=torch.ones_like(ids), cache=cache, use_cache=True)
    return [(layer.keys, layer.values) for layer in cache.layers]


@torch.inference_mode()
def score_tails(model, state: PrefixState, tails: Sequence[Sequence[int]], yes: int, no: int, pad: int) -> list[float]:
    """P(yes) for each tail run after the prefix: softmax over the yes/no logits at the row's last real token."""
    device, width, rows = model.device, max(len(t) for t in tails), len(tails)
    prefix_length = state[0][0].shape[-2]
    ids = torch.full((rows, width), pad, dtype=torch.long, device=device)
    mask = torch.zeros((rows, prefix_length + width), dtype=torch.long, device=device)
    mask[:, :prefix_length] = 1
    for i, tail in enumerate(tails):
        ids[i, : len(tail)] = torch.tensor(list(tail), device=device)
        mask[i, prefix_length : prefix_length + len(tail)] = 1
    cache = DynamicCache(ddp_cache_data=[(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in state],
                         config=model.config)
    positions = torch.arange(prefix_length, prefix_length + width, device=device).expand(rows, -1)
    hidden = model.model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache,
                         use_cache=True).last_hidden_state
    last = hidden[torch.arange(rows, device=device), torch.tensor([len(t) - 1 for t in tails], device=device)]
    logits = torch.nn.functional.linear(last, model.lm_head.weight[[yes, no]]).float()
    return torch.sigmoid(logits[:, 0] - logits[:, 1]).tolist()
