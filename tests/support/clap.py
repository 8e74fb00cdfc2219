"""A tiny random CLAP built in code, saved as a checkpoint folder: it stands in for
laion/larger_clap_music so the learned scorer's real loading and windowing code runs offline."""
from __future__ import annotations


def tiny_clap(folder):
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(["warm analog synth pads and brushed jazz drums"], vocab_size=300, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    tok = RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                               pad_token="<pad>", unk_token="<unk>", mask_token="<mask>", cls_token="<s>",
                               sep_token="</s>")
    cfg = ClapConfig(text_config=dict(vocab_size=300, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=64, max_position_embeddings=64, pad_token_id=1),
                     audio_config=dict(hidden_size=128, patch_embeds_hidden_size=16, depths=[1, 1, 1, 1],
                                       num_attention_heads=[2, 2, 2, 2], window_size=8, enable_fusion=False),
                     projection_dim=16)
    torch.manual_seed(0)
    ClapModel(cfg).eval().save_pretrained(folder)
    ClapProcessor(feature_extractor=ClapFeatureExtractor(truncation="rand_trunc"), tokenizer=tok).save_pretrained(folder)
    return folder
