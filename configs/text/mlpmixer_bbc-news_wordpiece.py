# The explicit twin of imixer_bbc-news_wordpiece.py: the same model with the plain token-mixing MLP.
_base_ = ['./imixer_bbc-news_wordpiece.py']
model = dict(hf_config=dict(token_mixer='mlp'))
