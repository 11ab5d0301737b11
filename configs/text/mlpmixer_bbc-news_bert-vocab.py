# The explicit twin of imixer_bbc-news_bert-vocab.py (python tools/prepare_data.py bert_uncased).
_base_ = ['./imixer_bbc-news_bert-vocab.py']
model = dict(hf_config=dict(token_mixer='mlp'))
