"""A tiny, randomly initialised BERT built inside the tests (no weights needed)."""

from pathlib import Path
from typing import Text

VOCAB = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + list("明天北京气怎么样今上海下雨吗你好的是")
    + ["what", "is", "the", "weather", "in", "new", "york", "hello", "un", "##bel",
       "##iev", "##able", "##s", "a", "b", "c", "?", "!", ",", "."]
)


def build_tiny_bert(directory: Path, max_positions: int = 64) -> Text:
    """Writes a 2-layer BERT with hidden size 16 and a WordPiece tokenizer."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    # do_lower_case=False over a lower-case vocabulary: the m3e-small quirk.
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=False)
    tokenizer.save_pretrained(str(directory))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=max_positions,
    )
    BertModel(config).save_pretrained(str(directory))
    return str(directory)
