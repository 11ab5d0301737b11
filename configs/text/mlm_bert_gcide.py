# Baseline of mlm_imixer_gcide.py: transformers' BertForMaskedLM of the same width, depth and about the same
# size (2 layers x 64, 2 heads, FFN 256, learned positions; 0.63M parameters against the iMixer's 0.64M),
# on the same tokens, tokenizer, schedule, seeds and masked positions. No dropout, like the iMixer.
_base_ = ['./mlm_imixer_gcide.py']
model = dict(hf_config=dict(_delete_=True, model_type='bert', hidden_size=64, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=256, hidden_dropout_prob=0.0,
                            attention_probs_dropout_prob=0.0, pad_token_id=0))
custom_hooks = [dict(type='ExportHFHook', out_dir='hf_export', checkpoint='best')]
