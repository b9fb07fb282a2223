"""The Summary protocol buffers of torch.utils.tensorboard.summary, field for field: scalars
(simple_value, or a tensor for new_style), histograms (np.histogram, trimmed to the occupied
range), PNG images (Pillow), WAV audio, text, hparams, PR curves, custom-scalar layouts,
meshes and full tensors. Inputs: cgrad tensors, NumPy arrays, Python numbers."""
import io
import json
import logging
import struct

import numpy as np
from google.protobuf import struct_pb2
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.pr_curve.plugin_data_pb2 import PrCurvePluginData
from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData

from ...tensor import Tensor
from ._utils import _prepare_video, convert_to_HWC, make_np

__all__ = ["half_to_int", "int_to_half", "hparams", "scalar", "histogram_raw", "histogram",
           "make_histogram", "image", "image_boxes", "draw_boxes", "make_image", "video",
           "make_video", "audio", "custom_scalars", "text", "tensor_proto", "pr_curve_raw",
           "pr_curve", "compute_curve", "mesh"]

logger = logging.getLogger(__name__)


def half_to_int(f):
    """The float32 bit pattern of f as an int: how PyTorch stores half values in half_val."""
    return struct.unpack("i", struct.pack("f", f))[0]


def int_to_half(i):
    """The inverse of half_to_int."""
    return struct.unpack("f", struct.pack("i", i))[0]


def _complex_list(a):
    return np.stack([a.real, a.imag], axis=-1).reshape(-1).tolist()


# NumPy dtype name -> (proto dtype, TensorProto field, values as a list), PyTorch's table
# (its uint8 entry that wins is the uint32_val one)
_TENSOR_TYPE_MAP = {
    "float16": ("DT_HALF", "half_val", lambda a: [half_to_int(x) for x in a.reshape(-1).tolist()]),
    "float32": ("DT_FLOAT", "float_val", lambda a: a.reshape(-1).tolist()),
    "float64": ("DT_DOUBLE", "double_val", lambda a: a.reshape(-1).tolist()),
    "int8": ("DT_INT8", "int_val", lambda a: a.reshape(-1).tolist()),
    "uint8": ("DT_UINT8", "uint32_val", lambda a: a.reshape(-1).tolist()),
    "int16": ("DT_INT16", "int_val", lambda a: a.reshape(-1).tolist()),
    "int32": ("DT_INT32", "int_val", lambda a: a.reshape(-1).tolist()),
    "int64": ("DT_INT64", "int64_val", lambda a: a.reshape(-1).tolist()),
    "bool": ("DT_BOOL", "bool_val", lambda a: a.reshape(-1).tolist()),
    "complex64": ("DT_COMPLEX64", "scomplex_val", _complex_list),
    "complex128": ("DT_COMPLEX128", "dcomplex_val", _complex_list),
}


def _calc_scale_factor(array):
    return 1 if array.dtype == np.uint8 else 255


def _draw_single_box(image, xmin, ymin, xmax, ymax, display_str, color="black",
                     color_text="black", thickness=2):
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default()
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = xmin, xmax, ymin, ymax
    draw.line([(left, top), (left, bottom), (right, bottom), (right, top), (left, top)],
              width=thickness, fill=color)
    if display_str:
        text_bottom = bottom
        _left, _top, _right, _bottom = font.getbbox(display_str)
        text_width, text_height = _right - _left, _bottom - _top
        margin = np.ceil(0.05 * text_height)
        draw.rectangle([(left, text_bottom - text_height - 2 * margin),
                        (left + text_width, text_bottom)], fill=color)
        draw.text((left + margin, text_bottom - text_height - margin), display_str,
                  fill=color_text, font=font)
    return image


def _hparams_summary(tag, **content):
    """A Summary with one value under `tag` carrying HParamsPluginData(**content)."""
    from tensorboard.plugins.hparams.metadata import PLUGIN_DATA_VERSION, PLUGIN_NAME
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    data = HParamsPluginData(version=PLUGIN_DATA_VERSION, **content)
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name=PLUGIN_NAME, content=data.SerializeToString()))
    return Summary(value=[Summary.Value(tag=tag, metadata=smd)])


