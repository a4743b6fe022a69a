"""c4forge.cleaning_rules"""
