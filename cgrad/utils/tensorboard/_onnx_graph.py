"""An ONNX file's graph as a TensorBoard GraphDef, as PyTorch reads it (needs onnx): the
inputs and outputs as Variable nodes with dtype and shape, then each op named after its first
output, its attributes joined into one string."""
from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef


def load_onnx_graph(fname):
    import onnx
    return parse(onnx.load(fname).graph)


def parse(graph):
    nodes = []
    for node in list(graph.input) + list(graph.output):
        print(node.name)   # PyTorch prints each name
        shapeproto = TensorShapeProto(dim=[TensorShapeProto.Dim(size=d.dim_value)
                                           for d in node.type.tensor_type.shape.dim])
        nodes.append(NodeDef(name=node.name.encode(encoding="utf_8"), op="Variable", input=[],
                             attr={"dtype": AttrValue(type=node.type.tensor_type.elem_type),
                                   "shape": AttrValue(shape=shapeproto)}))
    for node in graph.node:
        attr = ", ".join(" = ".join(str(f[1]) for f in s.ListFields()) for s in node.attribute)
        print(node.output[0])
        nodes.append(NodeDef(name=node.output[0].encode(encoding="utf_8"), op=node.op_type,
                             input=node.input,
                             attr={"parameters": AttrValue(s=attr.encode(encoding="utf_8"))}))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))
