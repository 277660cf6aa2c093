"""Training: data splits and loaders, masked-event pretraining, fine-tuning."""
