"""PyTorch's submodule paths for nn's classes (torch.nn.modules.loss, .conv, .utils, ...), so
that code importing from them runs: `from torch.nn.modules.loss import _Loss`,
`from torch.nn.modules.batchnorm import _BatchNorm`, `from torch.nn.modules.utils import _pair`.
Each is a module object holding the classes and functions PyTorch's holds (those cgrad has),
registered as cgrad.nn.modules.<name> when cgrad.nn is imported."""
import collections.abc
import itertools
import sys
import types

# torch.nn.modules.<name>: what it holds (cgrad's classes of those names)
_CONTENTS = {
    "activation": "Threshold ReLU RReLU Hardtanh ReLU6 Sigmoid Hardsigmoid Tanh SiLU Mish "
                  "Hardswish ELU CELU SELU GLU GELU Hardshrink LeakyReLU LogSigmoid Softplus "
                  "Softshrink MultiheadAttention PReLU Softsign Tanhshrink Softmin Softmax "
                  "Softmax2d LogSoftmax",
    "adaptive": "AdaptiveLogSoftmaxWithLoss",
    "batchnorm": "_NormBase _BatchNorm _LazyNormBase BatchNorm1d LazyBatchNorm1d BatchNorm2d "
                 "LazyBatchNorm2d BatchNorm3d LazyBatchNorm3d SyncBatchNorm",
    "channelshuffle": "ChannelShuffle",
    "container": "Container Sequential ModuleList ModuleDict ParameterList ParameterDict",
    "conv": "_ConvNd Conv1d Conv2d Conv3d _ConvTransposeNd ConvTranspose1d ConvTranspose2d "
            "ConvTranspose3d LazyConv1d LazyConv2d LazyConv3d LazyConvTranspose1d "
            "LazyConvTranspose2d LazyConvTranspose3d",
    "distance": "PairwiseDistance CosineSimilarity",
    "dropout": "Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout",
    "flatten": "Flatten Unflatten",
    "fold": "Fold Unfold",
    "instancenorm": "_InstanceNorm InstanceNorm1d LazyInstanceNorm1d InstanceNorm2d "
                    "LazyInstanceNorm2d InstanceNorm3d LazyInstanceNorm3d",
    "lazy": "LazyModuleMixin",
    "linear": "Identity Linear Bilinear LazyLinear",
    "loss": "_Loss _WeightedLoss L1Loss NLLLoss NLLLoss2d PoissonNLLLoss GaussianNLLLoss "
            "KLDivLoss MSELoss BCELoss BCEWithLogitsLoss HingeEmbeddingLoss "
            "MultiLabelMarginLoss SmoothL1Loss HuberLoss SoftMarginLoss CrossEntropyLoss "
            "LinearCrossEntropyLoss MultiLabelSoftMarginLoss CosineEmbeddingLoss "
            "MarginRankingLoss MultiMarginLoss TripletMarginLoss TripletMarginWithDistanceLoss "
            "CTCLoss",
    "normalization": "LocalResponseNorm LayerNorm GroupNorm RMSNorm",
    "padding": "CircularPad1d CircularPad2d CircularPad3d ConstantPad1d ConstantPad2d "
               "ConstantPad3d ReflectionPad1d ReflectionPad2d ReflectionPad3d "
               "ReplicationPad1d ReplicationPad2d ReplicationPad3d ZeroPad1d ZeroPad2d "
               "ZeroPad3d",
    "pixelshuffle": "PixelShuffle PixelUnshuffle",
    "pooling": "_MaxPoolNd MaxPool1d MaxPool2d MaxPool3d _MaxUnpoolNd MaxUnpool1d MaxUnpool2d "
               "MaxUnpool3d _AvgPoolNd AvgPool1d AvgPool2d AvgPool3d FractionalMaxPool2d "
               "FractionalMaxPool3d _LPPoolNd LPPool1d LPPool2d LPPool3d _AdaptiveMaxPoolNd "
               "AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d AdaptiveAvgPool1d "
               "AdaptiveAvgPool2d AdaptiveAvgPool3d",
    "rnn": "RNNBase RNN LSTM GRU RNNCellBase RNNCell LSTMCell GRUCell",
    "sparse": "Embedding EmbeddingBag",
    "transformer": "Transformer TransformerEncoder TransformerDecoder TransformerEncoderLayer "
                   "TransformerDecoderLayer _generate_square_subsequent_mask _get_clones "
                   "_get_activation_fn",
    "upsampling": "Upsample UpsamplingNearest2d UpsamplingBilinear2d",
    "utils": "_ntuple _single _pair _triple _quadruple _reverse_repeat_tuple _list_with_default "
             "consume_prefix_in_state_dict_if_present",
}


# ---- torch.nn.modules.utils: the argument helpers of PyTorch's layers -----------------------
def _ntuple(n, name="parse"):
    """a function making an n-tuple of one value (an iterable is kept as a tuple)"""
    def parse(x):
        if isinstance(x, collections.abc.Iterable):
            return tuple(x)
        return tuple(itertools.repeat(x, n))
    parse.__name__ = name
    return parse


_single, _pair = _ntuple(1, "_single"), _ntuple(2, "_pair")
_triple, _quadruple = _ntuple(3, "_triple"), _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t, n):
    """t reversed, each element n times: a layer's padding as F.pad takes it"""
    return tuple(x for x in reversed(t) for _ in range(n))


def _list_with_default(out_size, defaults):
    """out_size with its Nones replaced by the matching trailing entries of defaults"""
    if isinstance(out_size, int):
        return out_size
    if len(defaults) <= len(out_size):
        raise ValueError(f"Input dimension should be at least {len(out_size) + 1}")
    return [v if v is not None else d for v, d in zip(out_size, defaults[-len(out_size):])]


def consume_prefix_in_state_dict_if_present(state_dict, prefix):
    """prefix stripped, in place, from the keys of state_dict (and of its _metadata) that start
    with it: a DataParallel / DDP model's state dict ("module.") loads into the bare model"""
    for key in list(state_dict):
        if key.startswith(prefix):
            state_dict[key[len(prefix):]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        for key in list(metadata):
            if key and (key == prefix.replace(".", "") or key.startswith(prefix)):
                metadata[key[len(prefix):]] = metadata.pop(key)


def register(nn):
    """cgrad.nn.modules.<name> for each of PyTorch's submodules, from cgrad.nn's namespace, its
    modules (the private bases) and this one; torch.nn.modules.module is cgrad.nn.module"""
    from . import loss, module, modules, transformer
    sources = (nn, modules, loss, transformer, sys.modules[__name__])
    sys.modules[f"{modules.__name__}.module"] = module
    for name, contents in _CONTENTS.items():
        sub = types.ModuleType(f"{modules.__name__}.{name}")
        for attr in contents.split():
            sub.__dict__[attr] = next(getattr(s, attr) for s in sources if hasattr(s, attr))
        sys.modules[sub.__name__] = sub
        setattr(modules, name, sub)
