"""cgrad.nn: modules, parameters, losses; `functional` (F), `init` and `utils` submodules."""
from . import functional, init, utils
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss,
                   NLLLoss, SmoothL1Loss)
from .module import Module
from .modules import (ELU, GELU, AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d,
                      BatchNorm1d, BatchNorm2d, CircularPad1d, CircularPad2d, CircularPad3d,
                      ConstantPad1d, ConstantPad2d, ConstantPad3d, Conv1d, Conv2d,
                      ConvTranspose1d, ConvTranspose2d, Dropout, Embedding, Flatten, Fold,
                      Identity, LayerNorm, LeakyReLU, Linear, LogSigmoid, LogSoftmax, MaxPool1d,
                      MaxPool2d, ModuleDict, ModuleList, ParameterList, ReflectionPad1d,
                      ReflectionPad2d, ReflectionPad3d, ReLU, ReplicationPad1d,
                      ReplicationPad2d, ReplicationPad3d, Sequential, Sigmoid, SiLU, Softmax,
                      Softplus, Tanh, Unflatten, Unfold, ZeroPad1d, ZeroPad2d, ZeroPad3d)
from .parameter import Parameter
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
# attention and the Transformer stack
from .transformer import (MultiheadAttention, Transformer, TransformerDecoder,
                          TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer)

__all__ = ["Module", "Parameter", "Linear", "Sequential", "ModuleList", "ModuleDict", "ReLU",
           "LeakyReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "Softmax", "LogSoftmax", "Dropout",
           "Embedding", "LayerNorm", "BatchNorm1d", "BatchNorm2d",
           "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
           "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Unfold", "Fold",
           "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "ReflectionPad3d",
           "ZeroPad1d", "ZeroPad3d", "ConstantPad3d", "CircularPad1d", "CircularPad2d",
           "CircularPad3d",
           "Softplus", "ELU", "LogSigmoid", "ParameterList",
           "Flatten", "Unflatten", "Identity", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase",
           "RNNCell", "LSTMCell", "GRUCell", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
           "NLLLoss",
           "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "functional", "init", "utils"]
__all__ += ["MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder",
            "TransformerEncoderLayer", "TransformerDecoderLayer"]
