"""Bring your own model: trained checkpoints read without torch (safetensors, torch.save
zip files through a restricted unpickler, Hugging Face folders, .npz), GPT-2 and
RNN/GRU/LSTM run exactly in float32, task adapters, evaluation and split protocols."""
