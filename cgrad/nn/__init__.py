"""cgrad.nn: modules, parameters, losses; `functional` (F), `init` and `utils` submodules."""
import sys
from . import attention, functional, grad, init, parallel, utils
functional.grad = grad          # (PyTorch's F.grad is nn.grad)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss,
                   NLLLoss, NLLLoss2d, SmoothL1Loss)
from .module import Container, Module
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .activation import (CELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, Mish,
                         PReLU, ReLU6, RReLU, Softmax2d, Softmin, Softshrink, Softsign,
                         Tanhshrink, Threshold)
from .layers import (AlphaDropout, Bilinear, ChannelShuffle, CosineSimilarity, Dropout1d,
                     Dropout2d, Dropout3d, FeatureAlphaDropout, PairwiseDistance, PixelShuffle,
                     PixelUnshuffle, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d)
from .loss import (CosineEmbeddingLoss, CTCLoss, GaussianNLLLoss, HingeEmbeddingLoss, KLDivLoss,
                   LinearCrossEntropyLoss, LinearCrossEntropyOptions, MarginRankingLoss,
                   MultiLabelMarginLoss, MultiLabelSoftMarginLoss, MultiMarginLoss, PoissonNLLLoss,
                   SoftMarginLoss, TripletMarginLoss, TripletMarginWithDistanceLoss)
from .modules import ParameterDict
from .modules import (ELU, GELU, AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d,
                      AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d, AvgPool1d,
                      AvgPool2d, AvgPool3d, BatchNorm1d, BatchNorm2d, BatchNorm3d, CircularPad1d,
                      CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d,
                      Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
                      Dropout, Embedding, EmbeddingBag, Flatten, Fold, GroupNorm, Identity,
                      InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LayerNorm, LeakyReLU, Linear,
                      RMSNorm, LocalResponseNorm, LPPool1d, LPPool2d, LPPool3d,
                      FractionalMaxPool2d, FractionalMaxPool3d,
                      LogSigmoid, LogSoftmax, MaxPool1d, MaxPool2d, MaxPool3d, MaxUnpool1d,
                      MaxUnpool2d, MaxUnpool3d, ModuleDict, ModuleList, ParameterList,
                      ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReLU, ReplicationPad1d,
                      ReplicationPad2d, ReplicationPad3d, Sequential, Sigmoid, SiLU, Softmax,
                      Softplus, SyncBatchNorm, Tanh, Unflatten, Unfold, ZeroPad1d, ZeroPad2d,
                      ZeroPad3d)
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
from .modules import (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d,
                      LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d,
                      LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d, LazyLinear)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
# attention and the Transformer stack
from .transformer import (MultiheadAttention, Transformer, TransformerDecoder,
                          TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer)

__all__ = ["Module", "Container", "NLLLoss2d", "Parameter", "UninitializedParameter", "LazyLinear", "Linear", "Sequential", "ModuleList", "ModuleDict", "ReLU",
           "LeakyReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "Softmax", "LogSoftmax", "Dropout",
           "Embedding", "EmbeddingBag", "LayerNorm", "RMSNorm", "BatchNorm1d", "BatchNorm2d",
           "BatchNorm3d", "InstanceNorm1d",
           "InstanceNorm2d", "InstanceNorm3d", "GroupNorm",
           "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
           "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
           "Unfold", "Fold",
           "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "ReflectionPad3d",
           "ZeroPad1d", "ZeroPad3d", "ConstantPad3d", "CircularPad1d", "CircularPad2d",
           "CircularPad3d",
           "Softplus", "ELU", "LogSigmoid", "ParameterList",
           "Flatten", "Unflatten", "Identity", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase",
           "RNNCell", "LSTMCell", "GRUCell", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
           "NLLLoss",
           "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "functional", "init", "utils",
           # more activations, losses and layers
           "CELU", "GLU", "SELU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "Mish",
           "PReLU", "ReLU6", "RReLU", "Softmax2d", "Softmin", "Softshrink", "Softsign",
           "Tanhshrink", "Threshold", "AlphaDropout", "Bilinear", "CosineSimilarity",
           "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout", "PairwiseDistance",
           "PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "Upsample", "UpsamplingBilinear2d",
           "UpsamplingNearest2d", "AdaptiveLogSoftmaxWithLoss", "CosineEmbeddingLoss", "CTCLoss",
           "GaussianNLLLoss",
           "HingeEmbeddingLoss",
           "KLDivLoss", "MarginRankingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss",
           "MultiMarginLoss", "PoissonNLLLoss", "SoftMarginLoss", "TripletMarginLoss",
           "TripletMarginWithDistanceLoss", "ParameterDict", "LocalResponseNorm", "LPPool1d",
           "LPPool2d", "LPPool3d", "FractionalMaxPool2d", "FractionalMaxPool3d", "Buffer",
           "UninitializedBuffer", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
           "LazyInstanceNorm3d"]
from .parallel import DataParallel

__all__ += ["MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder",
            "TransformerEncoderLayer", "TransformerDecoderLayer"]
__all__ += ["SyncBatchNorm", "DataParallel", "parallel"]
__all__ += ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]

from . import _torch_paths  # noqa: E402  (torch.nn.modules.loss and the like, once nn is whole)
_torch_paths.register(sys.modules[__name__])
