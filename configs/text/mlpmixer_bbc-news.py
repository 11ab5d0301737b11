# The explicit twin of imixer_bbc-news.py: the same model with the plain token-mixing MLP.
_base_ = ['./imixer_bbc-news.py']
model = dict(hf_config=dict(_delete_=True, vocab_size=8000, max_position_embeddings=256, hidden_size=64,
                            num_hidden_layers=2, mlp_ratio=(0.5, 4.0), num_labels=5, hidden_dropout_prob=0.2,
                            classifier_dropout=0.1, token_mixer='mlp'))
