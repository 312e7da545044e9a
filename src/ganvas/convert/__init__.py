"""Networks read from other tools' files (ganvas.nvlabs) turned into ganvas families' state
dicts: stylegan2.py (NVlabs' PyTorch StyleGAN2 onto ganvas's stylegan2 family)."""
