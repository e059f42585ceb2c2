"""Training: pair sampling, augmentation, the loop, checkpoints, the train and pre-train CLIs."""
