"""Datasets: readers into the common tracklet index, the uint8 frame cache, person splits."""