def hparams(hparam_dict=None, metric_dict=None, hparam_domain_discrete=None):
    """The hparams plugin's three summaries: Experiment (hparam and metric names, discrete
    domains), SessionStartInfo (the values) and SessionEndInfo (STATUS_SUCCESS)."""
    from tensorboard.plugins.hparams.api_pb2 import (DataType, Experiment, HParamInfo,
                                                     MetricInfo, MetricName, Status)
    from tensorboard.plugins.hparams.metadata import (EXPERIMENT_TAG, SESSION_END_INFO_TAG,
                                                      SESSION_START_INFO_TAG)
    from tensorboard.plugins.hparams.plugin_data_pb2 import SessionEndInfo, SessionStartInfo

    if not isinstance(hparam_dict, dict):
        logger.warning("parameter: hparam_dict should be a dictionary, nothing logged.")
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        logger.warning("parameter: metric_dict should be a dictionary, nothing logged.")
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    hparam_domain_discrete = hparam_domain_discrete or {}
    if not isinstance(hparam_domain_discrete, dict):
        raise TypeError(
            "parameter: hparam_domain_discrete should be a dictionary, nothing logged.")
    for k, v in hparam_domain_discrete.items():
        if (k not in hparam_dict or not isinstance(v, list)
                or not all(isinstance(d, type(hparam_dict[k])) for d in v)):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of "
                            f"same type as hparam_dict[{k}].")

    hps = []
    ssi = SessionStartInfo()
    # checked in PyTorch's order: a bool is an int, so it is logged as a number
    kinds = (((int, float), "number_value", "DATA_TYPE_FLOAT64"),
             (str, "string_value", "DATA_TYPE_STRING"),
             (bool, "bool_value", "DATA_TYPE_BOOL"))
    for k, v in hparam_dict.items():
        if v is None:
            continue
        for types, field, data_type in kinds:
            if isinstance(v, types):
                setattr(ssi.hparams[k], field, v)
                domain = None
                if k in hparam_domain_discrete:
                    domain = struct_pb2.ListValue(values=[
                        struct_pb2.Value(**{field: d}) for d in hparam_domain_discrete[k]])
                hps.append(HParamInfo(name=k, type=DataType.Value(data_type),
                                      domain_discrete=domain))
                break
        else:
            # PyTorch takes tensors' first element; NumPy arrays and scalars too, here
            if not isinstance(v, (Tensor, np.ndarray, np.generic)):
                raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
            ssi.hparams[k].number_value = float(make_np(v).reshape(-1)[0])
            hps.append(HParamInfo(name=k, type=DataType.Value("DATA_TYPE_FLOAT64")))

    ssi = _hparams_summary(SESSION_START_INFO_TAG, session_start_info=ssi)
    mts = [MetricInfo(name=MetricName(tag=k)) for k in metric_dict]
    exp = _hparams_summary(EXPERIMENT_TAG,
                           experiment=Experiment(hparam_infos=hps, metric_infos=mts))
    sei = _hparams_summary(SESSION_END_INFO_TAG, session_end_info=SessionEndInfo(
        status=Status.Value("STATUS_SUCCESS")))
    return exp, ssi, sei


def scalar(name, tensor, collections=None, new_style=False, double_precision=False):
    """One value: simple_value, or with new_style a DT_FLOAT (DT_DOUBLE) tensor under the
    scalars plugin."""
    tensor = make_np(tensor).squeeze()
    if tensor.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). \
            Was given size: {tensor.size} and {tensor.ndim} dimensions.")
    value = float(tensor)   # a Python float: double precision
    if not new_style:
        return Summary(value=[Summary.Value(tag=name, simple_value=value)])
    if double_precision:
        proto = TensorProto(double_val=[value], dtype="DT_DOUBLE")
    else:
        proto = TensorProto(float_val=[value], dtype="DT_FLOAT")
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=name, tensor=proto, metadata=smd)])


def _as_array(tensor):
    """(array, dtype as the caller names it): Python numbers take cgrad's default dtypes."""
    if isinstance(tensor, Tensor):
        return tensor.detach().numpy(), tensor.dtype
    if not isinstance(tensor, np.ndarray):
        from ... import tensor as make_tensor
        return _as_array(make_tensor(tensor))
    return tensor, tensor.dtype


