# Causal (next-token) language model on GCIDE: IMixerForCausalLM, whose token-mixing matrices (W_in, W_a,
# W_b, W_out) are masked lower-triangular with the spectral norm taken of the masked weights, so token t
# sees tokens <= t only. Everything else as mlm_imixer_gcide.py (same windows of 64 word pieces, schedule);
# perplexity over every next token of the first 256 / 1,024 windows of validation / test.
# Twin and baseline: clm_mlpmixer_gcide.py (a causal MLP token mixer), clm_gpt2_gcide.py (GPT2LMHeadModel).
_base_ = ['./mlm_imixer_gcide.py']
objective = 'clm'
model = dict(hf_config=dict(token_mixer=dict(type='implicit', causal=True)))
