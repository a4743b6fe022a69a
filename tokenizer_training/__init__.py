"""c4forge.tokenizer_training"""
