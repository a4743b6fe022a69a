"""c4forge.pipeline"""
