"""cgrad.nn: modules, parameters, losses; `functional` (F), `init` and `utils` submodules."""
from . import functional, init, utils
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss,
                   NLLLoss, SmoothL1Loss)
from .module import Module
from .modules import (ELU, GELU, AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d,
                      BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, ConvTranspose1d,
                      ConvTranspose2d, Dropout, Embedding, Flatten, Identity, LayerNorm,
                      LeakyReLU, Linear, LogSigmoid, LogSoftmax, MaxPool1d, MaxPool2d,
                      ModuleDict, ModuleList, ParameterList, ReLU, Sequential, Sigmoid, SiLU,
                      Softmax, Softplus, Tanh, Unflatten)
from .parameter import Parameter
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = ["Module", "Parameter", "Linear", "Sequential", "ModuleList", "ModuleDict", "ReLU",
           "LeakyReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "Softmax", "LogSoftmax", "Dropout",
           "Embedding", "LayerNorm", "BatchNorm1d", "BatchNorm2d",
           "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
           "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "Softplus", "ELU", "LogSigmoid", "ParameterList",
           "Flatten", "Unflatten", "Identity", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase",
           "RNNCell", "LSTMCell", "GRUCell", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
           "NLLLoss",
           "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "functional", "init", "utils"]
