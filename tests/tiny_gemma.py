"""A tiny random Gemma 3 with a word-level tokenizer, and random LoRA adapters for it: built in a second.

The tokenizer knows Gemma's special tokens, so prompts rendered in Gemma's turn format tokenize as they
would for the real model. The output layer gives every special token a zero logit, so greedy decoding of
the random model keeps producing words rather than ending at once on <eos> or <end_of_turn>.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "Stroke signs include face drooping, arm weakness and slurred speech.",
    "Asthma is a long-term lung condition that causes wheezing, cough and breathlessness.",
    "Paracetamol overdose can cause serious liver damage, even when a person feels well at first.",
    "Vaccines train the immune system to recognise a germ without causing the disease.",
    "On a chest X-ray, pneumonia often shows as consolidation, a white patch with air bronchograms.",
    "You are a medical education assistant. Answer the question using only the numbered sources below.",
    "Question: What are the warning signs of a stroke? What is asthma? Sources: [1] [2] [3]",
]
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
IMAGE_TOKENS = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}


def build_tiny_gemma(folder: Path, seed: int = 0) -> Path:
    """Save a 2-layer, 64-wide random Gemma 3 and its tokenizer (safetensors) into `folder`."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS + ["user model"], trainers.WordLevelTrainer(special_tokens=SPECIALS))
    bos = tok.token_to_id("<bos>")
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", bos)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
        extra_special_tokens=["<start_of_turn>", "<end_of_turn>"],
    )
    ids = {t: tok.token_to_id(t) for t in SPECIALS}
    config = Gemma3TextConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=512,
        sliding_window=64, layer_types=["sliding_attention", "full_attention"], query_pre_attn_scalar=32,
        pad_token_id=ids["<pad>"], eos_token_id=ids["<eos>"], bos_token_id=bos, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(config)
    with torch.no_grad():
        for t in SPECIALS:
            model.lm_head.weight[ids[t]].zero_()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def build_lora(base: Path, folder: Path, seed: int, scale: float = 0.5) -> Path:
    """Save a PEFT LoRA for the tiny model whose B matrices are random (non-zero), so it changes outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base))
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                         "gate_proj", "up_proj", "down_proj"])
    peft_model = get_peft_model(model, cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * scale)
    peft_model.save_pretrained(str(folder))  # adapter_config.json + adapter_model.safetensors
    return folder


def build_tiny_gemma_vision(folder: Path, seed: int = 0) -> Path:
    """Save a tiny random multimodal Gemma 3 (SigLIP tower on 28×28 images, 4 image tokens) and its processor."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import (Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessorPil,
                              Gemma3Processor, Gemma3TextConfig, PreTrainedTokenizerFast, SiglipVisionConfig)

    marks = list(IMAGE_TOKENS.values())
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS + ["user model"], trainers.WordLevelTrainer(special_tokens=SPECIALS + marks))
    bos = tok.token_to_id("<bos>")
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", bos)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>",
        extra_special_tokens=IMAGE_TOKENS,
    )
    ids = {t: tok.token_to_id(t) for t in SPECIALS + marks}
    text = Gemma3TextConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=512,
        sliding_window=64, layer_types=["sliding_attention", "full_attention"], query_pre_attn_scalar=32,
        pad_token_id=ids["<pad>"], eos_token_id=ids["<eos>"], bos_token_id=bos, tie_word_embeddings=False,
    )
    vision = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                image_size=28, patch_size=14)
    config = Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4,
                          boi_token_index=ids["<start_of_image>"], eoi_token_index=ids["<end_of_image>"],
                          image_token_index=ids["<image_soft_token>"])
    config.eos_token_id, config.pad_token_id, config.bos_token_id = ids["<eos>"], ids["<pad>"], bos
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config)
    with torch.no_grad():  # as in build_tiny_gemma: greedy decoding keeps producing words
        head = model.get_output_embeddings().weight
        for t in SPECIALS + marks:
            head[ids[t]].zero_()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    processor = Gemma3Processor(image_processor=Gemma3ImageProcessorPil(size={"height": 28, "width": 28}),
                                tokenizer=tokenizer, image_seq_length=4)
    processor.save_pretrained(str(folder))
    return folder
