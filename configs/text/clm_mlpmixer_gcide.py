# The explicit twin of clm_imixer_gcide.py: the same causal LM with a causal (masked) token-mixing MLP.
_base_ = ['./clm_imixer_gcide.py']
model = dict(hf_config=dict(token_mixer=dict(type='mlp', causal=True)))
