# Baseline of clm_imixer_gcide.py: transformers' GPT2LMHeadModel of the same width, depth and about the same
# size (2 layers x 64, 2 heads, FFN 256, learned positions, tied embeddings), on the same tokens, tokenizer,
# schedule and seeds. No dropout, like the iMixer.
_base_ = ['./clm_imixer_gcide.py']
model = dict(hf_config=dict(_delete_=True, model_type='gpt2', n_embd=64, n_layer=2, n_head=2, n_inner=256,
                            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, pad_token_id=0))
custom_hooks = [dict(type='ExportHFHook', out_dir='hf_export', checkpoint='best')]
