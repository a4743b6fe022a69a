"""c4forge.pretrain"""
