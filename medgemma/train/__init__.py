"""Fine-tuning data: the Example format, loaders for training files, and recipes built from the shared data."""
