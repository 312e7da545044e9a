"""Reading NVlabs network pickles (StyleGAN2-ADA, StyleGAN3, TensorFlow StyleGAN2) as plain
data, without running any code they carry: unpickle.py (the restricted unpickler), tensors.py
(tensors through torch's weights-only loader), records.py (the records), read.py (formats)."""

from ganvas.nvlabs.read import FORMATS, NvlabsPickle, read_network_pickle
from ganvas.nvlabs.records import TensorFlowNetwork, TorchNetwork

__all__ = ["FORMATS", "NvlabsPickle", "TensorFlowNetwork", "TorchNetwork",
           "read_network_pickle"]