def tensor_proto(tag, tensor):
    """The whole tensor as a TensorProto under the tensor plugin."""
    array, dtype = _as_array(tensor)
    if array.size * array.itemsize >= (1 << 31):
        raise ValueError("tensor is bigger than protocol buffer's hard limit of 2GB in size")
    if array.dtype.name not in _TENSOR_TYPE_MAP:
        raise ValueError(f"{tag} has unsupported tensor dtype {dtype}")
    proto_dtype, field_name, values = _TENSOR_TYPE_MAP[array.dtype.name]
    proto = TensorProto(**{
        "dtype": proto_dtype,
        "tensor_shape": TensorShapeProto(dim=[TensorShapeProto.Dim(size=x) for x in array.shape]),
        field_name: values(array)})
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="tensor"))
    return Summary(value=[Summary.Value(tag=tag, metadata=smd, tensor=proto)])


def histogram_raw(name, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):
    """A histogram from given statistics and buckets (right limits and counts)."""
    hist = HistogramProto(min=min, max=max, num=num, sum=sum, sum_squares=sum_squares,
                          bucket_limit=bucket_limits, bucket=bucket_counts)
    return Summary(value=[Summary.Value(tag=name, histo=hist)])


def histogram(name, values, bins, max_bins=None):
    """A histogram of the values (as float64) over `bins` (np.histogram's argument)."""
    values = make_np(values)
    hist = make_histogram(values.astype(float), bins, max_bins)
    return Summary(value=[Summary.Value(tag=name, histo=hist)])


