"""Fine-tunes a `BertEncoder` on the assistant's own intents and entities.

Frozen pre-trained vectors leave DIET to separate intents that the encoder never
learnt to tell apart. Fine-tuning trains the encoder, together with two throw-away
linear heads (intent from the sentence vector, entity type from each word vector),
on the training data, so the features the featurizer then hands to DIET already
carry the distinctions the assistant needs. Only the encoder is kept.

Plain PyTorch: no Rasa types here (`bilingual_assistant/components/bert_featurizer.py` converts Rasa
messages).
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Text

from bilingual_assistant.encoders.torch_encoder import BertEncoder

logger = logging.getLogger(__name__)

NO_ENTITY = "O"


@dataclass
class TuningExample:
    """One training example as the fine-tuning sees it.

    Attributes:
        words: the Rasa tokens' texts.
        intent: the intent label, or None when the example has none.
        tags: one entity type per word (`NO_ENTITY` outside entities).
    """

    words: List[Text]
    intent: Optional[Text]
    tags: List[Text]


@dataclass
class TuningOptions:
    """How to fine-tune (see the featurizer's `fine_tune_*` options)."""

    epochs: int
    learning_rate: float
    batch_size: int
    entities: bool = True
    head_learning_rate: Optional[float] = None
    warmup_fraction: float = 0.1
    seed: int = 42


@dataclass
class TuningReport:
    """What a fine-tuning run did, stored with the model for provenance."""

    epochs: int
    examples: int
    intents: int
    entity_types: int
    first_epoch_loss: float
    last_epoch_loss: float
    seconds: float


# Called after every batch: (epoch, number of epochs, batch, batches, loss).
Progress = Callable[[int, int, int, int, float], None]


def label_ids(labels: Sequence[Optional[Text]]) -> Dict[Text, int]:
    """A stable id for each distinct label (sorted, None left out)."""
    return {label: i for i, label in enumerate(sorted({x for x in labels if x}))}


def fine_tune(
    encoder: BertEncoder,
    examples: Sequence[TuningExample],
    options: TuningOptions,
    progress: Optional[Progress] = None,
) -> Optional[TuningReport]:
    """Trains the encoder's weights in place on intents and entity tags.

    Args:
        encoder: the encoder to train; it is left in evaluation mode.
        examples: training examples with at least one word.
        options: epochs, learning rate, batch size, whether to learn entities.
        progress: optional callback after every batch.

    Returns:
        A report, or None when there was nothing to learn (fewer than two intents
        and no entities); the encoder is then unchanged.
    """
    import torch

    examples = [e for e in examples if e.words]
    intents = label_ids([e.intent for e in examples])
    tag_names = [t for e in examples for t in e.tags] if options.entities else []
    tags = label_ids([NO_ENTITY] + tag_names)
    learn_intents, learn_tags = len(intents) > 1, len(tags) > 1
    if not examples or not (learn_intents or learn_tags):
        logger.info("Fine-tuning skipped: fewer than two intents and no entities.")
        return None

    torch.manual_seed(options.seed)
    order = random.Random(options.seed)
    dim = encoder.dim
    dropout = torch.nn.Dropout(0.1)
    intent_head = torch.nn.Linear(dim, max(len(intents), 1))
    tag_head = torch.nn.Linear(dim, len(tags))
    model = encoder.model
    # The word-piece embedding table stays as pre-trained: pieces that the training
    # data never shows keep vectors consistent with the rest, and its updates were
    # a fifth of the time of a step (m3e-small: 10.8 of 24 million weights).
    table = model.get_input_embeddings().weight
    table.requires_grad_(False)
    encoder_parameters = [p for p in model.parameters() if p.requires_grad]
    head_parameters = [*intent_head.parameters(), *tag_head.parameters()]
    parameters = encoder_parameters + head_parameters
    # The heads start from random weights: at the encoder's rate, Adam moves a
    # weight by at most that rate per step, so a head could not leave its
    # near-zero start in a few hundred steps and the loss hardly fell.
    head_rate = options.head_learning_rate or options.learning_rate
    optimizer = torch.optim.AdamW(
        [{"params": encoder_parameters, "lr": options.learning_rate},
         {"params": head_parameters, "lr": head_rate}],
        weight_decay=0.01,
    )
    batches_per_epoch = math.ceil(len(examples) / options.batch_size)
    total = batches_per_epoch * options.epochs
    warmup = max(1, int(total * options.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))),
    )

    started = time.perf_counter()
    epoch_losses: List[float] = []
    model.train()
    try:
        for epoch in range(options.epochs):
            shuffled = list(examples)
            order.shuffle(shuffled)
            running = 0.0
            for b in range(batches_per_epoch):
                batch = shuffled[b * options.batch_size : (b + 1) * options.batch_size]
                prepared = encoder.prepare([e.words for e in batch])
                sentence, words = encoder.forward(prepared)
                loss = torch.zeros(())
                if learn_intents:
                    target = torch.tensor([intents.get(e.intent or "", -100) for e in batch])
                    if (target >= 0).any():
                        logits = intent_head(dropout(sentence))
                        loss = loss + torch.nn.functional.cross_entropy(
                            logits, target, ignore_index=-100
                        )
                if learn_tags:
                    target = torch.full(words.shape[:2], -100, dtype=torch.long)
                    for i, e in enumerate(batch):
                        target[i, : len(e.tags)] = torch.tensor([tags[t] for t in e.tags])
                    logits = tag_head(dropout(words))
                    loss = loss + torch.nn.functional.cross_entropy(
                        logits.reshape(-1, len(tags)), target.reshape(-1), ignore_index=-100
                    )
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, 1.0)
                optimizer.step()
                scheduler.step()
                running += float(loss.detach())
                if progress is not None:
                    progress(epoch + 1, options.epochs, b + 1, batches_per_epoch,
                             running / (b + 1))
            epoch_losses.append(running / batches_per_epoch)
            logger.info(
                f"Fine-tuning epoch {epoch + 1}/{options.epochs}: "
                f"loss {epoch_losses[-1]:.4f}"
            )
    finally:
        model.eval()
        model.zero_grad(set_to_none=True)
        table.requires_grad_(True)
    return TuningReport(
        epochs=options.epochs,
        examples=len(examples),
        intents=len(intents),
        entity_types=len(tags) - 1,
        first_epoch_loss=epoch_losses[0],
        last_epoch_loss=epoch_losses[-1],
        seconds=time.perf_counter() - started,
    )
