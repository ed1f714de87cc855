"""Builds a tiny local model directory for Dynamo's mocker and AIPerf: a byte-level BPE tokenizer trained on
local text (the system's license texts and Python's standard library), a ChatML chat template, and a minimal
Qwen2-style `config.json`. Nothing is downloaded. Run with a python that has `tokenizers` and `transformers`
(the Dynamo virtualenv):

    python profiler/engines/venv_scripts/tiny_model.py OUT_DIR [MAX_CONTEXT]

Only the standard library, tokenizers and transformers are imported, so the file runs outside this project.
"""

from __future__ import annotations

import json
import sys
import sysconfig
from pathlib import Path

VOCAB_SIZE = 4096
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _corpus() -> list[str]:
    roots = [Path("/usr/share/common-licenses"), Path(sysconfig.get_paths()["stdlib"])]
    files = sorted(p for root in roots if root.is_dir() for p in root.glob("*") if p.is_file())
    texts = []
    for path in files[:400]:
        try:
            texts.append(path.read_text(errors="ignore"))
        except OSError:
            continue
    return texts


def build(out: Path, max_context: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        unk_token="<|endoftext|>", model_max_length=max_context,
    )
    fast.chat_template = CHAT_TEMPLATE
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out))
    eos, bos = tokenizer.token_to_id("<|im_end|>"), tokenizer.token_to_id("<|endoftext|>")
    config = {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": tokenizer.get_vocab_size(),
        "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "max_position_embeddings": max_context, "bos_token_id": bos, "eos_token_id": eos,
        "torch_dtype": "bfloat16", "tie_word_embeddings": True,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "generation_config.json").write_text(json.dumps({"bos_token_id": bos, "eos_token_id": eos}) + "\n")


if __name__ == "__main__":
    build(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 32768)