def make_histogram(values, bins, max_bins=None):
    """np.histogram, buckets merged down to max_bins, then cut to the occupied range with
    one empty bucket on its left (TensorBoard stores right limits only)."""
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    num_bins = len(counts)
    if max_bins is not None and num_bins > max_bins:
        subsampling = num_bins // max_bins
        subsampling_remainder = num_bins % subsampling
        if subsampling_remainder != 0:
            counts = np.pad(counts, pad_width=[[0, subsampling - subsampling_remainder]],
                            mode="constant", constant_values=0)
        counts = counts.reshape(-1, subsampling).sum(axis=-1)
        new_limits = np.empty((counts.size + 1,), limits.dtype)
        new_limits[:-1] = limits[:-1:subsampling]
        new_limits[-1] = limits[-1]
        limits = new_limits

    # the first and last occupied bins
    cum_counts = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum_counts, [0, cum_counts[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    if counts.size == 0 or limits.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    return HistogramProto(min=values.min(), max=values.max(), num=len(values),
                          sum=values.sum(), sum_squares=values.dot(values),
                          bucket_limit=limits.tolist(), bucket=counts.tolist())


def image(tag, tensor, rescale=1, dataformats="NCHW"):
    """A PNG image of the tensor in `dataformats`: floats are taken in [0, 1] and uint8 in
    [0, 255], clipped; a batch is laid out as a grid."""
    tensor = convert_to_HWC(make_np(tensor), dataformats)
    scale_factor = _calc_scale_factor(tensor)   # by dtype: values are not inspected
    tensor = (tensor.astype(np.float32) * scale_factor).clip(0, 255).astype(np.uint8)
    return Summary(value=[Summary.Value(tag=tag, image=make_image(tensor, rescale=rescale))])


def image_boxes(tag, tensor_image, tensor_boxes, rescale=1, dataformats="CHW", labels=None):
    """An image with boxes (x1, y1, x2, y2 per row) drawn in red, labels above them."""
    tensor_image = convert_to_HWC(make_np(tensor_image), dataformats)
    tensor_boxes = make_np(tensor_boxes)
    tensor_image = tensor_image.astype(np.float32) * _calc_scale_factor(tensor_image)
    image = make_image(tensor_image.clip(0, 255).astype(np.uint8), rescale=rescale,
                       rois=tensor_boxes, labels=labels)
    return Summary(value=[Summary.Value(tag=tag, image=image)])


def draw_boxes(disp_image, boxes, labels=None):
    for i in range(boxes.shape[0]):
        label = None if labels is None else labels[i]
        disp_image = _draw_single_box(disp_image, boxes[i, 0], boxes[i, 1], boxes[i, 2],
                                      boxes[i, 3], display_str=label, color="Red")
    return disp_image


def make_image(tensor, rescale=1, rois=None, labels=None):
    """An HxWxC uint8 array as a Summary.Image holding its PNG (Pillow)."""
    from PIL import Image

    height, width, channel = tensor.shape
    scaled_height, scaled_width = int(height * rescale), int(width * rescale)
    image = Image.fromarray(tensor)
    if rois is not None:
        image = draw_boxes(image, rois, labels=labels)
    image = image.resize((scaled_width, scaled_height), Image.Resampling.LANCZOS)
    with io.BytesIO() as output:
        image.save(output, format="PNG")
        image_string = output.getvalue()
    return Summary.Image(height=height, width=width, colorspace=channel,
                         encoded_image_string=image_string)


def video(tag, tensor, fps=4):
    tensor = _prepare_video(make_np(tensor))
    scale_factor = _calc_scale_factor(tensor)
    tensor = (tensor.astype(np.float32) * scale_factor).clip(0, 255).astype(np.uint8)
    return Summary(value=[Summary.Value(tag=tag, image=make_video(tensor, fps))])


def make_video(tensor, fps):
    """A GIF of the (time, H, W, C) frames, by moviepy; without it, a message and None, as
    PyTorch does."""
    try:
        import moviepy  # noqa: F401
    except ImportError:
        print("add_video needs package moviepy")
        return None
    try:
        from moviepy import editor as mpy
    except ImportError:
        print("moviepy is installed, but can't import moviepy.editor.",
              "Some packages could be missing [imageio, requests]")
        return None
    import tempfile

    _t, h, w, c = tensor.shape
    clip = mpy.ImageSequenceClip(list(tensor), fps=fps)
    with tempfile.NamedTemporaryFile(suffix=".gif") as f:
        try:   # newer moviepy takes a logger, older ones progress_bar
            clip.write_gif(f.name, verbose=False, logger=None)
        except TypeError:
            try:
                clip.write_gif(f.name, verbose=False, progress_bar=False)
            except TypeError:
                clip.write_gif(f.name, verbose=False)
        f.seek(0)
        tensor_string = f.read()
    return Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=tensor_string)


def audio(tag, tensor, sample_rate=44100):
    """Mono 16-bit WAV of values in [-1, 1] (clipped, with a warning printed)."""
    import wave

    array = make_np(tensor).squeeze()
    if abs(array).max() > 1:
        print("warning: audio amplitude out of range, auto clipped.")
        array = array.clip(-1, 1)
    if array.ndim != 1:
        raise AssertionError("input tensor should be 1 dimensional.")
    array = (array * np.iinfo(np.int16).max).astype("<i2")
    with io.BytesIO() as fio:
        with wave.open(fio, "wb") as wave_write:
            wave_write.setnchannels(1)
            wave_write.setsampwidth(2)
            wave_write.setframerate(sample_rate)
            wave_write.writeframes(array.data)
        audio_string = fio.getvalue()
    audio = Summary.Audio(sample_rate=sample_rate, num_channels=1, length_frames=array.shape[-1],
                          encoded_audio_string=audio_string, content_type="audio/wav")
    return Summary(value=[Summary.Value(tag=tag, audio=audio)])


def custom_scalars(layout):
    """The custom-scalars plugin's Layout: {category: {chart: [kind, tags]}}, kind
    "Multiline" or "Margin" (three tags: value, lower, upper)."""
    categories = []
    for k, v in layout.items():
        charts = []
        for chart_name, chart_metadata in v.items():
            tags = chart_metadata[1]
            if chart_metadata[0] == "Margin":
                if len(tags) != 3:
                    raise AssertionError("len(tags) != 3")
                mgcc = layout_pb2.MarginChartContent(series=[
                    layout_pb2.MarginChartContent.Series(value=tags[0], lower=tags[1],
                                                         upper=tags[2])])
                chart = layout_pb2.Chart(title=chart_name, margin=mgcc)
            else:
                mlcc = layout_pb2.MultilineChartContent(tag=tags)
                chart = layout_pb2.Chart(title=chart_name, multiline=mlcc)
            charts.append(chart)
        categories.append(layout_pb2.Category(title=k, chart=charts))
    layout = layout_pb2.Layout(category=categories)
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="custom_scalars"))
    tensor = TensorProto(dtype="DT_STRING", string_val=[layout.SerializeToString()],
                         tensor_shape=TensorShapeProto())
    return Summary(value=[Summary.Value(tag="custom_scalars__config__", tensor=tensor,
                                        metadata=smd)])


def text(tag, text):
    """A UTF-8 string under the text plugin, tagged `<tag>/text_summary`."""
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="text", content=TextPluginData(version=0).SerializeToString()))
    tensor = TensorProto(dtype="DT_STRING", string_val=[text.encode(encoding="utf_8")],
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=smd, tensor=tensor)])


