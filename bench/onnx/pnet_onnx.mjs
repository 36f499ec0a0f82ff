// facekit's MTCNN P-Net as an ONNX model, written from facekit's own model file
// (models/mtcnn.safetensors, docs/model-format.md) for make bench's ONNX Runtime peer.
//
//   node bench/onnx/pnet_onnx.mjs models/mtcnn.safetensors out/bench/onnx/pnet.onnx
//
// The graph computes what facekit's FP32 P-Net computes (buildNet() in src/models/mtcnn/mtcnn_nets.cpp):
//   conv1 3x3 (3->10) PRelu, MaxPool 2x2/2 with ceil rounding (as Caffe), conv2 3x3 (10->16) PRelu,
//   conv3 3x3 (16->32) PRelu, then the two 1x1 heads fused into one convolution (32->6, as facekit
//   fuses them): channels 0-1 the face/non-face logits (raw, no softmax: facekit takes the softmax
//   of the two itself), channels 2-5 the box regression.
// Input "input": float32 NCHW [1, 3, H, W], RGB normalised as facekit does ((v - 127.5) / 128), H
// and W symbolic ("H", "W"; a session may fix them with freeDimensionOverrides). Output "heads":
// [1, 6, H', W']. The model file's orientation is "natural", so no transposes are needed.
// facekit's tensors: conv weights OHWI, 1x1 head weights [out, 1, 1, in], PReLU slopes [C];
// ONNX wants conv weights OIHW and slopes broadcastable over NCHW ([C, 1, 1]).
import fs from 'node:fs';
import path from 'node:path';
import protoPkg from 'onnx-proto';

const { onnx } = protoPkg;

// A facekit model file: u64 header size, JSON header, little-endian float32 data.
export function readSafetensors(file) {
  const bytes = fs.readFileSync(file);
  if (bytes.length < 8) throw new Error(`${file}: too short to be a facekit model`);
  const n = Number(bytes.readBigUInt64LE(0));
  if (n < 2 || 8 + n > bytes.length) throw new Error(`${file}: header size ${n} does not fit the file`);
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const data = bytes.subarray(8 + n);
  const tensors = new Map();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (v.dtype !== 'F32') throw new Error(`${file}: tensor ${name} has dtype ${v.dtype}, expected F32`);
    const [b, e] = v.data_offsets;
    const count = v.shape.reduce((a, d) => a * d, 1);
    if (e - b !== count * 4 || e > data.length) throw new Error(`${file}: tensor ${name}: bad data_offsets`);
    const f = new Float32Array(count);
    for (let i = 0; i < count; ++i) f[i] = data.readFloatLE(b + 4 * i);
    tensors.set(name, { shape: v.shape, data: f });
  }
  return { metadata: header.__metadata__ || {}, tensors };
}

function get(model, name, shape) {
  const t = model.tensors.get(name);
  if (!t) throw new Error(`model file: missing tensor '${name}'`);
  if (JSON.stringify(t.shape) !== JSON.stringify(shape))
    throw new Error(`model file: tensor '${name}' has shape [${t.shape}], expected [${shape}]`);
  return t.data;
}

// OHWI -> OIHW.
function ohwiToOihw(w, o, h, wd, i) {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; ++a)
    for (let y = 0; y < h; ++y)
      for (let x = 0; x < wd; ++x)
        for (let c = 0; c < i; ++c) out[((a * i + c) * h + y) * wd + x] = w[((a * h + y) * wd + x) * i + c];
  return out;
}

function initializer(name, dims, values) {
  const raw = Buffer.alloc(values.length * 4);
  values.forEach((v, k) => raw.writeFloatLE(v, 4 * k));
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
}

const ints = (name, v) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
const int = (name, v) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
const node = (opType, input, output, attribute = []) => onnx.NodeProto.create({ opType, input, output, name: output[0], attribute });

function valueInfo(name, dims) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
}

// The serialized ONNX model (opset 13) of the P-Net in `model` (readSafetensors()).
export function pnetOnnx(model) {
  if ((model.metadata.orientation || 'natural') !== 'natural')
    throw new Error(`model file orientation '${model.metadata.orientation}': only 'natural' models are converted`);
  const nodes = [], inits = [];
  let x = 'input';
  const conv = (name, o, k, i) => {
    const w = get(model, `pnet.${name}.weight`, [o, k, k, i]);
    inits.push(initializer(`${name}.weight`, [o, i, k, k], ohwiToOihw(w, o, k, k, i)));
    inits.push(initializer(`${name}.bias`, [o], get(model, `pnet.${name}.bias`, [o])));
    nodes.push(node('Conv', [x, `${name}.weight`, `${name}.bias`], [name], [ints('kernel_shape', [k, k]), ints('strides', [1, 1])]));
    x = name;
  };
  const prelu = (name, c) => {
    inits.push(initializer(`${name}.slope`, [c, 1, 1], get(model, `pnet.${name}.slope`, [c])));
    nodes.push(node('PRelu', [x, `${name}.slope`], [name]));
    x = name;
  };
  conv('conv1', 10, 3, 3), prelu('prelu1', 10);
  nodes.push(node('MaxPool', [x], ['pool1'], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2]), int('ceil_mode', 1)]));
  x = 'pool1';
  conv('conv2', 16, 3, 10), prelu('prelu2', 16);
  conv('conv3', 32, 3, 16), prelu('prelu3', 32);
  // The heads, fused: [conv4_1 (2); conv4_2 (4)] as one 1x1 convolution, as facekit runs them.
  const w = [...get(model, 'pnet.conv4_1.weight', [2, 1, 1, 32]), ...get(model, 'pnet.conv4_2.weight', [4, 1, 1, 32])];
  const b = [...get(model, 'pnet.conv4_1.bias', [2]), ...get(model, 'pnet.conv4_2.bias', [4])];
  inits.push(initializer('heads.weight', [6, 32, 1, 1], w), initializer('heads.bias', [6], b));
  nodes.push(node('Conv', [x, 'heads.weight', 'heads.bias'], ['heads'], [ints('kernel_shape', [1, 1]), ints('strides', [1, 1])]));

  const m = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'facekit bench/onnx/pnet_onnx.mjs',
    docString: 'MTCNN P-Net from facekit models/mtcnn.safetensors; output heads: [face/non-face logits (2), box regression (4)]',
    graph: {
      name: 'mtcnn_pnet',
      node: nodes,
      initializer: inits,
      input: [valueInfo('input', [1, 3, 'H', 'W'])],
      output: [valueInfo('heads', [1, 6, 'OH', 'OW'])],
    },
  });
  return onnx.ModelProto.encode(m).finish();
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const [src, dst] = process.argv.slice(2);
  if (!src || !dst) {
    console.error('usage: node pnet_onnx.mjs MODEL.safetensors OUT.onnx');
    process.exit(2);
  }
  fs.mkdirSync(path.dirname(path.resolve(dst)), { recursive: true });
  fs.writeFileSync(dst, pnetOnnx(readSafetensors(src)));
  console.log(`wrote ${dst}`);
}
