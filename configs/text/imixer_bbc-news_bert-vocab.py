# imixer_bbc-news.py with BERT's uncased WordPiece vocabulary (30,522 tokens) instead of one trained on
# the training split: python tools/prepare_data.py bert_uncased. Only the vocabulary is pretrained; the
# embeddings are still learnt from scratch (1.95M of the model's 2.08M parameters).
_base_ = ['./imixer_bbc-news.py']
tokenizer = 'bert_uncased'
vocab_size = 30522