def _pr_curve_summary(tag, data, num_thresholds):
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="pr_curves",
        content=PrCurvePluginData(version=0, num_thresholds=num_thresholds).SerializeToString()))
    tensor = TensorProto(dtype="DT_FLOAT", float_val=data.reshape(-1).tolist(),
                         tensor_shape=TensorShapeProto(dim=[
                             TensorShapeProto.Dim(size=data.shape[0]),
                             TensorShapeProto.Dim(size=data.shape[1])]))
    return Summary(value=[Summary.Value(tag=tag, metadata=smd, tensor=tensor)])


def pr_curve_raw(tag, tp, fp, tn, fn, precision, recall, num_thresholds=127, weights=None):
    """A PR curve from its six rows of counts and ratios."""
    num_thresholds = min(num_thresholds, 127)   # PyTorch's cap: more breaks the protobuf
    data = np.stack([make_np(x) if isinstance(x, Tensor) else x
                     for x in (tp, fp, tn, fn, precision, recall)])
    return _pr_curve_summary(tag, data, num_thresholds)


def pr_curve(tag, labels, predictions, num_thresholds=127, weights=None):
    """A PR curve of binary labels against predicted probabilities."""
    num_thresholds = min(num_thresholds, 127)
    data = compute_curve(labels, predictions, num_thresholds=num_thresholds, weights=weights)
    return _pr_curve_summary(tag, data, num_thresholds)


def compute_curve(labels, predictions, num_thresholds=None, weights=None):
    """TensorBoard's pr_curve computation: counts at num_thresholds evenly spaced
    thresholds, then precision and recall (a count floor of 1e-7 avoids 0/0)."""
    _MINIMUM_COUNT = 1e-7
    if weights is None:
        weights = 1.0
    bucket_indices = np.int32(np.floor(predictions * (num_thresholds - 1)))
    float_labels = labels.astype(np.float64)
    histogram_range = (0, num_thresholds - 1)
    tp_buckets, _ = np.histogram(bucket_indices, bins=num_thresholds, range=histogram_range,
                                 weights=float_labels * weights)
    fp_buckets, _ = np.histogram(bucket_indices, bins=num_thresholds, range=histogram_range,
                                 weights=(1.0 - float_labels) * weights)
    tp = np.cumsum(tp_buckets[::-1])[::-1]   # reverse cumulative sums
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(_MINIMUM_COUNT, tp + fp)
    recall = tp / np.maximum(_MINIMUM_COUNT, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))


def _get_tensor_summary(name, display_name, description, tensor, content_type, components,
                        json_config):
    """One mesh component (B, N, 3) as a float tensor with the mesh plugin's metadata."""
    from tensorboard.plugins.mesh import metadata

    tensor = make_np(tensor) if isinstance(tensor, Tensor) else np.asarray(tensor)
    tensor_metadata = metadata.create_summary_metadata(
        name, display_name, content_type, components, tensor.shape, description,
        json_config=json_config)
    proto = TensorProto(dtype="DT_FLOAT", float_val=tensor.reshape(-1).tolist(),
                        tensor_shape=TensorShapeProto(dim=[
                            TensorShapeProto.Dim(size=tensor.shape[0]),
                            TensorShapeProto.Dim(size=tensor.shape[1]),
                            TensorShapeProto.Dim(size=tensor.shape[2])]))
    return Summary.Value(tag=metadata.get_instance_name(name, content_type), tensor=proto,
                         metadata=tensor_metadata)


def _get_json_config(config_dict):
    return "{}" if config_dict is None else json.dumps(config_dict, sort_keys=True)


def mesh(tag, vertices, colors, faces, config_dict, display_name=None, description=None):
    """A mesh or point cloud: vertices, faces and colors (each (B, N, 3), the last two
    optional) as the mesh plugin's summaries."""
    from tensorboard.plugins.mesh import metadata
    from tensorboard.plugins.mesh.plugin_data_pb2 import MeshPluginData

    json_config = _get_json_config(config_dict)
    tensors = [(vertices, MeshPluginData.VERTEX), (faces, MeshPluginData.FACE),
               (colors, MeshPluginData.COLOR)]
    tensors = [tensor for tensor in tensors if tensor[0] is not None]
    components = metadata.get_components_bitmask([content_type for _, content_type in tensors])
    return Summary(value=[
        _get_tensor_summary(tag, display_name, description, tensor, content_type, components,
                            json_config)
        for tensor, content_type in tensors])
