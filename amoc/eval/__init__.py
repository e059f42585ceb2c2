"""Evaluation: feature extraction with test-time augmentation, distances, CMC and mAP."""
